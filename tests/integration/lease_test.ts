// The run functions (scheduler_start_run / scheduler_heartbeat / scheduler_finish_run /
// scheduler_close_dead_run) on the real database.
import assert from "node:assert/strict";
import postgres from "postgres";
import { connect, stackEnv } from "../../local/stack.ts";

const TTL_MS = 30_000;

function start(sql: postgres.Sql, id: string, job: string, now: string | Date) {
  return sql`select * from scheduler_start_run(${id}, ${job}, null, ${now}, ${TTL_MS}, true)`;
}

Deno.test("a lapsed lease is taken over and the dead run is closed as timed_out at its last heartbeat", async () => {
  const sql = connect();
  const job = `lease_test_${crypto.randomUUID().slice(0, 8)}`;
  const [dead, refused, next] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  try {
    const [held] = await start(sql, dead, job, "2026-01-01T02:00:00Z");
    assert.deepEqual([held.status, held.trigger], ["running", "manual"]);
    const [beat] = await sql`select scheduler_heartbeat(${dead}, ${job},
      '2026-01-01T02:00:10Z', ${TTL_MS}) as held`;
    assert.equal(beat.held, "held");
    // The heartbeat moved the lease to 02:00:40: at 02:00:39 it is still live.
    const [skipped] = await start(sql, refused, job, "2026-01-01T02:00:39Z");
    assert.deepEqual([skipped.status, skipped.held_by], ["skipped", dead]);
    const [taken] = await start(sql, next, job, "2026-01-01T02:00:40Z");
    assert.equal(taken.status, "running");
    const [closed] = await sql`select status, finished_at, error_message
      from scheduler_execution_log where id = ${dead}`;
    assert.equal(closed.status, "timed_out");
    assert.equal(closed.finished_at.toISOString(), "2026-01-01T02:00:10.000Z");
    assert.match(closed.error_message, /last heartbeat/);
    const [late] = await sql`select scheduler_heartbeat(${dead}, ${job},
      '2026-01-01T02:00:41Z', ${TTL_MS}) as held`;
    assert.equal(late.held, "lost", "the dead run's heartbeat no longer holds anything");
    await sql`select scheduler_finish_run(${dead}, ${job}, 'succeeded',
      '2026-01-01T02:00:42Z', null, null)`;
    const [still] = await sql`select owner from scheduler_job_lease where job_name = ${job}`;
    assert.equal(still.owner, next, "a stale owner cannot release a lease taken over");
  } finally {
    await sql`delete from scheduler_job_lease where job_name = ${job}`;
    await sql`delete from scheduler_execution_log where job_name = ${job}`;
    await sql.end();
  }
});

Deno.test("a run that waited for the lease starts when the previous run ended: no overlap in the log", async () => {
  // The holder's finishing transaction has the lease row locked; the next
  // start (its clock read before) blocks on it. Before the fix it recorded the
  // clock it read before waiting, so the log showed the two runs overlapping.
  const env = stackEnv();
  const sql = connect(env);
  const holder = postgres(env.DB_URL, { max: 1, onnotice: () => {} });
  const caller = postgres(env.DB_URL, { max: 1, onnotice: () => {} });
  const job = `lease_wait_${crypto.randomUUID().slice(0, 8)}`;
  const [first, second] = [crypto.randomUUID(), crypto.randomUUID()];
  try {
    await start(sql, first, job, "2026-01-01T02:00:00Z");
    let starting: Promise<postgres.Row[]> | undefined;
    await holder.begin(async (tx) => {
      await tx`select scheduler_finish_run(${first}, ${job}, 'succeeded',
        '2026-01-01T02:00:08Z', null, null)`;
      starting = start(caller, second, job, "2026-01-01T02:00:05Z").then((rows) => [...rows]);
      for (let i = 0; i < 200; i++) {
        const [blocked] = await sql`select count(*)::int as n from pg_stat_activity
          where wait_event_type = 'Lock' and query like '%scheduler_start_run%'
            and pid <> pg_backend_pid()`;
        if (blocked.n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    });
    const [got] = await starting!;
    assert.equal(got.status, "running");
    const rows = await sql`select id, started_at, finished_at from scheduler_execution_log
      where job_name = ${job} order by started_at`;
    const [a, b] = [rows.find((r) => r.id === first)!, rows.find((r) => r.id === second)!];
    assert.ok(
      b.started_at >= a.finished_at,
      `second run started ${b.started_at.toISOString()}, first ended ${a.finished_at.toISOString()}`,
    );
    assert.equal(b.started_at.toISOString(), "2026-01-01T02:00:08.000Z");
  } finally {
    await sql`delete from scheduler_job_lease where job_name = ${job}`;
    await sql`delete from scheduler_execution_log where job_name = ${job}`;
    await Promise.all([sql.end(), holder.end(), caller.end()]);
  }
});

Deno.test("scheduler_reconcile() closes running rows without a live lease through the one closer, and leaves live ones", async () => {
  const sql = connect();
  const job = `sweep_test_${crypto.randomUUID().slice(0, 8)}`;
  const [orphan, lapsed, live] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  try {
    await sql`insert into scheduler_execution_log
      (id, job_name, trigger, status, started_at, heartbeat_at) values
      (${orphan}, ${job}, 'manual', 'running', now() - interval '1 hour', null),
      (${lapsed}, ${job + "_b"}, 'manual', 'running', now() - interval '10 minutes',
        now() - interval '9 minutes'),
      (${live}, ${job + "_c"}, 'manual', 'running', now(), now())`;
    await sql`insert into scheduler_job_lease (job_name, owner, acquired_at, expires_at) values
      (${job + "_b"}, ${lapsed}, now() - interval '10 minutes', now() - interval '8 minutes'),
      (${job + "_c"}, ${live}, now(), now() + interval '30 seconds')`;

    await sql`select * from scheduler_reconcile()`;

    const rows = await sql`select id, status, started_at, finished_at, heartbeat_at, error_message
      from scheduler_execution_log where id in (${orphan}, ${lapsed}, ${live})`;
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    assert.deepEqual([byId[orphan].status, byId[lapsed].status, byId[live].status], [
      "timed_out",
      "timed_out",
      "running",
    ]);
    assert.equal(byId[lapsed].finished_at.getTime(), byId[lapsed].heartbeat_at.getTime());
    assert.equal(byId[orphan].finished_at.getTime(), byId[orphan].started_at.getTime());
    assert.match(byId[orphan].error_message, /last heartbeat/);
    const [lease] = await sql`select owner from scheduler_job_lease where job_name = ${job + "_b"}`;
    assert.equal(lease.owner, null, "closing the dead run frees its lease");
    const [cron] = await sql`select schedule from cron.job
      where jobname = 'nightly-scheduler-reconcile'`;
    // Debian's pg_cron 1.4 has minutes only; hosted 1.6 runs it every 10 seconds.
    assert.equal(cron.schedule, "* * * * *");
  } finally {
    await sql`delete from scheduler_job_lease where job_name like ${job + "%"}`;
    await sql`delete from scheduler_execution_log where job_name like ${job + "%"}`;
    await sql.end();
  }
});
