import type { DatabaseFacts, DoctorFacts, HeartbeatFact } from "./doctor_facts.ts";
import { EXPECTED_CRON_JOBS, REQUIRED_VAULT_SECRETS } from "./expected_cron_jobs.ts";

/** One line of doctor's report: ok, or what is wrong and what to do. */
export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
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
  if (!(db instanceof Error)) results.push(lastNightCheck(db), alertCheck(db), retentionCheck(db));
  return results;
}

function cronChecks(db: DatabaseFacts): CheckResult[] {
  return EXPECTED_CRON_JOBS.map(({ name, schedule }) => {
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
    if (job.schedule !== schedule) {
      return fail(
        check,
        `runs on '${job.schedule}', expected '${schedule}' (UTC): ` +
          `select cron.alter_job(${select}, schedule := '${schedule}')`,
      );
    }
    return pass(check, `exists, active, schedule '${schedule}'`);
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
  const expected = previousFire(new Date(db.now));
  const started = new Date(night.started_at);
  if (
    expected !== null && started.getTime() < expected.getTime() - 60_000 &&
    new Date(db.now).getTime() > expected.getTime() + 10 * 60_000
  ) {
    return fail(
      name,
      `the nightly cron job has not run since ${night.started_at}: check that pg_cron runs ` +
        "(select * from cron.job_run_details order by start_time desc limit 5)",
    );
  }
  if (night.cron_status !== "succeeded") {
    return fail(
      name,
      `pg_cron's nightly run ${night.cron_status}: ${night.return_message ?? "no message"}`,
    );
  }
  const missing = night.jobs.filter((j) => !j.received).map((j) => j.job_name);
  if (missing.length > 0) {
    return fail(
      name,
      `the dispatch of ${missing.join(", ")} at ${night.started_at} never reached the function: ` +
        "check net._http_response and Vault's nightly_scheduler_url",
    );
  }
  return pass(
    name,
    `every dispatch of ${night.started_at} reached the function (${night.jobs.length} jobs)`,
  );
}

function alertCheck(db: DatabaseFacts): CheckResult {
  if (db.open_alerts === null) return pass("alerts", "no alert table in this database");
  if (db.open_alerts.length === 0) return pass("alerts", "none open");
  const list = db.open_alerts.slice(0, 5).map((a) => `${a.job_name} ${a.slot} ${a.kind}`);
  return fail(
    "alerts",
    `${db.open_alerts.length} open (${list.join(", ")}): see \`deno task scheduler status\``,
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
  if (last === null || new Date(last).getTime() < new Date(db.last_night.started_at).getTime()) {
    return fail(
      name,
      `the purge has not succeeded since the night of ${db.last_night.started_at}: ` +
        "see `deno task scheduler status --job scheduler_retention`",
    );
  }
  return pass(name, `last purge ${last}`);
}

/** The last 02:00 UTC at or before `now`, from the expected nightly schedule. */
function previousFire(now: Date): Date | null {
  const nightly = EXPECTED_CRON_JOBS.find((j) => j.name === "nightly-scheduler");
  const match = nightly && /^(\d+) (\d+) \* \* \*$/.exec(nightly.schedule);
  if (!match) return null;
  const fire = new Date(now);
  fire.setUTCHours(Number(match[2]), Number(match[1]), 0, 0);
  if (fire.getTime() > now.getTime()) fire.setUTCDate(fire.getUTCDate() - 1);
  return fire;
}

function pass(name: string, message: string): CheckResult {
  return { name, ok: true, message };
}

function fail(name: string, message: string): CheckResult {
  return { name, ok: false, message };
}
