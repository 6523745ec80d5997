import assert from "node:assert/strict";
import { PartialRunError } from "../../src/domain/errors.ts";
import { type JobContext, type JobPayload, jobSummary, WorkRemains } from "../../src/domain/job.ts";
import {
  HLF_DYNAMICS_SYNC_DEFAULTS,
  hlfDynamicsSync,
  type HlfDynamicsSyncOptions,
  PortalRejectedError,
} from "../../src/jobs/hlf_dynamics_sync.ts";
import {
  aCertificationStatus,
  aJobContext,
  InMemoryChangeFeed,
  InMemorySyncQuarantine,
  ScriptedCertificationPortal,
} from "../support/dynamics_fakes.ts";
import { SteppingClock } from "../support/fakes.ts";
import type {
  PortalPushResult,
  PortalPushSignals,
} from "../../src/application/ports/certification_portal.ts";
import type { CertificationStatus } from "../../src/domain/certification_status.ts";

const OPTIONS: HlfDynamicsSyncOptions = { ...HLF_DYNAMICS_SYNC_DEFAULTS, pageSize: 3 };
const SYNC = OPTIONS.syncName;
const idOf = (n: number) => aCertificationStatus(n).certificationId;

function setup(feed = new InMemoryChangeFeed(), portal = new ScriptedCertificationPortal()) {
  const quarantine = new InMemorySyncQuarantine((id) =>
    feed.changes.find((c) => c.status.certificationId === id)!.status
  );
  const job = hlfDynamicsSync({ portal, feed, quarantine }, OPTIONS);
  const sync = (payload: JobPayload, context: JobContext) => job(payload, context).then(jobSummary);
  return { feed, portal, quarantine, job, sync };
}

/** The summary a run failed with: every failure carries what it sent. */
async function failedSummary(run: Promise<unknown>): Promise<PartialRunError> {
  try {
    await run;
  } catch (error) {
    assert.ok(error instanceof PartialRunError, String(error));
    return error;
  }
  throw new Error("the run did not fail");
}

Deno.test("hlfDynamicsSync() sends HLF's changes page by page and moves the cursor after each", async () => {
  const { feed, portal, sync } = setup(new InMemoryChangeFeed().add("hlf", 7).add("other", 2, 100));
  const { context } = aJobContext();

  const summary = await sync({}, context);

  assert.deepEqual(summary, {
    enabled: true,
    sent: 7,
    quarantined: 0,
    retried: 0,
    released: 0,
    batches: 3,
    cursor: "pos:7",
    complete: true,
  });
  assert.deepEqual(portal.batches.map((b) => b.length), [3, 3, 1]);
  assert.deepEqual(portal.sentIds(), [1, 2, 3, 4, 5, 6, 7].map(idOf));
  assert.deepEqual(feed.advances, [
    { syncName: SYNC, to: "pos:3" },
    { syncName: SYNC, to: "pos:6" },
    { syncName: SYNC, to: "pos:7" },
  ]);
  assert.ok(feed.reads.every((r) => r.organisationCode === "hlf"));
});

Deno.test("hlfDynamicsSync() reads the next page before the current one has been pushed", async () => {
  const { feed, portal, sync } = setup(new InMemoryChangeFeed().add("hlf", 7));
  const readsAtPush: number[] = [];
  portal.afterBatch = () => readsAtPush.push(feed.reads.length);

  await sync({}, aJobContext().context);

  // Page 1 is pushed while page 2 is being read, and so on.
  assert.deepEqual(readsAtPush, [2, 3, 3]);
  assert.deepEqual(feed.reads.map((r) => r.after), [null, "pos:3", "pos:6"]);
});

Deno.test("hlfDynamicsSync() starts after the stored cursor and sends only newer changes", async () => {
  const { feed, portal, sync } = setup(new InMemoryChangeFeed().add("hlf", 5));
  feed.cursors.set(SYNC, "pos:4");

  const summary = await sync({}, aJobContext().context);

  assert.deepEqual(portal.sentIds(), [idOf(5)]);
  assert.equal(summary?.cursor, "pos:5");
  assert.equal(feed.reads[0].after, "pos:4");
});

