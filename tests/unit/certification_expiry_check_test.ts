import { PartialRunError } from "../../src/domain/errors.ts";
import assert from "node:assert/strict";
import { InvalidPayloadError } from "../../src/domain/errors.ts";
import { type JobContext, type JobPayload, jobSummary, WorkRemains } from "../../src/domain/job.ts";
import { certificationExpiryCheck } from "../../src/jobs/certification_expiry_check.ts";
import {
  certification,
  expiryContext,
  InMemoryCertificationExpiryStore,
  ManualClock,
} from "../support/certification_fakes.ts";

/** The job, answering with its summary whether it finished or stopped with work left. */
function expiryCheck(...args: Parameters<typeof certificationExpiryCheck>) {
  const job = certificationExpiryCheck(...args);
  return (payload: JobPayload, context: JobContext) => job(payload, context).then(jobSummary);
}

const NOW = new Date("2026-11-27T02:00:00.000Z");

/** Two past due, one revoked and one already expired in the past, and some in each window. */
function roster() {
  return [
    certification(1, -3, NOW),
    certification(2, -0.5, NOW),
    certification(3, -10, NOW, "revoked"),
    certification(4, -40, NOW, "expired"),
    certification(5, 3, NOW), // in both windows
    certification(6, 6.9, NOW), // in both windows
    certification(7, 20, NOW), // 30 days only
    certification(8, 45, NOW), // neither
    certification(9, 5, NOW, "revoked"), // not active: no notice
  ];
}

Deno.test("certification_expiry_check expires active certifications past expires_at at the clock's instant", async () => {
  const store = new InMemoryCertificationExpiryStore(roster());
  const { context } = expiryContext({ clock: new ManualClock(NOW) });

  const summary = await expiryCheck(store)({}, context);

  assert.equal(summary?.expired, 2);
  assert.equal(summary?.as_of, NOW.toISOString());
  const byId = (n: number) => store.certifications[n - 1];
  assert.deepEqual([byId(1).status, byId(2).status], ["expired", "expired"]);
  assert.deepEqual(byId(1).expiredAt, NOW);
  assert.equal(byId(3).status, "revoked");
  assert.equal(byId(4).expiredAt, null, "an already expired row is not touched");
  assert.deepEqual(store.statusCounts(), { expired: 3, revoked: 2, active: 4 });
});

Deno.test("certification_expiry_check queues one notice per active certification and window", async () => {
  const store = new InMemoryCertificationExpiryStore(roster());
  const { context } = expiryContext({ clock: new ManualClock(NOW) });

  const summary = await expiryCheck(store)({}, context);

  assert.deepEqual(summary?.notices, { "30": 3, "7": 2 });
  assert.deepEqual(store.noticeCounts(), { 30: 3, 7: 2 });
  assert.equal(summary?.complete, true);
  assert.equal(summary?.stopped_by, null);
});

Deno.test("certification_expiry_check works in batches of batch_size until each step is done, with no empty batch at the end", async () => {
  const store = new InMemoryCertificationExpiryStore(roster());
  const { context, logger } = expiryContext({ clock: new ManualClock(NOW) });

  const summary = await expiryCheck(store, { batchSize: 2 })({}, context);

  // Expire: 2 (all that is due); 30 days: 2 + 1; 7 days: 2. A batch that used up
  // the rows ends the step: the store looks one row past it.
  assert.deepEqual(store.calls.filter((c) => c.startsWith("expire:")), ["expire:2:start"]);
  assert.equal(store.calls.filter((c) => c.startsWith("notice:30:2")).length, 2);
  assert.equal(store.calls.filter((c) => c.startsWith("notice:7:2")).length, 1);
  assert.equal(summary?.batches, 4);
  assert.deepEqual(summary?.notices, { "30": 3, "7": 2 });
  const batchLines = logger.lines.filter((l) => l.event === "certification_expiry.batch");
  assert.equal(batchLines.length, 4);
  assert.deepEqual(batchLines[0].fields, { step: "expire", batch: 1, rows: 2, duration_ms: 0 });
  assert.equal(batchLines[2].fields.window_days, 30);
});

