// Runs one night the way pg_cron does at 02:00 UTC (SQL -> dispatch records ->
// pg_net -> gateway -> function), sweeping as the hosted schedule would, until
// every nightly job is done with the slot; prints the slot's log rows and checks
// that the demo portal holds every HLF certification in its final status.
// The night is today's slot (UTC) if it has not run yet, else the day after the
// latest slot run here: each run of nightly.sh is the next night.
import postgres from "postgres";
import { platform } from "../local/platform.ts";
import { stackEnv } from "../local/stack.ts";

const WAIT_MS = 300_000;
const SWEEP_EVERY_MS = 5_000;
const env = stackEnv();
const sql = postgres(env.DB_URL, { max: 1, onnotice: () => {} });

try {
  const [{ slot }] = await sql`select greatest(
      (now() at time zone 'utc')::date,
      (select max(slot) + 1 from scheduler_dispatch))::text as slot`;
  const jobs = await sql`select job_name, run_after from scheduler_nightly_job
    where enabled and pause_reason is null order by job_name`;
  console.log(
    `==> night ${slot}: ${
      jobs.map((j) => j.job_name + (j.run_after ? ` (after ${j.run_after})` : "")).join(", ")
    }`,
  );
  await sql`select public.scheduler_dispatch_nightly(${slot})`;

  const started = Date.now();
  let lastSweep = started;
  while (Date.now() - started < WAIT_MS) {
    const open = await sql`select job_name from scheduler_nightly_job
      where enabled and pause_reason is null
        and not public.scheduler_slot_settled(job_name, ${slot}, now())`;
    if (open.length === 0) break;
    console.log(`    waiting for: ${open.map((j) => j.job_name).join(", ")}`);
    if (Date.now() - lastSweep >= SWEEP_EVERY_MS) {
      await sql`select * from public.scheduler_reconcile()`;
      // The SQL runner's pg_cron job, on the same cadence: takes pinned and fallback dispatches.
      await sql`call public.scheduler_run_sql_dispatches()`;
      lastSweep = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }

  const responses = await sql`select d.job_name, d.attempt, r.status_code, r.timed_out, r.error_msg
    from scheduler_dispatch d left join net._http_response r on r.id = d.request_id
    where d.slot = ${slot} order by d.created_at`;
  for (const r of responses) {
    const outcome = r.timed_out ? "timed out" : r.error_msg ?? `HTTP ${r.status_code ?? "?"}`;
    console.log(`    pg_net: ${r.job_name} attempt ${r.attempt}: ${outcome}`);
  }
  const rows = await sql`
    select job_name, attempt, trigger, runner, status, started_at, duration_ms, error_message, summary
    from scheduler_execution_log where slot = ${slot}
    order by started_at, job_name`;
  console.log("==> scheduler_execution_log");
  console.table(rows.map((r) => ({
    job_name: r.job_name,
    attempt: r.attempt,
    trigger: r.trigger,
    runner: r.runner,
    status: r.status,
    started_at: r.started_at.toISOString(),
    duration_ms: r.duration_ms,
    error: r.error_message ?? "",
    summary: r.summary === null ? "" : JSON.stringify(r.summary),
  })));
  let bad = jobs.filter((j) =>
    !rows.some((r) => r.job_name === j.job_name && r.status === "succeeded")
  ).length;

  const held = await fetch(`http://127.0.0.1:${platform.DEMO_PORTAL_PORT}/_demo/statuses`).then(
    (r) => r.json() as Promise<Record<string, string>>,
    () => null,
  );
  if (held) {
    const hlf = await sql`select c.id, c.status from certification c
      join peer_mentor pm on pm.id = c.peer_mentor_id
      join organisation o on o.id = pm.organisation_id where o.code = 'hlf'`;
    const stale = hlf.filter((c) => held[c.id] !== c.status).length;
    console.log(
      `==> demo Dynamics portal: ${
        hlf.length - stale
      } of ${hlf.length} HLF certifications in their final status`,
    );
    bad += stale > 0 ? 1 : 0;
  }
  if (bad > 0) {
    console.log(`==> ${bad} problem(s): see the rows above and .local/logs/function.log`);
    Deno.exitCode = 1;
  }
} finally {
  await sql.end();
}
