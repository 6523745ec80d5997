import assert from "node:assert/strict";
import { ManualClock } from "../support/fakes.ts";
import { fakeScheduler, recordingJob, runRequest } from "../support/scheduler_mother.ts";

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("RunJob.start() returns once the run is recorded and leased; the job finishes in the background", async () => {
  let release!: () => void;
  const s = fakeScheduler({
    jobs: { slow: () => new Promise((resolve) => (release = () => resolve({ done: true }))) },
  });
  const result = await s.runJob.start({
    jobName: "slow",
    dispatchId: s.lock.dispatch("slow"),
    payload: {},
  });
  assert.equal(result.kind, "started");
  assert.equal(result.kind === "started" && result.record.status, "running");
  assert.deepEqual(s.log.records().map((r) => r.status), ["running"]);
  assert.equal(s.lock.held().length, 1);
  release();
  const final = result.kind === "started" ? await result.completion : null;
  assert.equal(final?.status, "succeeded");
  assert.deepEqual(s.log.records().map((r) => r.status), ["succeeded"]);
  assert.deepEqual(s.lock.held(), []);
});

Deno.test("handler acknowledges a dispatched call with status running; a manual call waits unless wait is false", async () => {
  const gates: (() => void)[] = [];
  const s = fakeScheduler({
    jobs: { slow: () => new Promise<void>((resolve) => gates.push(resolve)) },
  });
  const dispatched = await s.handler(
    runRequest({ job_name: "slow", dispatch_id: s.lock.dispatch("slow") }),
  );
  const acked = await dispatched.json();
  assert.deepEqual([acked.status, acked.trigger, acked.finished_at], ["running", "cron", null]);
  gates.shift()!();
  await tick();

  const noWait = await (await s.handler(runRequest({ job_name: "slow", wait: false }))).json();
  assert.deepEqual([noWait.status, noWait.trigger], ["running", "manual"]);
  gates.shift()!();
  await tick();

  let answered = false;
  const waiting = s.handler(runRequest({ job_name: "slow" })).then((r) => {
    answered = true;
    return r.json();
  });
  await tick(5);
  assert.equal(answered, false, "a manual call waits for the job by default");
  gates.shift()!();
  assert.equal((await waiting).status, "succeeded");
});

Deno.test("RunJob.start() takes the trigger from the dispatch record: an unknown or another job's id is manual", async () => {
  const s = fakeScheduler({ jobs: { a: recordingJob().handler, b: recordingJob().handler } });
  const other = s.lock.dispatch("b");
  const cases: [string | null, string][] = [
    [s.lock.dispatch("a", "2026-11-27", 2), "retry"],
    [null, "manual"],
    ["00000000-0000-4000-8000-00000000ffff", "manual"],
    [other, "manual"],
  ];
  for (const [dispatchId, trigger] of cases) {
    const result = await s.runJob.execute({ jobName: "a", dispatchId, payload: {} });
    assert.equal(result.kind === "completed" && result.record.trigger, trigger, String(dispatchId));
  }
});

Deno.test("two deliveries of one slot run the job once: a reused dispatch and a second dispatch are duplicates", async () => {
  const job = recordingJob();
  const s = fakeScheduler({ jobs: { nightly: job.handler } });
  const first = s.lock.dispatch("nightly");
  const run = await s.runJob.execute({ jobName: "nightly", dispatchId: first, payload: {} });
  assert.equal(run.kind, "completed");
  const again = await s.runJob.execute({ jobName: "nightly", dispatchId: first, payload: {} });
  const second = await s.runJob.execute({
    jobName: "nightly",
    dispatchId: s.lock.dispatch("nightly", "2026-11-27", 2),
    payload: {},
  });
  assert.deepEqual([again.kind, second.kind], ["duplicate", "duplicate"]);
  assert.equal(job.calls.length, 1);
  assert.deepEqual(s.log.records().map((r) => r.status), ["succeeded", "duplicate", "duplicate"]);
});

Deno.test("RunJob renews its lease while the job runs, every third of the lease TTL", async () => {
  const s = fakeScheduler({
    clock: new ManualClock(),
    settings: { leaseTtlMs: 30 },
    jobs: { long: () => tick(100).then(() => ({})) },
  });
  await s.runJob.execute({ jobName: "long", dispatchId: null, payload: {} });
  const renewals = s.lock.calls.filter((c) => c === "renew:long").length;
  assert.ok(renewals >= 3, `expected at least 3 renewals in 100 ms, got ${renewals}`);
  assert.deepEqual(s.lock.held(), []);
  const after = s.lock.calls.length;
  await tick(50);
  assert.equal(s.lock.calls.length, after, "no heartbeat after the run ended");
});
