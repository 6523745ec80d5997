// hlf_dynamics_sync against the local stack: the real change feed (migration
// 000700) through PostgREST, RunJob with the real execution log and lease, and
// the Dataverse client pointed at a fake on 127.0.0.1. Each test uses its own
// organisation code and sync name, so it never touches HLF's data or cursor.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { RunJob } from "../../src/application/run_job.ts";
import { systemClock } from "../../src/domain/clock.ts";
import { SupabaseCertificationChangeFeed } from "../../src/infrastructure/supabase/supabase_certification_change_feed.ts";
import { createServiceClient } from "../../src/infrastructure/supabase/supabase_client.ts";
import { SupabaseJobLock } from "../../src/infrastructure/supabase/supabase_job_lock.ts";
import { hlfDynamicsSync } from "../../src/jobs/hlf_dynamics_sync.ts";
import { FakeDataverse } from "../../local/fake_dataverse.ts";
import { aDataverseClient } from "../support/dynamics_fakes.ts";
import { RecordingLogger } from "../support/fakes.ts";
import { callScheduler, connect, stackEnv } from "../../local/stack.ts";

/** A throwaway organisation with `count` certifications, a fake portal and a RunJob for the sync. */
async function scenario(sql: postgres.Sql, count: number) {
  const code = `t_hds_${crypto.randomUUID().slice(0, 8)}`;
  await sql.begin(async (tx) => {
    const [org] =
      await tx`insert into organisation (code, name) values (${code}, 'Test') returning id`;
    const [mentor] = await tx`insert into peer_mentor (organisation_id, full_name)
      values (${org.id}, 'Test Mentor') returning id`;
    await tx`insert into certification (peer_mentor_id, certification_type, issued_at, expires_at)
      select ${mentor.id}, 'type_' || n, now() - interval '1 year', now() + n * interval '1 day'
      from generate_series(1, ${count}) as n`;
  });
  const fake = new FakeDataverse();
  const portal = aDataverseClient({ baseUrl: fake.serve(), fetch, settings: { concurrency: 2 } });
  const env = stackEnv();
  const client = createServiceClient(env.API_URL, env.SERVICE_ROLE_KEY);
  const handler = hlfDynamicsSync(
    { portal: portal.client, feed: new SupabaseCertificationChangeFeed(client) },
    { organisationCode: code, syncName: code, batchSize: 2, minBatchWindowMs: 0 },
  );
  const runJob = new RunJob({
    registry: new Map([[code, handler]]),
    lock: new SupabaseJobLock(client),
    clock: systemClock,
    logger: new RecordingLogger(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    newExecutionId: () => crypto.randomUUID(),
    settings: {
      budgetMs: 30_000,
      leaseGraceMs: 1_000,
      leaseTtlMs: 30_000,
      finalWriteRetryMs: 1_000,
      abortGraceMs: 1_000,
      allowManualTriggers: true,
    },
  });
  const run = async () => {
    await waitForFeedHorizon(sql, code);
    const result = await runJob.execute({ jobName: code, dispatchId: null, payload: {} });
    assert.equal(result.kind, "completed");
    return result.record;
  };
  const ids = async () =>
    (await sql`select c.id from certification c join peer_mentor pm on pm.id = c.peer_mentor_id
      join organisation o on o.id = pm.organisation_id where o.code = ${code}
      order by c.change_xid, c.id`).map((r) => r.id as string);
  const cursor = async () =>
    (await sql`select change_xid::text || ':' || certification_id as c
      from scheduler_sync_cursor where sync_name = ${code}`)[0]?.c ?? null;
  const cleanup = async () => {
    await fake.close();
    await sql`delete from scheduler_sync_cursor where sync_name = ${code}`;
    // Certifications (and any expiry notices) go with their mentor by cascade.
    await sql`delete from peer_mentor where organisation_id in
      (select id from organisation where code = ${code})`;
    await sql`delete from organisation where code = ${code}`;
  };
  return { code, fake, run, ids, cursor, cleanup };
}

/** The feed shows a change only once every older transaction has ended; wait for that horizon. */
async function waitForFeedHorizon(sql: postgres.Sql, code: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const [row] = await sql`select coalesce(bool_and(
        c.change_xid < pg_snapshot_xmin(pg_current_snapshot())), true) as ready
      from certification c join peer_mentor pm on pm.id = c.peer_mentor_id
      join organisation o on o.id = pm.organisation_id where o.code = ${code}`;
    if (row.ready) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Changes of '${code}' stayed above the snapshot horizon for 10 s`);
}

Deno.test("hlf_dynamics_sync sends every certification once, then only what changed", async () => {
  const sql = connect();
  const s = await scenario(sql, 5);
  try {
    const first = await s.run();
    assert.equal(first.status, "succeeded");
    assert.deepEqual(first.summary, {
      enabled: true,
      sent: 5,
      batches: 3,
      cursor: await s.cursor(),
      complete: true,
    });
    const ids = await s.ids();
    assert.deepEqual([...s.fake.rows.keys()].sort(), [...ids].sort());
    assert.equal(s.fake.rows.get(ids[0])?.hlf_status, "active");
    assert.ok((await s.cursor()).endsWith(ids[4]));

    const idle = await s.run();
    assert.deepEqual(idle.summary, { ...first.summary, sent: 0, batches: 0 });
    assert.equal(s.fake.upserts().length, 5);

    await sql`update certification set status = 'revoked' where id = ${ids[1]}`;
    const third = await s.run();
    assert.equal(third.summary?.sent, 1);
    assert.deepEqual(s.fake.upserts().slice(5).map((r) => r.path.match(/'(.*)'/)?.[1]), [ids[1]]);
    assert.equal(s.fake.rows.get(ids[1])?.hlf_status, "revoked");
    assert.ok((await s.cursor()).endsWith(ids[1]), "the revoked row is now the newest change");
  } finally {
    await s.cleanup();
    await sql.end();
  }
});

Deno.test("hlf_dynamics_sync on a permanent portal failure records the run failed and keeps the cursor before it", async () => {
  const sql = connect();
  const s = await scenario(sql, 4);
  try {
    const ids = await s.ids();
    s.fake.alwaysFail.set(ids[2], { status: 400, errorCode: "0x80040203" });

    const failed = await s.run();

    assert.equal(failed.status, "failed");
    assert.match(
      failed.errorMessage!,
      new RegExp(`certification '${ids[2]}' was rejected: HTTP 400`),
    );
    const [row] = await sql`select status, error_message from scheduler_execution_log
      where id = ${failed.executionId}`;
    assert.equal(row.status, "failed");
    assert.equal(row.error_message, failed.errorMessage);
    const stuckAt = await s.cursor();
    assert.ok(stuckAt.endsWith(ids[1]), "past the accepted batch, not past the rejected record");

    // Once the portal takes it, the next run sends only what was not acknowledged.
    s.fake.alwaysFail.clear();
    const before = s.fake.upserts().length;
    const retried = await s.run();
    assert.equal(retried.status, "succeeded");
    assert.equal(retried.summary?.sent, 2);
    const resent = s.fake.upserts().slice(before).map((r) => r.path.match(/'(.*)'/)?.[1]);
    assert.deepEqual(resent.sort(), [ids[2], ids[3]].sort());
    assert.ok((await s.cursor()).endsWith(ids[3]));
  } finally {
    await s.cleanup();
    await sql.end();
  }
});

Deno.test("hlf_dynamics_sync through the function is a succeeding no-op while HLF_DYNAMICS_SYNC_ENABLED is unset", async () => {
  const sql = connect();
  try {
    const before = await sql`select change_xid::text as x, certification_id
      from scheduler_sync_cursor where sync_name = 'hlf_dynamics_sync'`;
    const { status, body } = await callScheduler({ job_name: "hlf_dynamics_sync" });
    assert.equal(status, 200);
    assert.equal(body.status, "succeeded");
    assert.notEqual(
      (body.summary as { enabled?: boolean } | null)?.enabled,
      true,
      "The running function has the HLF sync enabled (scripts/nightly.sh starts it so); " +
        "restart it without HLF_DYNAMICS_* with `bash local/stack.sh up`",
    );
    assert.deepEqual(body.summary, {
      enabled: false,
      sent: 0,
      batches: 0,
      cursor: null,
      complete: false,
    });
    const after = await sql`select change_xid::text as x, certification_id
      from scheduler_sync_cursor where sync_name = 'hlf_dynamics_sync'`;
    assert.deepEqual(after, before, "the cursor did not move");
  } finally {
    await sql.end();
  }
});
