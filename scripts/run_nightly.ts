// Runs every registered nightly job the way pg_cron does at 02:00 UTC (SQL ->
// pg_net -> gateway -> function), waits for the answers, and prints the log rows.
import postgres from "postgres";
import { stackEnv } from "../local/stack.ts";
import { platform } from "../local/platform.ts";

const WAIT_MS = 180_000;
const env = stackEnv();
const sql = postgres(env.DB_URL, { max: 1, onnotice: () => {} });

try {
  const [{ now: since }] = await sql`select clock_timestamp() as now`;
  const jobs =
    await sql`select job_name from scheduler_nightly_job where enabled order by job_name`;
  console.log(
    `==> dispatching ${jobs.length} nightly job(s): ${jobs.map((j) => j.job_name).join(", ")}`,
  );
  const ids = (await sql`select public.scheduler_dispatch_nightly() as id`).map((r) =>
    r.id as string
  );

  const started = Date.now();
  let responses: postgres.RowList<postgres.Row[]> = [] as never;
  while (Date.now() - started < WAIT_MS) {
    responses = await sql`select id, status_code, timed_out, error_msg from net._http_response
      where id = any(${ids}::bigint[])`;
    if (responses.length === ids.length) break;
    console.log(`    waiting for pg_net: ${responses.length}/${ids.length} answered`);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  for (const r of responses) {
    const outcome = r.timed_out ? "timed out" : r.error_msg ?? `HTTP ${r.status_code}`;
    console.log(`    pg_net request ${r.id}: ${outcome}`);
  }

  const rows = await sql`
    select job_name, trigger, status, started_at, duration_ms, error_message, summary
    from scheduler_execution_log
    where trigger = 'cron' and started_at >= ${since}
    order by job_name, started_at`;
  console.log("==> scheduler_execution_log");
  console.table(rows.map((r) => ({
    job_name: r.job_name,
    status: r.status,
    started_at: r.started_at.toISOString(),
    duration_ms: r.duration_ms,
    error: r.error_message ?? "",
    summary: r.summary === null ? "" : JSON.stringify(r.summary),
  })));
  const demo = await fetch(`http://127.0.0.1:${platform.DEMO_PORTAL_PORT}/_demo/stats`).then(
    (r) => r.json(),
    () => null,
  );
  if (demo) {
    console.log(
      `==> demo Dynamics portal: ${demo.rows} records held, ${demo.upserts} upserts, ${demo.tokens} token(s) issued`,
    );
  }
  const bad = rows.filter((r) => r.status !== "succeeded").length +
    (ids.length - responses.filter((r) => r.status_code === 200).length);
  if (bad > 0) {
    console.log(`==> ${bad} problem(s): see the rows above and .local/logs/function.log`);
    Deno.exitCode = 1;
  }
} finally {
  await sql.end();
}
