import assert from "node:assert/strict";
import { PartialRunError } from "../../src/domain/errors.ts";
import { WorkRemains } from "../../src/domain/job.ts";
import { fakeScheduler, recordingJob } from "../support/scheduler_mother.ts";

Deno.test("RunJob.execute() records running then succeeded, with the handler's summary", async () => {
  const s = fakeScheduler({
    jobs: { nightly: recordingJob(() => Promise.resolve({ n: 1 })).handler },
  });

  const result = await s.runJob.execute({ jobName: "nightly", dispatchId: null, payload: {} });

  assert.equal(result.kind, "completed");
  assert.deepEqual(s.log.saves.map((r) => r.status), ["running", "succeeded"]);
  assert.deepEqual(s.log.saves[1].summary, { n: 1 });
  assert.equal(s.log.saves[0].executionId, s.log.saves[1].executionId);
});

Deno.test("RunJob.execute() records failure when the handler throws, keeping only the message", async () => {
  const s = fakeScheduler({
    jobs: { broken: recordingJob(() => Promise.reject(new TypeError("x is undefined"))).handler },
  });

  const result = await s.runJob.execute({ jobName: "broken", dispatchId: null, payload: {} });

  assert.equal(result.kind, "completed");
  const [record] = s.log.records();
  assert.equal(record.status, "failed");
  assert.equal(record.errorMessage, "x is undefined");
  assert.ok(s.logger.lines.some((l) => l.event === "job.failed" && l.fields.execution_id));
});

Deno.test("RunJob.execute() records a non-Error throw as failed", async () => {
  const s = fakeScheduler({ jobs: { odd: () => Promise.reject("plain string") } });
  await s.runJob.execute({ jobName: "odd", dispatchId: null, payload: {} });
  assert.equal(s.log.records()[0].errorMessage, "plain string");
});

Deno.test("RunJob.execute() cuts very long error messages", async () => {
  const s = fakeScheduler({ jobs: { loud: () => Promise.reject(new Error("e".repeat(10_000))) } });
  await s.runJob.execute({ jobName: "loud", dispatchId: null, payload: {} });
  assert.equal(s.log.records()[0].errorMessage!.length, 2000);
});

Deno.test("RunJob.execute() records timed_out and aborts the signal when the budget runs out", async () => {
  let signal: AbortSignal | undefined;
  const s = fakeScheduler({
    settings: { budgetMs: 20, leaseGraceMs: 30 },
    jobs: {
      // Never settles: RunJob must not wait for a handler that ignores its signal.
      stuck: (_payload, context) => {
        signal = context.signal;
        return new Promise(() => {});
      },
    },
  });

  const result = await s.runJob.execute({ jobName: "stuck", dispatchId: null, payload: {} });

  assert.equal(result.kind, "completed");
  const [record] = s.log.records();
  assert.equal(record.status, "timed_out");
  assert.equal(record.errorMessage, "Job 'stuck' did not finish within its 20 ms budget");
  assert.equal(signal?.aborted, true);
  assert.equal(s.lock.held().length, 1, "a handler still running keeps the lease");
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(s.lock.held(), [], "for at most its lease grace");
});

Deno.test("RunJob.execute() releases a timed-out run's lease only once its handler really stops", async () => {
  let finish!: () => void;
  const s = fakeScheduler({
    settings: { budgetMs: 10, abortGraceMs: 10, leaseGraceMs: 60_000 },
    jobs: { stubborn: () => new Promise<void>((resolve) => (finish = resolve)) },
  });
  await s.runJob.execute({ jobName: "stubborn", dispatchId: null, payload: {} });
  assert.equal(s.log.records()[0].status, "timed_out");
  const second = await s.runJob.execute({ jobName: "stubborn", dispatchId: null, payload: {} });
  assert.equal(second.kind, "skipped", "no second run starts beside the first");
  finish();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(s.lock.held(), []);
});

Deno.test("RunJob.execute() retries the final write through a blip and keeps the run's real end", async () => {
  const s = fakeScheduler({ jobs: { heartbeat: recordingJob().handler } });
  const finish = s.lock.finish.bind(s.lock);
  const ends: (Date | null)[] = [];
  s.lock.finish = (record, options) => {
    ends.push(record.finishedAt);
    return ends.length < 3 ? Promise.reject(new Error("PostgREST down")) : finish(record, options);
  };
  const result = await s.runJob.execute({ jobName: "heartbeat", dispatchId: null, payload: {} });
  assert.equal(result.kind, "completed");
  const [record] = s.log.records();
  assert.equal(record.status, "succeeded");
  assert.equal(ends.length, 3);
  assert.ok(ends.every((end) => end?.getTime() === record.finishedAt?.getTime()));
  assert.deepEqual(s.lock.held(), []);
  assert.equal(s.logger.lines.filter((l) => l.event === "job.final_write_retry").length, 2);
});

Deno.test("RunJob.execute() records the summary a failing job attaches with PartialRunError", async () => {
  const s = fakeScheduler({
    jobs: {
      halfway: () =>
        Promise.reject(new PartialRunError({ batches: 2 }, new Error("batch 3 failed"))),
    },
  });
  await s.runJob.execute({ jobName: "halfway", dispatchId: null, payload: {} });
  const [record] = s.log.records();
  assert.deepEqual([record.status, record.errorMessage], ["failed", "batch 3 failed"]);
  assert.deepEqual(record.summary, { batches: 2 });
});

