import assert from "node:assert/strict";
import { eventLoopUsage } from "../../src/infrastructure/edge_runtime/worker_usage.ts";

Deno.test("eventLoopUsage() counts the time JavaScript blocked the event loop, and only while measured", async () => {
  const usage = eventLoopUsage(5, 2);
  const block = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until) { /* busy */ }
  };
  block(30);
  assert.equal(usage.cpuMs(), 0, "nothing is counted before anyone measures");
  usage.measure(true);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 10));
  for (let i = 0; i < 4; i++) {
    block(30);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  usage.measure(false);
  const measuredMs = performance.now() - started;
  const counted = usage.cpuMs();
  assert.ok(counted > 0, "blocking while measured is counted");
  assert.ok(counted <= measuredMs, `counted ${counted} ms in ${measuredMs} ms`);
  block(30);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(usage.cpuMs(), counted, "nothing is counted once no one measures");
});
