import type { DatabaseFacts, DoctorFacts, HeartbeatFact } from "./doctor_facts.ts";
import { EXPECTED_CRON_JOBS, REQUIRED_VAULT_SECRETS } from "./expected_cron_jobs.ts";

/** One line of doctor's report: ok, or what is wrong and what to do; a warning is ok but worth a look. */
export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly warning?: boolean;
  readonly message: string;
}

const FUNCTION_URL_HINT = "https://<ref>.supabase.co/functions/v1/nightly-scheduler";

/** Judges what doctor gathered; pure, so every verdict is unit-tested with made-up facts. */
export function evaluateDoctor(facts: DoctorFacts, functionUrl: string): CheckResult[] {
  const db = facts.database;
  const results: CheckResult[] = [];
  if (db instanceof Error) {
    results.push(fail("database", `${db.message}: the database checks could not run`));
  } else {
    results.push(...cronChecks(db), commandCheck(db), ...vaultChecks(db));
  }
  results.push(functionCheck(facts.functionProbe, functionUrl));
  results.push(heartbeatCheck(facts.heartbeat));
  if (!(db instanceof Error)) {
    results.push(lastNightCheck(db), runnerCheck(db), alertCheck(db), retentionCheck(db));
  }
  return results;
}

function cronChecks(db: DatabaseFacts): CheckResult[] {
  return EXPECTED_CRON_JOBS.map(({ name, schedules }) => {
    const check = `cron ${name}`;
    const job = db.cron_jobs.find((j) => j.jobname === name);
    const select = `(select jobid from cron.job where jobname = '${name}')`;
    if (job === undefined) {
      return fail(check, "the pg_cron job is missing: apply the migrations (`supabase db push`)");
    }
    if (!job.active) {
      return fail(
        check,
        `the pg_cron job is inactive: select cron.alter_job(${select}, active := true)`,
      );
    }
    if (!schedules.includes(job.schedule)) {
      const expected = schedules.map((schedule) => `'${schedule}'`).join(" or ");
      return fail(
        check,
        `runs on '${job.schedule}', expected ${expected} (UTC): ` +
          `select cron.alter_job(${select}, schedule := '${schedules.at(-1)}')`,
      );
    }
    return pass(check, `exists, active, schedule '${job.schedule}'`);
  });
}

function commandCheck(db: DatabaseFacts): CheckResult {
  const leaky = db.cron_jobs.filter((j) => j.command_has_url || j.command_has_secret);
  if (leaky.length === 0) {
    return pass("cron commands", `${db.cron_jobs.length} jobs, none names a URL or a secret`);
  }
  const what = leaky.map((j) =>
    `'${j.jobname}' (${
      [j.command_has_url && "URL", j.command_has_secret && "secret"].filter(Boolean).join(" and ")
    })`
  );
  return fail(
    "cron commands",
    `${what.join(", ")} hold configuration in cron.job: keep the URL and secret in Vault and ` +
      "schedule `select public.scheduler_dispatch_nightly()` instead",
  );
}

function vaultChecks(db: DatabaseFacts): CheckResult[] {
  return REQUIRED_VAULT_SECRETS.map((name) =>
    db.vault_secrets[name] ? pass(`vault ${name}`, "exists") : fail(
      `vault ${name}`,
      `Vault has no '${name}': select vault.create_secret('<value>', '${name}') ` +
        "in the SQL editor (see README, Production)",
    )
  );
}

function functionCheck(probe: DoctorFacts["functionProbe"], functionUrl: string): CheckResult {
  if (probe instanceof Error) return fail("function", `${probe.message}`);
  if (probe.status === 405 && probe.code === "method_not_allowed") {
    return pass("function", `answers at ${functionUrl}`);
  }
  return fail(
    "function",
    `${functionUrl} answered HTTP ${probe.status}${probe.code ? ` (${probe.code})` : ""}, ` +
      "not the function: deploy it (`supabase functions deploy nightly-scheduler --use-api`) " +
      "or check its logs",
  );
}

function heartbeatCheck(heartbeat: HeartbeatFact | Error): CheckResult {
  const name = "vault secret accepted";
  if (heartbeat instanceof Error) return fail(name, heartbeat.message);
  const { status_code: status, run_status: run, execution_id: id } = heartbeat;
  if (status === 200 && (run === "succeeded" || run === "running" || run === "skipped")) {
    return pass(
      name,
      `a heartbeat sent like pg_cron's (Vault URL and secret, pg_net) was accepted: ${run} (execution ${id})`,
    );
  }
  if (status === 403 && heartbeat.error_code === "manual_trigger_disabled") {
    return pass(
      name,
      "a heartbeat sent like pg_cron's (Vault URL and secret, pg_net) passed the secret check; " +
        "this environment refuses manual runs, so nothing ran",
    );
  }
  if (status === 200) {
    return fail(
      name,
      `the heartbeat was accepted but ended '${run}': see \`deno task scheduler status --job heartbeat\``,
    );
  }
  if (status === 401) {
    return fail(
      name,
      "the function refused Vault's nightly_scheduler_secret (HTTP 401): the function reads the same " +
        "Vault secret through PostgREST; check scheduler_current_secret() and the function's SUPABASE_URL and key",
    );
  }
  if (status === null) {
    const why = heartbeat.timed_out ? "timed out" : `failed: ${heartbeat.error ?? "no answer"}`;
    return fail(
      name,
      `pg_net's request to Vault's nightly_scheduler_url ${why}: set it to ${FUNCTION_URL_HINT} ` +
        "with vault.update_secret()",
    );
  }
  if (status >= 500) {
    return fail(
      name,
      `the function behind Vault's nightly_scheduler_url did not run the heartbeat (HTTP ${status}): ` +
        "check that it is deployed and read its logs",
    );
  }
  return fail(
    name,
    `Vault's nightly_scheduler_url answered HTTP ${status}${
      heartbeat.error_code ? ` (${heartbeat.error_code})` : ""
    }, not the function: set it to ${FUNCTION_URL_HINT} with vault.update_secret()`,
  );
}