Deno.test("RunJob.execute() records timed_out when a handler rejects because its signal aborted", async () => {
  const s = fakeScheduler({
    settings: { budgetMs: 10 },
    jobs: {
      polite: (_payload, context) =>
        new Promise((_resolve, reject) =>
          context.signal.addEventListener("abort", () => reject(context.signal.reason))
        ),
    },
  });
  await s.runJob.execute({ jobName: "polite", dispatchId: null, payload: {} });
  assert.equal(s.log.records()[0].status, "timed_out");
});

Deno.test("RunJob.execute() leases the job for the lease TTL from its start, not for its whole budget", async () => {
  let leaseSeen: Date | undefined;
  const s = fakeScheduler({
    settings: { budgetMs: 120_000, leaseTtlMs: 6_000 },
    jobs: {
      peek: (_payload, _context) => {
        leaseSeen = s.lock.leases.get("peek")?.expiresAt;
        return Promise.resolve();
      },
    },
  });
  await s.runJob.execute({ jobName: "peek", dispatchId: null, payload: {} });
  const record = s.log.records()[0];
  assert.equal(leaseSeen?.getTime(), record.startedAt.getTime() + 6_000);
});

Deno.test("RunJob.execute() takes over a lapsed lease", async () => {
  const s = fakeScheduler({ jobs: { heartbeat: recordingJob().handler } });
  s.lock.leases.set("heartbeat", {
    owner: "dead-run",
    expiresAt: new Date("2000-01-01T00:00:00Z"),
    releasedAt: null,
  });
  const result = await s.runJob.execute({ jobName: "heartbeat", dispatchId: null, payload: {} });
  assert.equal(result.kind, "completed");
  assert.equal(result.kind === "completed" && result.record.status, "succeeded");
});

Deno.test("RunJob.execute() gives each job its own lease, so different jobs run side by side", async () => {
  let release!: () => void;
  const s = fakeScheduler({
    jobs: {
      a: () => new Promise((resolve) => (release = () => resolve())),
      b: () => Promise.resolve({}),
    },
  });
  const a = s.runJob.execute({ jobName: "a", dispatchId: null, payload: {} });
  await new Promise((resolve) => setTimeout(resolve, 0));
  const b = await s.runJob.execute({ jobName: "b", dispatchId: null, payload: {} });
  release();
  await a;
  assert.equal(b.kind, "completed");
  assert.deepEqual(s.log.records().map((r) => r.status), ["succeeded", "succeeded"]);
});

Deno.test("RunJob.execute() passes the handler its execution id, trigger, deadline and a logger carrying the execution id", async () => {
  const s = fakeScheduler({
    settings: { budgetMs: 3_000 },
    jobs: {
      inspect: (_payload, context) => {
        context.logger.info("inspect.hello");
        return Promise.resolve({
          id: context.executionId,
          trigger: context.trigger,
          deadline: context.deadline.toISOString(),
        });
      },
    },
  });
  await s.runJob.execute({
    jobName: "inspect",
    dispatchId: s.lock.dispatch("inspect"),
    payload: {},
  });
  const record = s.log.records()[0];
  assert.deepEqual(record.summary, {
    id: record.executionId,
    trigger: "cron",
    deadline: new Date(record.startedAt.getTime() + 3_000).toISOString(),
  });
  const hello = s.logger.lines.find((l) => l.event === "inspect.hello");
  assert.equal(hello?.fields.execution_id, record.executionId);
  assert.equal(hello?.fields.job_name, "inspect");
});

Deno.test("RunJob.execute() keeps the summary of a job that stops when its budget runs out", async () => {
  const s = fakeScheduler({
    settings: { budgetMs: 10, abortGraceMs: 1_000 },
    jobs: {
      batches: (_payload, context) =>
        new Promise((resolve) =>
          context.signal.addEventListener("abort", () => resolve({ batches: 3, complete: false }))
        ),
    },
  });
  await s.runJob.execute({ jobName: "batches", dispatchId: null, payload: {} });
  const [record] = s.log.records();
  assert.equal(record.status, "timed_out");
  assert.deepEqual(record.summary, { batches: 3, complete: false });
});

Deno.test("RunJob.execute() records a handler that throws synchronously as failed", async () => {
  const s = fakeScheduler({
    jobs: {
      eager: () => {
        throw new RangeError("bad input");
      },
    },
  });
  await s.runJob.execute({ jobName: "eager", dispatchId: null, payload: {} });
  const [record] = s.log.records();
  assert.deepEqual([record.status, record.errorMessage], ["failed", "bad input"]);
  assert.deepEqual(s.lock.held(), []);
});

Deno.test("RunJob.execute() records partial, with the summary, when the job stops with work left", async () => {
  const s = fakeScheduler({
    jobs: { long: () => Promise.resolve(new WorkRemains({ done: 40, complete: false })) },
  });

  await s.runJob.execute({ jobName: "long", dispatchId: null, payload: {} });

  const [record] = s.log.records();
  assert.equal(record.status, "partial");
  assert.equal(record.errorMessage, null);
  assert.deepEqual(record.summary, { done: 40, complete: false });
  assert.ok(s.logger.lines.some((l) => l.event === "job.partial"));
});
