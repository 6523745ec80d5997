import assert from "node:assert/strict";
import { edgeLimits, verdict } from "../../local/edge_limits.ts";
import { LogGate } from "../../local/log_gate.ts";

const limits = edgeLimits(() => undefined);

Deno.test("edgeLimits() defaults to the hosted paid plan and reads EDGE_RUNTIME_*", () => {
  assert.deepEqual(
    [limits.wallClockMs, limits.cpuTimeMs, limits.memoryMb, limits.requestIdleTimeoutMs],
    [400_000, 2_000, 256, 150_000],
  );
  const set = edgeLimits((name) => name === "EDGE_RUNTIME_CPU_TIME_MS" ? "1000" : undefined);
  assert.equal(set.cpuTimeMs, 1_000);
  assert.throws(
    () => edgeLimits((name) => name === "EDGE_RUNTIME_MEMORY_MB" ? "lots" : undefined),
    /EDGE_RUNTIME_MEMORY_MB must be a positive integer, got 'lots'/,
  );
});

Deno.test("verdict(): retire at half the wall clock or CPU, beforeunload at 90%, terminate at the limit", () => {
  const at = (ageMs: number, cpuMs: number, rssMb = 100) =>
    verdict(limits, { ageMs, cpuMs, rssMb });
  assert.deepEqual(at(10_000, 100), { retire: false, warn: null, terminate: null });
  assert.deepEqual(at(200_000, 100), { retire: true, warn: null, terminate: null });
  assert.deepEqual(at(10_000, 1_000), { retire: true, warn: null, terminate: null });
  assert.deepEqual(at(360_000, 100), { retire: true, warn: "WallClockTime", terminate: null });
  assert.deepEqual(at(10_000, 1_800), { retire: true, warn: "CPUTime", terminate: null });
  assert.deepEqual(at(10_000, 100, 231), { retire: true, warn: "Memory", terminate: null });
  assert.equal(at(10_000, 2_000).terminate, "CPUTime");
  assert.equal(at(400_000, 0).terminate, "WallClockTime");
  assert.equal(at(0, 0, 256).terminate, "Memory");
});

Deno.test("LogGate keeps 100 events per 10 s window, drops and counts the rest, and cuts long lines", () => {
  const written: string[] = [];
  const gate = new LogGate({ perWindow: 3, windowMs: 60_000, maxChars: 5 }, (l) => written.push(l));
  for (const line of ["a", "b", "cccccccc", "d", "e"]) gate.event(line);
  assert.deepEqual(written, ["a", "b", "ccccc"]);
  assert.equal(gate.droppedTotal, 2);
});
