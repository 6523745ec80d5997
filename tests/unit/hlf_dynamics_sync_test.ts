import assert from "node:assert/strict";
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
  ScriptedPortalClient,
} from "../support/dynamics_fakes.ts";
import { SteppingClock } from "../support/fakes.ts";

const OPTIONS: HlfDynamicsSyncOptions = { ...HLF_DYNAMICS_SYNC_DEFAULTS, batchSize: 3 };
const SYNC = OPTIONS.syncName;

Deno.test("hlfDynamicsSync() sends HLF's changes in batches and moves the cursor after each", async () => {
  const feed = new InMemoryChangeFeed().add("hlf", 7).add("other", 2, 100);
  const portal = new ScriptedPortalClient();
  const { context } = aJobContext();

  const summary = await hlfDynamicsSync({ portal, feed }, OPTIONS)({}, context);

  assert.deepEqual(summary, {
    enabled: true,
    sent: 7,
    batches: 3,
    cursor: "pos:7",
    complete: true,
  });
  assert.deepEqual(portal.batches.map((b) => b.length), [3, 3, 1]);
  assert.deepEqual(
    portal.sentIds(),
    [1, 2, 3, 4, 5, 6, 7].map((n) => aCertificationStatus(n).certificationId),
  );
  assert.deepEqual(feed.advances, [
    { syncName: SYNC, to: "pos:3" },
    { syncName: SYNC, to: "pos:6" },
    { syncName: SYNC, to: "pos:7" },
  ]);
  assert.ok(feed.reads.every((r) => r.organisationCode === "hlf"));
});

Deno.test("hlfDynamicsSync() starts after the stored cursor and sends only newer changes", async () => {
  const feed = new InMemoryChangeFeed().add("hlf", 5);
  feed.cursors.set(SYNC, "pos:4");
  const portal = new ScriptedPortalClient();

  const summary = await hlfDynamicsSync({ portal, feed }, OPTIONS)({}, aJobContext().context);

  assert.deepEqual(portal.sentIds(), [aCertificationStatus(5).certificationId]);
  assert.equal(summary?.cursor, "pos:5");
  assert.equal(feed.reads[0].after, "pos:4");
});

Deno.test("hlfDynamicsSync() with nothing new sends nothing, keeps the cursor and completes", async () => {
  const feed = new InMemoryChangeFeed();
  const portal = new ScriptedPortalClient();

  const summary = await hlfDynamicsSync({ portal, feed }, OPTIONS)({}, aJobContext().context);

  assert.deepEqual(summary, { enabled: true, sent: 0, batches: 0, cursor: null, complete: true });
  assert.equal(portal.batches.length, 0);
  assert.deepEqual(feed.advances, []);
});

Deno.test("hlfDynamicsSync() when the portal is disabled succeeds, reads nothing and moves no cursor", async () => {
  const feed = new InMemoryChangeFeed().add("hlf", 3);
  const portal = new ScriptedPortalClient(false);
  const { context, logger } = aJobContext();

  const summary = await hlfDynamicsSync({ portal, feed }, OPTIONS)({}, context);

  assert.deepEqual(summary, { enabled: false, sent: 0, batches: 0, cursor: null, complete: false });
  assert.deepEqual(feed.reads, []);
  assert.deepEqual(feed.advances, []);
  assert.ok(logger.lines.some((l) => l.event === "hlf_dynamics_sync.disabled"));
});

Deno.test("hlfDynamicsSync() throws on a rejected record after moving the cursor only past the accepted ones before it", async () => {
  const feed = new InMemoryChangeFeed().add("hlf", 6);
  const stuck = aCertificationStatus(5).certificationId;
  const portal = new ScriptedPortalClient().reject(stuck);

  await assert.rejects(
    hlfDynamicsSync({ portal, feed }, OPTIONS)({}, aJobContext().context),
    (error: unknown) => {
      assert.ok(error instanceof PortalRejectedError);
      assert.equal(error.code, "portal_rejected");
      assert.match(error.message, new RegExp(`certification '${stuck}' was rejected: HTTP 400`));
      assert.match(error.message, /2 of 3 records are unsent and the cursor stays at 'pos:4'/);
      return true;
    },
  );
  // Record 6 was accepted but lies after the rejected 5: it is re-sent next run.
  assert.deepEqual(feed.cursors.get(SYNC), "pos:4");
});

Deno.test("hlfDynamicsSync() leaves the cursor where it was when the first record of a batch is rejected", async () => {
  const feed = new InMemoryChangeFeed().add("hlf", 3);
  feed.cursors.set(SYNC, "pos:1");
  const portal = new ScriptedPortalClient().reject(aCertificationStatus(2).certificationId);

  await assert.rejects(
    hlfDynamicsSync({ portal, feed }, OPTIONS)({}, aJobContext().context),
    PortalRejectedError,
  );

  assert.deepEqual(feed.advances, []);
  assert.equal(feed.cursors.get(SYNC), "pos:1");
});

Deno.test("hlfDynamicsSync() lets a portal failure (no token) propagate and keeps the cursor", async () => {
  const feed = new InMemoryChangeFeed().add("hlf", 3);
  const portal = new ScriptedPortalClient();
  portal.failWith = new Error(
    "Cannot get a Dynamics access token: the token endpoint answered 401",
  );

  await assert.rejects(
    hlfDynamicsSync({ portal, feed }, OPTIONS)({}, aJobContext().context),
    /access token/,
  );
  assert.deepEqual(feed.advances, []);
});

Deno.test("hlfDynamicsSync() stops between batches when the signal aborts, keeping delivered progress", async () => {
  const feed = new InMemoryChangeFeed().add("hlf", 9);
  const portal = new ScriptedPortalClient();
  const { context, controller } = aJobContext();
  portal.afterBatch = (batch) => batch === 1 && controller.abort(new Error("budget"));

  const summary = await hlfDynamicsSync({ portal, feed }, OPTIONS)({}, context);

  assert.deepEqual(summary, {
    enabled: true,
    sent: 3,
    batches: 1,
    cursor: "pos:3",
    complete: false,
    stopped: "aborted",
  });
  assert.equal(portal.batches.length, 1);
});

Deno.test("hlfDynamicsSync() starts no batch it lacks the time for before the deadline", async () => {
  const feed = new InMemoryChangeFeed().add("hlf", 9);
  const portal = new ScriptedPortalClient();
  // Each clock read moves 1 s and a batch reads it 4 times: 11 s are left before the first
  // batch (>= the 10 s window), 7 s before the second.
  const { context, logger } = aJobContext({
    clock: new SteppingClock(undefined, 1000),
    budgetMs: 12_000,
  });

  const summary = await hlfDynamicsSync({ portal, feed }, OPTIONS)({}, context);

  assert.equal(summary?.complete, false);
  assert.equal(summary?.stopped, "deadline");
  assert.equal(portal.batches.length, 1);
  assert.equal(feed.cursors.get(SYNC), "pos:3");
  assert.ok(logger.lines.some((l) => l.event === "hlf_dynamics_sync.stopped_near_deadline"));
});
