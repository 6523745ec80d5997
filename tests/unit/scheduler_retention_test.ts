import assert from "node:assert/strict";
import type {
  RetentionStore,
  RetentionTarget,
} from "../../src/application/ports/retention_store.ts";
import { InvalidPayloadError, PartialRunError } from "../../src/domain/errors.ts";
import { schedulerRetention } from "../../src/jobs/scheduler_retention.ts";
import { type JobContext, type JobPayload, jobSummary } from "../../src/domain/job.ts";

/** The job, answering with its summary whether it finished or stopped with work left. */
function purge(...args: Parameters<typeof schedulerRetention>) {
  const job = schedulerRetention(...args);
  return (payload: JobPayload, context: JobContext) => job(payload, context).then(jobSummary);
}
import { ManualClock, RecordingLogger } from "../support/fakes.ts";

/** A store holding a number of purgeable rows per target; records every batch asked for. */
class FakeRetentionStore implements RetentionStore {
  readonly calls: { target: string; now: string; limit: number }[] = [];
  constructor(readonly rows: Record<string, number>, readonly failOn?: string) {}

  targets(): Promise<RetentionTarget[]> {
    return Promise.resolve(Object.keys(this.rows).map((target) => ({ target, keepDays: 90 })));
  }

  purgeBatch(target: string, now: Date, limit: number): Promise<number> {
    this.calls.push({ target, now: now.toISOString(), limit });
    if (target === this.failOn) return Promise.reject(new Error("database went away"));
    const n = Math.min(limit, this.rows[target]);
    this.rows[target] -= n;
    return Promise.resolve(n);
  }
}

function context(clock = new ManualClock(), signal = new AbortController().signal): JobContext {
  return {
    executionId: "e1",
    jobName: "scheduler_retention",
    trigger: "cron",
    signal,
    deadline: new Date(clock.now().getTime() + 120_000),
    clock,
    logger: new RecordingLogger(),
  };
}

Deno.test("scheduler_retention purges every target in bounded batches at one instant", async () => {
  const store = new FakeRetentionStore({ "a": 250, "b": 0 });
  const summary = await purge(store)({ batch_size: 100 }, context());
  assert.deepEqual(summary?.deleted, { a: 250, b: 0 });
  assert.equal(summary?.complete, true);
  // 100 + 100 + 50 for a (the short batch ends it), one empty batch for b.
  assert.deepEqual(store.calls.map((c) => [c.target, c.limit]), [
    ["a", 100],
    ["a", 100],
    ["a", 100],
    ["b", 100],
  ]);
  assert.equal(new Set(store.calls.map((c) => c.now)).size, 1);
});

Deno.test("scheduler_retention asks for one more batch when the last one was exactly full", async () => {
  const store = new FakeRetentionStore({ "a": 200 });
  await purge(store)({ batch_size: 100 }, context());
  assert.equal(store.calls.length, 3);
});

Deno.test("scheduler_retention stops between batches once its signal aborts", async () => {
  const controller = new AbortController();
  const store = new FakeRetentionStore({ "a": 1_000 });
  const original = store.purgeBatch.bind(store);
  store.purgeBatch = (target, now, limit) => {
    controller.abort();
    return original(target, now, limit);
  };
  const summary = await purge(store)(
    { batch_size: 100 },
    context(new ManualClock(), controller.signal),
  );
  assert.equal(store.calls.length, 1);
  assert.equal(summary?.complete, false);
  assert.equal(summary?.stopped_by, "aborted");
});

Deno.test("scheduler_retention keeps how far it got when a batch fails", async () => {
  const store = new FakeRetentionStore({ "a": 10, "b": 10 }, "b");
  await assert.rejects(
    schedulerRetention(store)({}, context()),
    (error: unknown) =>
      error instanceof PartialRunError && error.message === "database went away" &&
      (error.summary.deleted as Record<string, number>).a === 10,
  );
});

for (const payload of [{ batch_size: 0 }, { batch_size: 50_001 }, { batch_size: "5" }, { x: 1 }]) {
  Deno.test(`scheduler_retention refuses the payload ${JSON.stringify(payload)}`, async () => {
    await assert.rejects(
      schedulerRetention(new FakeRetentionStore({}))(payload, context()),
      InvalidPayloadError,
    );
  });
}
