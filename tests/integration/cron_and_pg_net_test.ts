// The path pg_cron uses: cron.job -> scheduler_dispatch() -> Vault -> pg_net -> gateway -> function.
import assert from "node:assert/strict";
import { connect, functionUrl, stackEnv } from "../../local/stack.ts";
import type postgres from "postgres";

async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

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
  try {
    // pg_cron 1.4 has minute granularity: schedule for the coming minute (UTC),
    // and not in a minute's last seconds, when "the coming minute" may start first.
    const [{ second }] = await sql`select extract(second from now())::int as second`;
    if (second >= 55) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
    const [{ jobid }] = await sql`select cron.schedule(${name},
      to_char(now() at time zone 'utc' + interval '1 minute', 'FMMI FMHH24 * * *'),
      'select public.scheduler_dispatch(''heartbeat'')') as jobid`;
    console.log(`    waiting up to 90 s for pg_cron job '${name}' to fire`);
    const run = await poll("pg_cron to run the job", 90_000, async () => {
      const [row] = await sql`select status, return_message, start_time from cron.job_run_details
        where jobid = ${jobid} and status in ('succeeded', 'failed')`;
      return row;
    });
    assert.equal(run.status, "succeeded", run.return_message);
    const execution = await poll("the cron execution row", 30_000, async () => {
      const [row] = await sql`select id, status, trigger from scheduler_execution_log
        where job_name = 'heartbeat' and trigger = 'cron' and started_at >= ${run.start_time}
          and status <> 'running'
        order by started_at limit 1`;
      return row;
    });
    assert.equal(execution.status, "succeeded");
    const response = await poll("pg_net's 200", 30_000, async () => {
      const [row] = await sql`select status_code from net._http_response
        where content like ${"%" + execution.id + "%"}`;
      return row;
    });
    assert.equal(response.status_code, 200);
  } finally {
    await sql`select cron.unschedule(${name}) where exists (select from cron.job where jobname = ${name})`;
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

Deno.test("scheduler_dispatch_nightly() posts one request per enabled nightly job, each answered 200", async () => {
  const sql = connect();
  try {
    const jobs = await sql`select job_name from scheduler_nightly_job where enabled`;
    assert.ok(jobs.some((j) => j.job_name === "heartbeat"));
    const ids = (await sql`select public.scheduler_dispatch_nightly() as id`).map((r) => r.id);
    assert.equal(ids.length, jobs.length);
    for (const id of ids) {
      const response = await responseFor(sql, id, 150_000);
      assert.equal(response.status_code, 200, `request ${id}: ${response.content}`);
      const body = JSON.parse(response.content);
      assert.ok(["succeeded", "skipped"].includes(body.status), response.content);
    }
  } finally {
    await sql.end();
  }
});

Deno.test("a run that outlives pg_net's timeout is neither cut off nor lost from the log", async () => {
  const sql = connect();
  const env = stackEnv();
  try {
    const [{ id }] = await sql`select net.http_post(
      url := ${functionUrl(env)},
      body := ${sql.json({ job_name: "heartbeat", trigger: "cron", payload: { hold_ms: 2500 } })},
      headers := ${
      sql.json({
        "Content-Type": "application/json",
        Authorization: `Bearer ${env.SCHEDULER_SECRET}`,
      })
    },
      timeout_milliseconds := 500) as id`;
    const response = await responseFor(sql, id);
    assert.equal(response.timed_out, true);
    assert.equal(response.status_code, null);
    const row = await poll("the long run to finish", 30_000, async () => {
      const [row] = await sql`select status, summary from scheduler_execution_log
        where job_name = 'heartbeat' and (summary ->> 'held_ms')::int = 2500
          and started_at > now() - interval '1 minute'
        order by started_at desc limit 1`;
      return row?.status === "succeeded" ? row : undefined;
    });
    assert.equal(row.summary.held_ms, 2500);
  } finally {
    await sql.end();
  }
});
