import assert from "node:assert/strict";
import { WorkRemains } from "../../src/domain/job.ts";
import { BatchPacer } from "../../src/domain/batch_pacer.ts";
import { fakeScheduler } from "../support/scheduler_mother.ts";
import { FakeWorkerLifecycle } from "../support/worker_fakes.ts";

const run = (s: ReturnType<typeof fakeScheduler>, jobName: string) =>
  s.runJob.execute({ jobName, dispatchId: null, payload: {} });

Deno.test("RunJob.execute() records failed naming the limit, with its cost, when the platform stops the worker and the job ends on its signal", async () => {
  const lifecycle = new FakeWorkerLifecycle();
  const s = fakeScheduler({
    lifecycle,
    jobs: {
      burn: (_p, context) =>
        new Promise((_resolve, reject) => {
          context.signal.addEventListener("abort", () => reject(context.signal.reason));
          setTimeout(() => lifecycle.stop("cpu_time"), 5);
        }),
    },
  });

  await run(s, "burn");

  const [record] = s.log.records();
  assert.equal(record.status, "failed");
  assert.equal(record.errorMessage, "The Edge Runtime stopped the worker: CPU time");
  assert.deepEqual(record.cost, { cpuMs: 42, peakRssMb: 99, stopReason: "cpu_time" });
  assert.equal(s.lock.leases.get("burn")?.owner, null, "the lease is released, not left to lapse");
  assert.equal(lifecycle.disposed, 1);
});

Deno.test("RunJob.execute() records partial when a batched job stops for the worker's end with work left", async () => {
  const lifecycle = new FakeWorkerLifecycle();
  const s = fakeScheduler({
    lifecycle,
    jobs: {
      batches: async (_p, context) => {
        const pacer = new BatchPacer(context, 0);
        await pacer.run(() => Promise.resolve());
        lifecycle.stop("memory");
        await new Promise((resolve) => setTimeout(resolve, 0));
        const stop = pacer.stopReason();
        return pacer.workRemains(stop) ? new WorkRemains({ stop }) : { stop };
      },
    },
  });

  await run(s, "batches");

  const [record] = s.log.records();
  assert.equal(record.status, "partial");
  assert.deepEqual(record.summary, { stop: "worker_stopping" });
  assert.equal(record.cost?.stopReason, "memory");
});

Deno.test("RunJob.execute() gives the job the worker's wall clock as its deadline when it ends before the budget", async () => {
  let deadline: Date | undefined;
  const s = fakeScheduler({
    lifecycle: new FakeWorkerLifecycle({ wallLeftMs: 2_000 }),
    settings: { budgetMs: 120_000 },
    jobs: {
      plan: (_p, context) => {
        deadline = context.deadline;
        return Promise.resolve({});
      },
    },
  });

  await run(s, "plan");

  const [record] = s.log.records();
  const budgetDeadline = record.startedAt.getTime() + 120_000;
  assert.ok(deadline!.getTime() < budgetDeadline, "the wall clock is the earlier end");
  assert.ok(deadline!.getTime() - record.startedAt.getTime() <= 2_000 + 2 * s.clock.stepMs);
});

Deno.test("RunJob.execute() records a job that ignores the worker's end as failed after the abort grace", async () => {
  const lifecycle = new FakeWorkerLifecycle();
  const s = fakeScheduler({
    lifecycle,
    settings: { abortGraceMs: 10, leaseGraceMs: 20 },
    jobs: {
      deaf: () => {
        setTimeout(() => lifecycle.stop("wall_clock"), 5);
        return new Promise(() => {});
      },
    },
  });

  await run(s, "deaf");

  const [record] = s.log.records();
  assert.equal(record.status, "failed");
  assert.match(record.errorMessage ?? "", /wall clock/);
  assert.equal(s.lock.held().length, 1, "a handler still running keeps the lease");
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(s.lock.held(), [], "for at most its lease grace");
});