Deno.test("hlfDynamicsSync() with nothing new sends nothing, keeps the cursor and completes", async () => {
  const { feed, portal, sync } = setup();

  const summary = await sync({}, aJobContext().context);

  assert.equal(summary?.complete, true);
  assert.equal(summary?.sent, 0);
  assert.equal(portal.batches.length, 0);
  assert.deepEqual(feed.advances, []);
});

Deno.test("hlfDynamicsSync() when the portal is disabled succeeds, reads nothing and moves no cursor", async () => {
  const { feed, sync } = setup(
    new InMemoryChangeFeed().add("hlf", 3),
    new ScriptedCertificationPortal(false),
  );
  const { context, logger } = aJobContext();

  const summary = await sync({}, context);

  assert.deepEqual(summary, { enabled: false, sent: 0, batches: 0, cursor: null, complete: false });
  assert.deepEqual(feed.reads, []);
  assert.deepEqual(feed.advances, []);
  assert.ok(logger.lines.some((l) => l.event === "hlf_dynamics_sync.disabled"));
});

Deno.test("hlfDynamicsSync() quarantines a record the portal refuses for good and moves past it", async () => {
  const { feed, portal, quarantine, sync } = setup(new InMemoryChangeFeed().add("hlf", 7));
  portal.reject(idOf(5));

  const summary = await sync({}, aJobContext().context);

  assert.equal(summary?.complete, true);
  assert.equal(summary?.sent, 6);
  assert.equal(summary?.quarantined, 1);
  assert.equal(feed.cursors.get(SYNC), "pos:7");
  const held = quarantine.held.get(idOf(5));
  assert.equal(held?.portalStatus, 400);
  assert.equal(held?.attempts, 1);
  assert.equal(
    held?.errorMessage,
    "HTTP 400 ('0x80040203'): Value [value] is not valid for hlf_status",
  );
});

Deno.test("hlfDynamicsSync() retries a quarantined record on a later night, not the same one, and releases it once accepted", async () => {
  const clock = new SteppingClock(new Date("2026-11-28T02:00:00Z"), 10);
  const { portal, quarantine, sync } = setup(new InMemoryChangeFeed().add("hlf", 4));
  portal.reject(idOf(2));
  await sync({}, aJobContext({ clock }).context);
  assert.ok(quarantine.held.has(idOf(2)));

  // The same night (a second part or a manual run): not tried again.
  const again = await sync({}, aJobContext({ clock }).context);
  assert.equal(again?.retried, 0);

  // Next night it is still refused: one more attempt counted.
  clock.set(new Date("2026-11-29T02:00:00Z"));
  const second = await sync({}, aJobContext({ clock }).context);
  assert.equal(second?.retried, 1);
  assert.equal(quarantine.held.get(idOf(2))?.attempts, 2);

  // The night after, the portal takes it: it leaves the quarantine.
  portal.accept(idOf(2));
  clock.set(new Date("2026-11-30T02:00:00Z"));
  const third = await sync({}, aJobContext({ clock }).context);
  assert.equal(third?.retried, 1);
  assert.equal(third?.released, 1);
  assert.equal(quarantine.held.size, 0);
  assert.equal(portal.sentIds().filter((id) => id === idOf(2)).length, 3);
});

Deno.test("hlfDynamicsSync() leaves a quarantined record for a person once its attempts are spent", async () => {
  const clock = new SteppingClock(new Date("2026-11-28T02:00:00Z"), 10);
  const feed = new InMemoryChangeFeed().add("hlf", 2);
  const portal = new ScriptedCertificationPortal().reject(idOf(1));
  const quarantine = new InMemorySyncQuarantine(
    (id) => aCertificationStatus(Number(id.slice(-12))),
    2,
  );
  const job = hlfDynamicsSync({ portal, feed, quarantine }, OPTIONS);
  const sync = (payload: JobPayload, context: JobContext) => job(payload, context).then(jobSummary);

  for (let night = 28; night <= 30; night++) {
    clock.set(new Date(`2026-11-${night}T02:00:00Z`));
    await sync({}, aJobContext({ clock }).context);
  }

  assert.equal(quarantine.held.get(idOf(1))?.attempts, 2);
  assert.equal(portal.sentIds().filter((id) => id === idOf(1)).length, 2);
});

