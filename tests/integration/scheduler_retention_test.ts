// The nightly purge through the function: recorded like any run, deletes only past its period.
import assert from "node:assert/strict";
import { callScheduler, connect } from "../../local/stack.ts";

Deno.test("scheduler_retention runs through the function, is logged, and deletes only rows past their period", async () => {
  const sql = connect();
  const job = `it_retention_${crypto.randomUUID().slice(0, 8)}`;
  try {
    const ages = [95, 91, 89, 2];
    for (const days of ages) {
      await sql`insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at)
        values (gen_random_uuid(), ${job}, 'cron', 'failed', now() - make_interval(days => ${days}),
          now() - make_interval(days => ${days}) + interval '1 second')`;
    }
    const { status, body } = await callScheduler({
      job_name: "scheduler_retention",
      payload: { batch_size: 1 },
    });
    assert.equal(status, 200);
    assert.equal(body.status, "succeeded", JSON.stringify(body));
    const summary = body.summary as { deleted: Record<string, number>; batches: number };
    assert.ok(summary.deleted.scheduler_execution_log >= 2, JSON.stringify(summary));
    // Batches of one row: at least one batch per deleted row, plus the empty one that ends it.
    assert.ok(summary.batches >= summary.deleted.scheduler_execution_log + 1);
    const left = await sql`select extract(day from now() - started_at)::int as days
      from scheduler_execution_log where job_name = ${job} order by started_at`;
    assert.deepEqual(left.map((r) => r.days), [89, 2]);
    const [row] = await sql`select status, trigger, summary from scheduler_execution_log
      where id = ${body.execution_id as string}`;
    assert.equal(row.status, "succeeded");
    assert.deepEqual(row.summary.deleted, summary.deleted);
  } finally {
    await sql`delete from scheduler_execution_log where job_name = ${job}`;
    await sql.end();
  }
});

Deno.test("scheduler_retention is a nightly job and replaces the unrecorded pg_cron trim", async () => {
  const sql = connect();
  try {
    const [nightly] = await sql`select enabled, run_at from scheduler_nightly_job
      where job_name = 'scheduler_retention'`;
    assert.equal(nightly?.enabled, true);
    assert.equal(nightly?.run_at, "03:30:00", "after the 02:00 jobs");
    const trims =
      await sql`select 1 from cron.job where jobname = 'nightly-scheduler-trim-cron-history'`;
    assert.equal(trims.length, 0);
  } finally {
    await sql.end();
  }
});
