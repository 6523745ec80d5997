import assert from "node:assert/strict";
import { EdgeRuntimeLifecycle } from "../../src/infrastructure/edge_runtime/edge_runtime_lifecycle.ts";
import { WorkerStoppingError } from "../../src/domain/worker_stop.ts";

/** A worker's surroundings the test moves by hand: clock, CPU used, memory. */
function worker(options: { wallClockMs?: number; cpuTimeMs?: number } = {}) {
  const state = { now: 1_000_000, cpu: 50, rss: 90 };
  const events = new EventTarget();
  const lifecycle = new EdgeRuntimeLifecycle({
    limits: { wallClockMs: options.wallClockMs ?? 400_000, cpuTimeMs: options.cpuTimeMs ?? 2_000 },
    usage: { cpuMs: () => state.cpu, rssMb: () => state.rss, measure: () => {} },
    startedAt: state.now,
    now: () => state.now,
    events,
    pollMs: 5,
  });
  return { state, events, lifecycle };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

Deno.test("EdgeRuntimeLifecycle aborts a run's watch with the reason beforeunload carries", () => {
  const { events, lifecycle } = worker();
  const watch = lifecycle.watch();
  try {
    events.dispatchEvent(new CustomEvent("beforeunload", { detail: { reason: "CPUTime" } }));
    assert.ok(watch.signal.reason instanceof WorkerStoppingError);
    assert.equal(watch.signal.reason.reason, "cpu_time");
    assert.equal(watch.cost().stopReason, "cpu_time");
  } finally {
    watch.dispose();
  }
});

Deno.test("EdgeRuntimeLifecycle: a run that starts after beforeunload starts stopped; an unknown reason is a shutdown", () => {
  const { events, lifecycle } = worker();
  events.dispatchEvent(new Event("beforeunload"));
  const watch = lifecycle.watch();
  try {
    assert.equal(watch.signal.aborted, true);
    assert.equal((watch.signal.reason as WorkerStoppingError).reason, "shutdown");
  } finally {
    watch.dispose();
  }
});

Deno.test("EdgeRuntimeLifecycle stops a run at 90% of the worker's wall clock, by its own account", async () => {
  const { state, lifecycle } = worker({ wallClockMs: 15_000 });
  const watch = lifecycle.watch();
  try {
    assert.equal(watch.wallClockLeftMs(), 13_500);
    state.now += 13_000;
    await tick();
    assert.equal(watch.signal.aborted, false);
    state.now += 600;
    await tick();
    assert.equal((watch.signal.reason as WorkerStoppingError).reason, "wall_clock");
  } finally {
    watch.dispose();
  }
});

Deno.test("EdgeRuntimeLifecycle keeps max(200 ms, 20%) of the CPU for the run's end, counting from the worker's boot", async () => {
  const { state, lifecycle } = worker({ cpuTimeMs: 1_000 });
  const watch = lifecycle.watch();
  try {
    assert.equal(watch.cpuLeftMs(), 800, "the boot's 50 ms do not count");
    state.cpu += 700;
    state.rss = 130;
    await tick();
    assert.equal(watch.signal.aborted, false);
    state.cpu += 100;
    await tick();
    assert.equal((watch.signal.reason as WorkerStoppingError).reason, "cpu_time");
    assert.deepEqual(watch.cost(), { cpuMs: 800, peakRssMb: 130, stopReason: "cpu_time" });
  } finally {
    watch.dispose();
  }
});