Deno.test("certification_expiry_check changes nothing when run a second time", async () => {
  const store = new InMemoryCertificationExpiryStore(roster());
  const job = expiryCheck(store, { batchSize: 2 });
  await job({}, expiryContext({ clock: new ManualClock(NOW) }).context);
  const certificationsAfterFirst = structuredClone(store.certifications);
  const noticesAfterFirst = structuredClone([...store.notices]);

  const second = await job({}, expiryContext({ clock: new ManualClock(NOW) }).context);

  assert.equal(second?.expired, 0);
  assert.deepEqual(second?.notices, { "30": 0, "7": 0 });
  assert.equal(second?.complete, true);
  assert.deepEqual(store.certifications, certificationsAfterFirst);
  assert.deepEqual([...store.notices], noticesAfterFirst);
});

Deno.test("certification_expiry_check stops between batches when aborted and the next run finishes", async () => {
  const store = new InMemoryCertificationExpiryStore(roster());
  const controller = new AbortController();
  store.afterBatch = (n) => n === 1 && controller.abort(new Error("budget over"));
  const { context, logger } = expiryContext({
    clock: new ManualClock(NOW),
    signal: controller.signal,
  });

  const first = await expiryCheck(store, { batchSize: 1 })({}, context);

  assert.equal(first?.complete, false);
  assert.equal(first?.stopped_by, "aborted");
  assert.equal(first?.batches, 1);
  assert.equal(first?.expired, 1);
  assert.deepEqual(store.calls, ["expire:1:start"], "no batch starts after the abort");
  assert.ok(logger.lines.some((l) => l.event === "certification_expiry.stopped"));

  store.afterBatch = () => {};
  const next = await expiryCheck(store, { batchSize: 1 })(
    {},
    expiryContext({ clock: new ManualClock(NOW) }).context,
  );
  assert.equal(next?.complete, true);
  assert.equal(next?.expired, 1);
  assert.deepEqual(store.statusCounts(), { expired: 3, revoked: 2, active: 4 });
});

Deno.test("certification_expiry_check starts no batch that could end inside the deadline margin", async () => {
  const many = Array.from({ length: 20 }, (_, i) => certification(i + 1, -1 - i, NOW));
  const store = new InMemoryCertificationExpiryStore(many);
  const clock = new ManualClock(NOW);
  store.afterBatch = () => clock.advance(20_000); // every batch takes 20 s
  const { context } = expiryContext({ clock, deadline: new Date(NOW.getTime() + 120_000) });

  const summary = await expiryCheck(store, { batchSize: 1, safetyMarginMs: 10_000 })(
    {},
    context,
  );

  // Batches start at 0, 20, 40, 60 and 80 s; one starting at 100 s could end at 120 s > 110 s.
  assert.equal(summary?.batches, 5);
  assert.equal(summary?.expired, 5);
  assert.equal(summary?.longest_batch_ms, 20_000);
  assert.equal(summary?.complete, false);
  assert.equal(summary?.stopped_by, "deadline");
});

Deno.test("certification_expiry_check runs no batch at all once the deadline has passed, and asks for no next part", async () => {
  const store = new InMemoryCertificationExpiryStore(roster());
  const { context } = expiryContext({
    clock: new ManualClock(NOW),
    deadline: new Date(NOW.getTime() - 1),
  });

  const result = await certificationExpiryCheck(store)({}, context);

  assert.ok(!(result instanceof WorkRemains), "a part that did nothing must not chain another");
  assert.deepEqual(store.calls, []);
  assert.equal(jobSummary(result)?.complete, false);
  assert.deepEqual(jobSummary(result)?.notices, { "30": 0, "7": 0 });
});

