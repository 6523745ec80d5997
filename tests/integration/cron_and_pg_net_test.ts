// The path pg_cron uses: cron.job -> scheduler_dispatch() -> Vault -> pg_net -> gateway -> function.
import assert from "node:assert/strict";
import { connect, stackEnv } from "../../local/stack.ts";
import { dropSlot, poll, slotRuns, uniqueSlot } from "../support/nightly.ts";
import type postgres from "postgres";

function responseFor(sql: postgres.Sql, requestId: string, timeoutMs = 30_000) {
  return poll(`pg_net response ${requestId}`, timeoutMs, async () => {
    const [row] = await sql`select status_code, content, timed_out, error_msg
      from net._http_response where id = ${requestId}`;
    return row;
  });
}

Deno.test("pg_cron fires the dispatch: cron.job_run_details succeeded, pg_net got 200, the run is logged as cron", async () => {
  const sql = connect();
  const name = `it-heartbeat-${crypto.randomUUID().slice(0, 8)}`;
  const slot = uniqueSlot();
  try {
    // pg_cron 1.4 has minute granularity: schedule for the coming minute (UTC),
    // and not in a minute's last seconds, when "the coming minute" may start first.
    const [{ second }] = await sql`select extract(second from now())::int as second`;
    if (second >= 55) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
    const [{ jobid }] = await sql`select cron.schedule(${name},
      to_char(now() at time zone 'utc' + interval '1 minute', 'FMMI FMHH24 * * *'),
      ${`select public.scheduler_dispatch('heartbeat', '${slot}')`}) as jobid`;
    console.log(`    waiting up to 90 s for pg_cron job '${name}' to fire`);
    const run = await poll("pg_cron to run the job", 90_000, async () => {
      const [row] = await sql`select status, return_message, start_time from cron.job_run_details
        where jobid = ${jobid} and status in ('succeeded', 'failed')`;
      return row;
    }, 500);
    assert.equal(run.status, "succeeded", run.return_message);
    const execution = await poll("the cron execution row", 30_000, async () => {
      const [row] = await slotRuns(sql, "heartbeat", slot);
      return row?.status === "running" ? undefined : row;
    });
    assert.deepEqual([execution.status, execution.trigger, execution.attempt], [
      "succeeded",
      "cron",
      1,
    ]);
    const [dispatch] = await sql`select request_id, outcome, execution_id from scheduler_dispatch
      where slot = ${slot}`;
    assert.deepEqual([dispatch.outcome, dispatch.execution_id], ["delivered", execution.id]);
    const response = await responseFor(sql, dispatch.request_id);
    assert.equal(response.status_code, 200);
    assert.equal(JSON.parse(response.content).execution_id, execution.id);
  } finally {
    await sql`select cron.unschedule(${name}) where exists (select from cron.job where jobname = ${name})`;
    await dropSlot(sql, slot);
    await sql.end();
  }
});

Deno.test("the nightly schedule is in cron.job at 02:00 UTC and no command holds the secret or a key", async () => {
  const sql = connect();
  const env = stackEnv();
  try {
    const [nightly] =
      await sql`select schedule, command from cron.job where jobname = 'nightly-scheduler'`;
    assert.equal(nightly.schedule, "0 2 * * *");
    assert.equal(nightly.command, "select public.scheduler_dispatch_nightly()");
    for (const job of await sql`select jobname, command from cron.job`) {
      for (const secret of [env.SCHEDULER_SECRET, env.SERVICE_ROLE_KEY, env.JWT_SECRET]) {
        assert.ok(!job.command.includes(secret), `cron job '${job.jobname}' holds a secret`);
      }
      assert.doesNotMatch(job.command, /https?:\/\//, `cron job '${job.jobname}' holds a URL`);
    }
  } finally {
    await sql.end();
  }
});

Deno.test("scheduler_dispatch_nightly() acknowledges each 02:00 job at once, and hlf_dynamics_sync starts only after certification_expiry_check ended", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  try {
    const first = await sql`select job_name from scheduler_nightly_job
      where enabled and pause_reason is null and run_at is null and run_after is null
      order by job_name`;
    assert.deepEqual(first.map((j) => j.job_name), ["certification_expiry_check", "heartbeat"]);
    const ids = (await sql`select public.scheduler_dispatch_nightly(${slot}) as id`).map((r) =>
      r.id
    );
    assert.equal(ids.length, first.length);
    const again = await sql`select public.scheduler_dispatch_nightly(${slot}) as id`;
    assert.equal(again.length, 0, "a slot is dispatched once");
    const dispatches = await sql`select job_name, request_id from scheduler_dispatch
      where slot = ${slot} order by job_name`;
    for (const d of dispatches) {
      const response = await responseFor(sql, d.request_id);
      assert.equal(response.status_code, 200, `${d.job_name}: ${response.content}`);
      const body = JSON.parse(response.content);
      assert.deepEqual([body.status, body.trigger, body.slot], ["running", "cron", slot]);
    }
    const expiry = await poll("certification_expiry_check to end", 150_000, async () => {
      const [row] = await slotRuns(sql, "certification_expiry_check", slot);
      return row && row.status !== "running" ? row : undefined;
    }, 500);
    const sync = await poll("hlf_dynamics_sync to be dispatched and end", 60_000, async () => {
      const [row] = await slotRuns(sql, "hlf_dynamics_sync", slot);
      return row && row.status !== "running" ? row : undefined;
    }, 500);
    assert.equal(sync.status, "succeeded");
    assert.ok(
      sync.started_at >= expiry.finished_at,
      `sync started ${sync.started_at.toISOString()} before expiry ended ${expiry.finished_at.toISOString()}`,
    );
  } finally {
    await dropSlot(sql, slot);
    await sql.end();
  }
});
