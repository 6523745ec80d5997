// The final write of a run against an outage: retried while the lease beats,
// then for as long as the lease may live, and no longer.
import assert from "node:assert/strict";
import type { Clock } from "../../src/domain/clock.ts";
import { ManualClock } from "../support/fakes.ts";
import { fakeScheduler, recordingJob } from "../support/scheduler_mother.ts";

/** A scheduler on a clock that moves only when the backoff sleeps. */
function outageScheduler(settings: { finalWriteRetryMs: number; leaseTtlMs: number }) {
  const clock = new ManualClock();
  return fakeScheduler({
    clock,
    settings,
    sleep: (ms) => {
      clock.advance(ms);
      return Promise.resolve();
    },
    jobs: { heartbeat: recordingJob().handler },
  });
}

const realClock: Clock = { now: () => new Date() };
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

Deno.test("RunJob.execute() retries the final write while the lease lives, so a 20 s outage keeps the run's real end", async () => {
  const s = outageScheduler({ finalWriteRetryMs: 1_000, leaseTtlMs: 30_000 });
  const end = s.clock.now().getTime();
  const finish = s.lock.finish.bind(s.lock);
  let tries = 0;
  s.lock.finish = (record, options) => {
    tries++;
    return s.clock.now().getTime() < end + 20_000
      ? Promise.reject(new Error("PostgREST down"))
      : finish(record, options);
  };

  const result = await s.runJob.execute({ jobName: "heartbeat", dispatchId: null, payload: {} });

  assert.equal(result.kind, "completed");
  const [record] = s.log.records();
  assert.equal(record.status, "succeeded");
  assert.equal(record.finishedAt?.getTime(), end, "the run's own end, not the write's");
  assert.deepEqual(record.summary, { ok: true });
  assert.deepEqual(s.lock.held(), []);
  assert.ok(tries > 10, `${tries} tries`);
});

Deno.test("RunJob.execute() gives the final write up once the lease it last renewed has lapsed, leaving the row to the dead-run closer", async () => {
  const s = outageScheduler({ finalWriteRetryMs: 1_000, leaseTtlMs: 30_000 });
  const start = s.clock.now().getTime();
  let lastTry = 0;
  s.lock.finish = () => {
    lastTry = s.clock.now().getTime();
    return Promise.reject(new Error("PostgREST down"));
  };

  await assert.rejects(
    s.runJob.execute({ jobName: "heartbeat", dispatchId: null, payload: {} }),
    /PostgREST down/,
  );

  assert.equal(s.log.records()[0].status, "running");
  assert.equal(s.lock.held().length, 1, "the lease is left to lapse");
  assert.ok(lastTry <= start + 30_000, "no try after the lease lapsed");
  assert.ok(lastTry > start + 30_000 - 2_100, "tries until the last backoff step before it");
  assert.ok(s.logger.lines.some((l) => l.event === "job.final_write_failed"));
});

Deno.test("RunJob.execute() keeps the lease beating while the final write fails", async () => {
  const s = fakeScheduler({
    clock: realClock,
    sleep: (ms) => pause(ms),
    settings: { finalWriteRetryMs: 2_000, leaseTtlMs: 90 },
    jobs: { heartbeat: recordingJob().handler },
  });
  const finish = s.lock.finish.bind(s.lock);
  let failUntil = 0;
  s.lock.finish = (record, options) => {
    failUntil ||= Date.now() + 250;
    s.lock.calls.push("finish:attempt");
    return Date.now() < failUntil
      ? Promise.reject(new Error("PostgREST down"))
      : finish(record, options);
  };

  await s.runJob.execute({ jobName: "heartbeat", dispatchId: null, payload: {} });

  const first = s.lock.calls.indexOf("finish:attempt");
  const last = s.lock.calls.lastIndexOf("finish:attempt");
  assert.ok(
    s.lock.calls.slice(first, last).includes("renew:heartbeat"),
    `calls: ${s.lock.calls.join(", ")}`,
  );
  assert.equal(s.log.records()[0].status, "succeeded");
  assert.deepEqual(s.lock.held(), []);
  assert.ok(!s.logger.lines.some((l) => l.event === "job.lease_lost"));
});

Deno.test("RunJob.execute() stops beating and retrying when the final write fails while renewals succeed", async () => {
  const s = fakeScheduler({
    clock: realClock,
    sleep: (ms) => pause(ms),
    settings: { finalWriteRetryMs: 200, leaseTtlMs: 60 },
    jobs: { heartbeat: recordingJob().handler },
  });
  s.lock.finish = () => Promise.reject(new Error("scheduler_finish_run failed"));

  await assert.rejects(
    s.runJob.execute({ jobName: "heartbeat", dispatchId: null, payload: {} }),
    /scheduler_finish_run failed/,
  );

  const renewals = s.lock.calls.filter((c) => c === "renew:heartbeat").length;
  assert.ok(renewals > 0, "the lease beat while the write was retried");
  await pause(100);
  assert.equal(s.lock.calls.filter((c) => c === "renew:heartbeat").length, renewals);
});