Deno.test("certification_expiry_check with a budget shorter than its margin still runs: the margin is at most a quarter of the time left", async () => {
  const many = Array.from({ length: 20 }, (_, i) => certification(i + 1, -1 - i, NOW));
  const store = new InMemoryCertificationExpiryStore(many);
  const clock = new ManualClock(NOW);
  store.afterBatch = () => clock.advance(2_000); // every batch takes 2 s
  const { context } = expiryContext({ clock, deadline: new Date(NOW.getTime() + 10_000) });

  const result = await certificationExpiryCheck(store, { batchSize: 1, safetyMarginMs: 10_000 })(
    {},
    context,
  );

  // Margin 2.5 s: batches start at 0, 2, 4 s; one at 6 s could end at 8 s > 7.5 s.
  assert.ok(result instanceof WorkRemains);
  assert.equal(result.summary.batches, 3);
  assert.equal(result.summary.stopped_by, "deadline");
});

Deno.test("certification_expiry_check takes windows_days and batch_size from the payload", async () => {
  const store = new InMemoryCertificationExpiryStore(roster());
  const { context } = expiryContext({ clock: new ManualClock(NOW) });

  const summary = await expiryCheck(store)(
    { windows_days: [21], batch_size: 7 },
    context,
  );

  assert.deepEqual(summary?.notices, { "21": 3 });
  assert.deepEqual(store.calls, ["expire:7:start", "notice:21:7:start"]);
});

Deno.test("certification_expiry_check only expires when windows_days is empty", async () => {
  const store = new InMemoryCertificationExpiryStore(roster());
  const { context } = expiryContext({ clock: new ManualClock(NOW) });
  const summary = await expiryCheck(store)({ windows_days: [] }, context);
  assert.deepEqual(summary?.notices, {});
  assert.equal(store.notices.size, 0);
});

Deno.test("certification_expiry_check fails with its progress so far when the store fails", async () => {
  const store = new InMemoryCertificationExpiryStore(roster());
  store.queueNoticesBatch = () => Promise.reject(new Error("Cannot queue notices: boom"));
  const { context, logger } = expiryContext({ clock: new ManualClock(NOW) });

  await assert.rejects(
    expiryCheck(store)({}, context),
    (error: unknown) =>
      error instanceof PartialRunError && /boom/.test(error.message) &&
      error.summary.expired === 2 && error.summary.complete === false,
  );

  const failed = logger.lines.find((l) => l.event === "certification_expiry.failed");
  assert.equal(failed?.fields.expired, 2);
});

for (
  const [payload, expected] of [
    [{ windows_days: 30 }, /'windows_days' must be at most 4 distinct integers/],
    [{ windows_days: [30, 30] }, /'windows_days'.*got '\[30,30\]'/],
    [{ windows_days: [0] }, /'windows_days'/],
    [{ windows_days: [366] }, /'windows_days'/],
    [{ windows_days: [7.5] }, /'windows_days'/],
    [{ windows_days: [1, 2, 3, 4, 5] }, /'windows_days'/],
    [{ batch_size: 0 }, /'batch_size' must be an integer from 1 to 50000, got '0'/],
    [{ batch_size: 50_001 }, /'batch_size'/],
    [{ batch_size: "100" }, /'batch_size'.*got '"100"'/],
    [{ batchSize: 100 }, /unknown payload field 'batchSize'/],
  ] as const
) {
  Deno.test(`certification_expiry_check refuses payload ${JSON.stringify(payload)}`, async () => {
    const store = new InMemoryCertificationExpiryStore(roster());
    await assert.rejects(
      expiryCheck(store)(payload, expiryContext().context),
      (error: unknown) =>
        error instanceof InvalidPayloadError && error.code === "invalid_payload" &&
        expected.test(error.message),
    );
    assert.deepEqual(store.calls, [], "nothing runs on a bad payload");
  });
}