function lastNightCheck(db: DatabaseFacts): CheckResult {
  const name = "last night";
  const night = db.last_night;
  if (night === null) return pass(name, "no nightly run recorded yet (a new deployment)");
  if (!night.cron_ran) {
    return fail(
      name,
      `the nightly pg_cron job did not run for the night of ${night.slot}: check that pg_cron ` +
        "runs (select * from cron.job_run_details order by start_time desc limit 5)",
    );
  }
  const problems: string[] = [];
  const notes: string[] = [];
  for (const job of night.jobs) {
    if (job.fallback) {
      problems.push(
        `${job.job_name}'s dispatches never reached the function (${job.lost_reason}); ` +
          `its SQL runner took the night over (${job.outcome ?? "not run yet"})`,
      );
    } else if (job.sql > 0 && job.sql === job.dispatched) {
      notes.push(`${job.job_name} ran on its SQL runner (${job.outcome ?? "pending"})`);
    } else if (job.dispatched === 0) {
      if (job.window_ended) problems.push(`${job.job_name} was never dispatched`);
      else notes.push(`${job.job_name} not dispatched yet`);
    } else if (job.delivered === 0 && job.lost > 0) {
      problems.push(`${job.job_name}'s dispatches never reached the function (${job.lost_reason})`);
    } else if (job.lost > 0) {
      notes.push(`${job.job_name}: ${job.lost} lost, then delivered`);
    } else if (job.delivered === 0) {
      notes.push(`${job.job_name} pending`);
    }
  }
  if (problems.length > 0) {
    return fail(
      name,
      `night of ${night.slot}: ${problems.join("; ")}: check Vault's nightly_scheduler_url, ` +
        "net._http_response and `deno task scheduler status`",
    );
  }
  const extra = notes.length > 0 ? ` (${notes.join("; ")})` : "";
  return pass(
    name,
    `night of ${night.slot}: pg_net delivered every dispatch to the function${extra}; ` +
      ranBy(night.jobs),
  );
}

/** "work done by function: a, b; by sql: c": which runner did each job's night. */
function ranBy(jobs: NonNullable<DatabaseFacts["last_night"]>["jobs"]): string {
  const by = (runner: string) => jobs.filter((j) => j.runner === runner).map((j) => j.job_name);
  const parts = ["function", "sql"].filter((r) => by(r).length > 0).map((r) =>
    `by ${r}: ${by(r).join(", ")}`
  );
  return parts.length === 0 ? "no work done yet" : `work done ${parts.join("; ")}`;
}

/** A job pinned to its SQL runner works, but without the function: worth a warning, not a failure. */
function runnerCheck(db: DatabaseFacts): CheckResult {
  const pinned = db.sql_pinned_jobs ?? [];
  if (pinned.length === 0) return pass("runners", "every job runs through the function");
  return warn(
    "runners",
    `${
      pinned.map((j) => `${j.job_name} (${j.sql_runner})`).join(", ")
    } pinned to the SQL runner: the nightly work runs without the function; once the function ` +
      "is back: update scheduler_nightly_job set runner = 'function' where job_name = '<job>'",
  );
}

function alertCheck(db: DatabaseFacts): CheckResult {
  const webhook = db.alert_webhook
    ? "webhook configured"
    : "no webhook URL in Vault (nightly_scheduler_alert_webhook_url): alerts are rows only";
  if (db.open_alerts.length === 0) return pass("alerts", `none open; ${webhook}`);
  const list = db.open_alerts.slice(0, 5).map((a) => `${a.job_name} ${a.slot} ${a.kind}`);
  const paused = db.paused_jobs.length > 0
    ? `; paused: ${db.paused_jobs.map((j) => j.job_name).join(", ")}`
    : "";
  return fail(
    "alerts",
    `${db.open_alerts.length} open (${list.join(", ")})${paused}: ` +
      "see `deno task scheduler status`; an alert resolves when its night succeeds",
  );
}

function retentionCheck(db: DatabaseFacts): CheckResult {
  const name = "retention";
  if (!db.retention.enabled) {
    return fail(
      name,
      "scheduler_retention is not an enabled nightly job: " +
        "update scheduler_nightly_job set enabled = true where job_name = 'scheduler_retention'",
    );
  }
  const last = db.retention.last_success_at;
  if (db.last_night === null) {
    return pass(name, last ? `last purge ${last}` : "no nightly run yet");
  }
  const nightStart = Date.parse(`${db.last_night.slot}T00:00:00Z`);
  if (last === null || Date.parse(last) < nightStart) {
    return fail(
      name,
      `the purge has not succeeded since the night of ${db.last_night.slot}: ` +
        "see `deno task scheduler status --job scheduler_retention`",
    );
  }
  return pass(name, `last purge ${last}`);
}

function pass(name: string, message: string): CheckResult {
  return { name, ok: true, message };
}

function warn(name: string, message: string): CheckResult {
  return { name, ok: true, warning: true, message };
}

function fail(name: string, message: string): CheckResult {
  return { name, ok: false, message };
}
