// The lease SQL (scheduler_acquire_lease / scheduler_release_lease) on the real database.
import assert from "node:assert/strict";
import postgres from "postgres";
import { connect, stackEnv } from "../support/stack.ts";

Deno.test("the lease function takes over a lapsed lease and closes the dead run as timed_out", async () => {
  const sql = connect();
  const job = `lease_test_${crypto.randomUUID().slice(0, 8)}`;
  const dead = crypto.randomUUID();
  const next = crypto.randomUUID();
  try {
    await sql`insert into scheduler_execution_log (id, job_name, trigger, status, started_at)
      values (${dead}, ${job}, 'cron', 'running', '2026-01-01T02:00:00Z')`;
    const [held] = await sql`select * from scheduler_acquire_lease(${job}, ${dead},
      '2026-01-01T02:00:00Z', '2026-01-01T02:03:00Z')`;
    assert.equal(held.acquired, true);
    const [refused] = await sql`select * from scheduler_acquire_lease(${job}, ${next},
      '2026-01-01T02:02:59Z', '2026-01-01T02:06:00Z')`;
    assert.deepEqual([refused.acquired, refused.held_by], [false, dead]);
    const [taken] = await sql`select * from scheduler_acquire_lease(${job}, ${next},
      '2026-01-01T02:03:00Z', '2026-01-01T02:06:00Z')`;
    assert.equal(taken.acquired, true);
    const [closed] = await sql`select status, finished_at from scheduler_execution_log
      where id = ${dead}`;
    assert.equal(closed.status, "timed_out");
    assert.equal(closed.finished_at.toISOString(), "2026-01-01T02:03:00.000Z");
    await sql`select scheduler_release_lease(${job}, ${dead})`;
    const [still] = await sql`select owner from scheduler_job_lease where job_name = ${job}`;
    assert.equal(still.owner, next, "a stale owner cannot release a lease taken over");
  } finally {
    await sql`delete from scheduler_job_lease where job_name = ${job}`;
    await sql`delete from scheduler_execution_log where job_name = ${job}`;
    await sql.end();
  }
});

Deno.test("a caller blocked while the holder releases the lease still gets a real lease row", async () => {
  // The holder locks its lease row; the caller's acquire blocks on it; the holder
  // then deletes (releases) and commits. The caller must end up holding a row:
  // before the fix it answered acquired = true with no row, so a third run got in too.
  const env = stackEnv();
  const sql = connect(env);
  const holder = postgres(env.DB_URL, { max: 1, onnotice: () => {} });
  const caller = postgres(env.DB_URL, { max: 1, onnotice: () => {} });
  const job = `lease_race_${crypto.randomUUID().slice(0, 8)}`;
  const [first, second, third] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  const now = new Date();
  const until = new Date(now.getTime() + 60_000);
  try {
    await sql`select * from scheduler_acquire_lease(${job}, ${first}, ${now}, ${until})`;
    let acquiring: Promise<postgres.Row[]> | undefined;
    await holder.begin(async (tx) => {
      await tx`select 1 from scheduler_job_lease where job_name = ${job} for update`;
      acquiring = caller`select * from scheduler_acquire_lease(${job}, ${second}, ${now}, ${until})`
        .then((rows) => [...rows]);
      for (let i = 0; i < 200; i++) {
        const [blocked] = await sql`select count(*)::int as n from pg_stat_activity
          where wait_event_type = 'Lock' and query like '%scheduler_acquire_lease%'
            and pid <> pg_backend_pid()`;
        if (blocked.n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await tx`delete from scheduler_job_lease where job_name = ${job} and owner = ${first}`;
    });
    const [got] = await acquiring!;
    assert.equal(got.acquired, true);
    const rows = await sql`select owner from scheduler_job_lease where job_name = ${job}`;
    assert.deepEqual(rows.map((r) => r.owner), [second], "the caller holds a real lease row");
    const [late] =
      await sql`select * from scheduler_acquire_lease(${job}, ${third}, ${now}, ${until})`;
    assert.deepEqual([late.acquired, late.held_by], [false, second]);
  } finally {
    await sql`delete from scheduler_job_lease where job_name = ${job}`;
    await Promise.all([sql.end(), holder.end(), caller.end()]);
  }
});

Deno.test("scheduler_close_abandoned_runs() closes running rows without a live lease and leaves live ones", async () => {
  const sql = connect();
  const job = `sweep_test_${crypto.randomUUID().slice(0, 8)}`;
  const [orphan, lapsed, live] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  try {
    await sql`insert into scheduler_execution_log (id, job_name, trigger, status, started_at) values
      (${orphan}, ${job}, 'cron', 'running', now() - interval '1 hour'),
      (${lapsed}, ${job + "_b"}, 'cron', 'running', now() - interval '10 minutes'),
      (${live}, ${job + "_c"}, 'cron', 'running', now())`;
    await sql`insert into scheduler_job_lease (job_name, owner, acquired_at, expires_at) values
      (${job + "_b"}, ${lapsed}, now() - interval '10 minutes', now() - interval '7 minutes'),
      (${job + "_c"}, ${live}, now(), now() + interval '3 minutes')`;

    await sql`select public.scheduler_close_abandoned_runs()`;

    const rows =
      await sql`select id, status, finished_at, error_message from scheduler_execution_log
      where id in (${orphan}, ${lapsed}, ${live})`;
    const status = Object.fromEntries(rows.map((r) => [r.id, r.status]));
    assert.deepEqual(status, { [orphan]: "timed_out", [lapsed]: "timed_out", [live]: "running" });
    assert.match(rows.find((r) => r.id === orphan)!.error_message, /lease lapsed or is gone/);
    const [cron] = await sql`select schedule from cron.job
      where jobname = 'nightly-scheduler-close-abandoned-runs'`;
    assert.equal(cron.schedule, "*/10 * * * *");
  } finally {
    await sql`delete from scheduler_job_lease where job_name like ${job + "%"}`;
    await sql`delete from scheduler_execution_log where job_name like ${job + "%"}`;
    await sql.end();
  }
});
