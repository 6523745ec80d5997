import assert from "node:assert/strict";
import { JobCancelledError } from "../../src/domain/errors.ts";
import { WorkRemains } from "../../src/domain/job.ts";
import { ManualClock } from "../support/fakes.ts";
import { fakeScheduler } from "../support/scheduler_mother.ts";

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** A job that waits for its signal, then stops the way it was asked to. */
function stopsWhenAsked(onAbort: (signal: AbortSignal) => unknown) {
  const reasons: unknown[] = [];
  const handler = (_payload: unknown, context: { signal: AbortSignal }) =>
    new Promise<never>((_resolve, reject) => {
      context.signal.addEventListener("abort", () => {
        reasons.push(context.signal.reason);
        try {
          const value = onAbort(context.signal);
          // A job that returns work left after the cancel: no next part may follow.
          if (value !== undefined) (_resolve as (v: unknown) => void)(value);
          else reject(context.signal.reason);
        } catch (error) {
          reject(error);
        }
      });
    });
  return { handler, reasons };
}

Deno.test("RunJob aborts the job's signal when a heartbeat learns of a cancel, and records the run cancelled", async () => {
  const job = stopsWhenAsked(() => undefined);
  const s = fakeScheduler({
    clock: new ManualClock(),
    settings: { leaseTtlMs: 30, budgetMs: 5_000 },
    jobs: { long: job.handler },
  });
  const started = await s.runJob.start({ jobName: "long", dispatchId: null, payload: {} });
  assert.equal(started.kind, "started");
  if (started.kind !== "started") return;
  s.lock.cancelRequested.add(started.record.executionId);
  const record = await started.completion;
  assert.equal(record.status, "cancelled");
  assert.equal(
    record.errorMessage,
    "Cancelled by an operator; the job stopped at its next safe point",
  );
  assert.ok(job.reasons[0] instanceof JobCancelledError);
  assert.deepEqual(s.lock.held(), [], "the lease is released once the job stopped");
  assert.ok(s.logger.lines.some((l) => l.event === "job.cancel_requested"));
});

Deno.test("A cancelled run that returns work left ends cancelled, not partial", async () => {
  const job = stopsWhenAsked(() => new WorkRemains({ done: 3 }));
  const s = fakeScheduler({
    clock: new ManualClock(),
    settings: { leaseTtlMs: 30 },
    jobs: { long: job.handler },
  });
  const started = await s.runJob.start({ jobName: "long", dispatchId: null, payload: {} });
  if (started.kind !== "started") throw new Error(started.kind);
  s.lock.cancelRequested.add(started.record.executionId);
  const record = await started.completion;
  assert.deepEqual([record.status, record.summary], ["cancelled", { done: 3 }]);
});

Deno.test("A job that ignores a cancel is stopped at its budget and recorded cancelled", async () => {
  let finish!: () => void;
  const s = fakeScheduler({
    clock: new ManualClock(),
    settings: { leaseTtlMs: 30, budgetMs: 120, abortGraceMs: 10, leaseGraceMs: 50 },
    jobs: { stubborn: () => new Promise((resolve) => (finish = () => resolve({}))) },
  });
  const started = await s.runJob.start({ jobName: "stubborn", dispatchId: null, payload: {} });
  if (started.kind !== "started") throw new Error(started.kind);
  s.lock.cancelRequested.add(started.record.executionId);
  const record = await started.completion;
  assert.equal(record.status, "cancelled");
  assert.equal(
    record.errorMessage,
    "Cancelled by an operator; the job ignored it and was stopped at its 120 ms budget",
  );
  finish();
  await tick(80);
  assert.deepEqual(s.lock.held(), []);
});

Deno.test("A job that finishes before it notices a cancel keeps its success", async () => {
  const s = fakeScheduler({
    clock: new ManualClock(),
    settings: { leaseTtlMs: 30 },
    jobs: { quick: () => tick(40).then(() => ({ ok: true })) },
  });
  const started = await s.runJob.start({ jobName: "quick", dispatchId: null, payload: {} });
  if (started.kind !== "started") throw new Error(started.kind);
  s.lock.cancelRequested.add(started.record.executionId);
  const record = await started.completion;
  assert.equal(record.status, "succeeded");
});