Deno.test("hlfDynamicsSync() stops before a record that failed for now, keeping the cursor before it and its counts", async () => {
  const { feed, portal, quarantine, sync } = setup(new InMemoryChangeFeed().add("hlf", 6));
  portal.reject(idOf(2)).reject(idOf(5), true);

  const error = await failedSummary(sync({}, aJobContext().context));

  assert.ok(error.cause instanceof PortalRejectedError);
  assert.equal(error.cause.code, "portal_rejected");
  assert.match(error.message, new RegExp(`certification '${idOf(5)}' failed for now: HTTP 503`));
  assert.match(error.message, /2 of 3 records are unsent and the cursor stays at 'pos:4'/);
  assert.deepEqual(error.summary, {
    enabled: true,
    sent: 3,
    quarantined: 1,
    retried: 0,
    released: 0,
    batches: 2,
    cursor: "pos:4",
    complete: false,
  });
  assert.equal(feed.cursors.get(SYNC), "pos:4");
  assert.deepEqual([...quarantine.held.keys()], [idOf(2)]);
});

Deno.test("hlfDynamicsSync() leaves the cursor where it was when the first record of a page fails for now", async () => {
  const { feed, portal, sync } = setup(new InMemoryChangeFeed().add("hlf", 3));
  feed.cursors.set(SYNC, "pos:1");
  portal.reject(idOf(2), true);

  const error = await failedSummary(sync({}, aJobContext().context));

  assert.ok(error.cause instanceof PortalRejectedError);
  assert.deepEqual(feed.advances, []);
  assert.equal(feed.cursors.get(SYNC), "pos:1");
});

Deno.test("hlfDynamicsSync() lets a portal failure (no token) propagate with its counts and keeps the cursor", async () => {
  const { feed, portal, sync } = setup(new InMemoryChangeFeed().add("hlf", 3));
  portal.failWith = new Error(
    "Cannot get a Dynamics access token: the token endpoint answered 401",
  );

  const error = await failedSummary(sync({}, aJobContext().context));

  assert.match(error.message, /access token/);
  assert.equal(error.summary.sent, 0);
  assert.deepEqual(feed.advances, []);
});

Deno.test("hlfDynamicsSync() stops between pages when the signal aborts, keeping delivered progress", async () => {
  const { portal, sync } = setup(new InMemoryChangeFeed().add("hlf", 9));
  const { context, controller } = aJobContext();
  portal.afterBatch = (batch) => batch === 1 && controller.abort(new Error("budget"));

  const summary = await sync({}, context);

  assert.equal(summary?.sent, 3);
  assert.equal(summary?.batches, 1);
  assert.equal(summary?.cursor, "pos:3");
  assert.equal(summary?.complete, false);
  assert.equal(summary?.stopped, "aborted");
  assert.equal(portal.batches.length, 1);
});

Deno.test("hlfDynamicsSync() starts no page that could end inside the safety margin before the deadline, and says work remains", async () => {
  const { feed, portal, job } = setup(new InMemoryChangeFeed().add("hlf", 30));
  const clock = new SteppingClock(undefined, 0);
  portal.afterBatch = () => clock.advance(20_000); // every page takes 20 s
  const { context, logger } = aJobContext({ clock, budgetMs: 120_000 });

  const result = await job({}, context);

  // Pages start at 0, 20, 40, 60 and 80 s; one at 100 s could end at 120 s, inside the 10 s margin.
  assert.ok(result instanceof WorkRemains, "the run ends as a part, so the next one follows");
  assert.equal(result.summary.complete, false);
  assert.equal(result.summary.stopped, "deadline");
  assert.equal(portal.batches.length, 5);
  assert.equal(feed.cursors.get(SYNC), "pos:15");
  assert.ok(logger.lines.some((l) => l.event === "hlf_dynamics_sync.stopped"));
});

Deno.test("hlfDynamicsSync() ends the part, not the run, when a portal wait runs into the safety margin", async () => {
  const { feed, portal, job } = setup(new InMemoryChangeFeed().add("hlf", 3));
  portal.waitsForever = true;
  // 400 ms budget: margin 100 ms, so the soft stop comes after 300 ms of real time.
  const { context, logger } = aJobContext({
    clock: new SteppingClock(undefined, 0),
    budgetMs: 400,
  });

  const result = await job({}, context);

  assert.ok(result instanceof WorkRemains, "the next part waits on");
  assert.equal(result.summary.sent, 0);
  assert.equal(result.summary.stopped, "deadline");
  assert.deepEqual(feed.advances, []);
  assert.ok(logger.lines.some((l) => l.fields.reason === "portal_wait"));
  assert.equal(context.signal.aborted, false, "the run's own budget was not spent");
});

/** A portal whose pushes stay open until the test answers them, `recordsInFlight` records at a time. */
class HeldPortal extends ScriptedCertificationPortal {
  readonly open: { ids: string[]; answer(): void }[] = [];

  constructor(recordsInFlight: number) {
    super(true, recordsInFlight);
  }

  override push(records: readonly CertificationStatus[], signals: PortalPushSignals) {
    return new Promise<PortalPushResult>((resolve) => {
      this.open.push({
        ids: records.map((r) => r.certificationId),
        answer: () => resolve(super.push(records, signals)),
      });
    });
  }
}

/** Lets every pending promise callback run. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("hlfDynamicsSync() keeps pages uploading across page boundaries, and moves the cursor only past pages answered in feed order", async () => {
  const feed = new InMemoryChangeFeed().add("hlf", 12);
  // Six records in flight over pages of three: three pages pushed at once.
  const portal = new HeldPortal(6);
  const { sync } = setup(feed, portal);

  const run = sync({}, aJobContext().context);
  await settled();
  assert.deepEqual(
    portal.open.map((p) => p.ids),
    [[1, 2, 3], [4, 5, 6], [7, 8, 9]].map((p) => p.map(idOf)),
  );

  // The second page answers first: the cursor waits for the first.
  portal.open[1].answer();
  await settled();
  assert.equal(feed.advances.length, 0);
  assert.equal(portal.open.length, 3, "no page starts before one is settled");

  portal.open[0].answer();
  await settled();
  assert.deepEqual(feed.advances.map((a) => a.to), ["pos:3", "pos:6"]);
  assert.equal(portal.open.length, 4, "the last page starts; the feed has nothing after it");

  for (const page of portal.open.slice(2)) page.answer();
  const summary = await run;

  assert.equal(summary?.sent, 12);
  assert.equal(summary?.complete, true);
  assert.deepEqual(feed.advances.map((a) => a.to), ["pos:3", "pos:6", "pos:9", "pos:12"]);
});

Deno.test("hlfDynamicsSync() releases only records a quarantine holds, and sends no release call for a page without any", async () => {
  const { feed, portal, quarantine, sync } = setup(new InMemoryChangeFeed().add("hlf", 7));
  feed.quarantined = (id) => quarantine.held.has(id);
  const owner = { syncName: SYNC, jobName: "hlf_dynamics_sync" };
  // Held from an earlier night, and changed since: the feed brings it again.
  await quarantine.hold(owner, [{
    certificationId: idOf(5),
    portalStatus: 400,
    errorMessage: "HTTP 400",
  }], new Date());
  portal.reject(idOf(2));

  const summary = await sync({}, aJobContext().context);

  assert.equal(summary?.sent, 6);
  assert.equal(summary?.released, 1);
  assert.deepEqual(quarantine.releases, [[idOf(5)]]);
  assert.deepEqual([...quarantine.held.keys()], [idOf(2)]);
});
