import assert from "node:assert/strict";
import { evaluateDoctor } from "../../cli/doctor_checks.ts";
import type { DatabaseFacts, DoctorFacts } from "../../cli/doctor_facts.ts";

const URL = "https://abc.supabase.co/functions/v1/nightly-scheduler";
const CRON_JOBS = [
  cron("nightly-scheduler", "0 2 * * *"),
  cron("nightly-scheduler-reconcile", "10 seconds"),
  cron("nightly-scheduler-alerts", "*/5 * * * *"),
  cron("nightly-scheduler-sql-runner", "10 seconds"),
];

function healthy(over: Partial<DatabaseFacts> = {}): DoctorFacts {
  return {
    database: {
      now: "2026-11-28T09:00:00Z",
      cron_jobs: CRON_JOBS,
      vault_secrets: { nightly_scheduler_url: true, nightly_scheduler_secret: true },
      last_night: {
        slot: "2026-11-28",
        cron_ran: true,
        jobs: [job("heartbeat"), job("hlf_dynamics_sync")],
      },
      open_alerts: [],
      alert_webhook: true,
      paused_jobs: [],
      sql_pinned_jobs: [],
      retention: { last_success_at: "2026-11-28T02:00:05Z", enabled: true },
      ...over,
    },
    functionProbe: { status: 405, code: "method_not_allowed" },
    heartbeat: {
      status_code: 200,
      timed_out: false,
      error: null,
      execution_id: "e1",
      run_status: "succeeded",
      error_code: null,
    },
  };
}

function job(job_name: string, over: Partial<NightJob> = {}): NightJob {
  return {
    job_name,
    dispatched: 1,
    delivered: 1,
    lost: 0,
    window_ended: true,
    lost_reason: null,
    sql: 0,
    runner: "function" as "function" | "sql" | null,
    outcome: "succeeded",
    fallback: false,
    ...over,
  };
}

type NightJob = NonNullable<DatabaseFacts["last_night"]>["jobs"][number];

function cron(jobname: string, schedule: string, over = {}) {
  return {
    jobname,
    schedule,
    active: true,
    command_has_url: false,
    command_has_secret: false,
    ...over,
  };
}

function failures(facts: DoctorFacts) {
  return evaluateDoctor(facts, URL).filter((r) => !r.ok);
}

Deno.test("evaluateDoctor() passes every check of a healthy deployment", () => {
  const results = evaluateDoctor(healthy(), URL);
  assert.deepEqual(results.filter((r) => !r.ok), []);
  assert.equal(results.length, 13);
});

Deno.test("evaluateDoctor() reports an inactive cron job with the statement that fixes it", () => {
  const facts = healthy({
    cron_jobs: [cron("nightly-scheduler", "0 2 * * *", { active: false }), ...CRON_JOBS.slice(1)],
  });
  const [only, ...rest] = failures(facts);
  assert.equal(rest.length, 0);
  assert.equal(only.name, "cron nightly-scheduler");
  assert.match(only.message, /inactive: select cron\.alter_job\(.*active := true\)/);
});

Deno.test("evaluateDoctor() reports a missing cron job and a wrong schedule", () => {
  const facts = healthy({ cron_jobs: [cron("nightly-scheduler", "0 3 * * *"), CRON_JOBS[1]] });
  const messages = failures(facts).map((r) => r.message);
  assert.ok(messages.some((m) => /runs on '0 3 \* \* \*', expected '0 2 \* \* \*'/.test(m)));
  assert.ok(messages.some((m) => /missing: apply the migrations/.test(m)));
});

Deno.test("evaluateDoctor() reports a cron command holding a URL or a secret", () => {
  const facts = healthy({
    cron_jobs: [
      cron("nightly-scheduler", "0 2 * * *", { command_has_url: true, command_has_secret: true }),
      ...CRON_JOBS.slice(1),
    ],
  });
  const [only] = failures(facts);
  assert.equal(only.name, "cron commands");
  assert.match(only.message, /'nightly-scheduler' \(URL and secret\)/);
});

Deno.test("evaluateDoctor() reports a missing Vault secret with the statement that creates it", () => {
  const facts = healthy({
    vault_secrets: { nightly_scheduler_url: true, nightly_scheduler_secret: false },
  });
  const [only] = failures(facts);
  assert.equal(only.name, "vault nightly_scheduler_secret");
  assert.match(only.message, /vault\.create_secret\('<value>', 'nightly_scheduler_secret'\)/);
});

Deno.test("evaluateDoctor() reports a function that does not answer", () => {
  for (
    const probe of [{ status: 502, code: "bad_gateway" }, new Error("Cannot reach the function")]
  ) {
    const [only] = failures({ ...healthy(), functionProbe: probe });
    assert.equal(only.name, "function");
  }
});

Deno.test("evaluateDoctor() tells a refused secret, a wrong URL and an unreachable URL apart", () => {
  const base = healthy().heartbeat as Exclude<DoctorFacts["heartbeat"], Error>;
  const cases = [
    [{ ...base, status_code: 401, run_status: null }, /refused Vault's nightly_scheduler_secret/],
    [
      { ...base, status_code: 404, run_status: null, error_code: "not_found" },
      /answered HTTP 404 \(not_found\), not the function/,
    ],
    [
      { ...base, status_code: null, error: "Couldn't connect to server" },
      /request to Vault's nightly_scheduler_url failed: Couldn't connect/,
    ],
    [{ ...base, status_code: null, timed_out: true }, /timed out/],
    [{ ...base, run_status: "failed" }, /accepted but ended 'failed'/],
  ] as const;
  for (const [heartbeat, message] of cases) {
    const [only, ...rest] = failures({ ...healthy(), heartbeat });
    assert.equal(rest.length, 0);
    assert.equal(only.name, "vault secret accepted");
    assert.match(only.message, message);
  }
});

Deno.test("evaluateDoctor() counts production's refusal of the manual heartbeat as an accepted secret", () => {
  const base = healthy().heartbeat as Exclude<DoctorFacts["heartbeat"], Error>;
  const heartbeat = {
    ...base,
    status_code: 403,
    run_status: null,
    error_code: "manual_trigger_disabled",
  };
  const line = evaluateDoctor({ ...healthy(), heartbeat }, URL).find((r) =>
    r.name === "vault secret accepted"
  )!;
  assert.equal(line.ok, true);
  assert.match(line.message, /passed the secret check; this environment refuses manual runs/);
  const other = { ...base, status_code: 403, run_status: null, error_code: "forbidden" };
  assert.equal(failures({ ...healthy(), heartbeat: other })[0].name, "vault secret accepted");
});

Deno.test("evaluateDoctor() reports a night the cron job did not run, and dispatches that never arrived", () => {
  const night = (healthy().database as DatabaseFacts).last_night!;
  const missed = failures(healthy({ last_night: { ...night, cron_ran: false } }));
  assert.match(
    missed.find((r) => r.name === "last night")!.message,
    /did not run for the night of 2026-11-28/,
  );
  const lost = failures(healthy({
    last_night: {
      ...night,
      jobs: [
        job("heartbeat", {
          delivered: 0,
          lost: 3,
          lost_reason: "The function URL answered HTTP 404",
        }),
      ],
    },
  }));
  assert.match(
    lost.find((r) => r.name === "last night")!.message,
    /heartbeat's dispatches never reached the function \(The function URL answered HTTP 404\)/,
  );
  const never = failures(
    healthy({ last_night: { ...night, jobs: [job("heartbeat", { dispatched: 0 })] } }),
  );
  assert.match(
    never.find((r) => r.name === "last night")!.message,
    /heartbeat was never dispatched/,
  );
});

Deno.test("evaluateDoctor() passes a night still in progress, and one whose lost dispatch was retried", () => {
  const night = (healthy().database as DatabaseFacts).last_night!;
  const results = evaluateDoctor(
    healthy({
      last_night: {
        ...night,
        jobs: [
          job("heartbeat", { lost: 1, delivered: 1, dispatched: 2 }),
          job("hlf_dynamics_sync", { dispatched: 0, delivered: 0, window_ended: false }),
        ],
      },
    }),
    URL,
  );
  const line = results.find((r) => r.name === "last night")!;
  assert.equal(line.ok, true);
  assert.match(
    line.message,
    /heartbeat: 1 lost, then delivered; hlf_dynamics_sync not dispatched yet/,
  );
});

Deno.test("evaluateDoctor() reports open alerts and a purge that has not run since last night", () => {
  const found = failures(healthy({
    open_alerts: [{ job_name: "heartbeat", slot: "2026-11-28", kind: "failed" }],
    paused_jobs: [{ job_name: "heartbeat", reason: "Paused by the alert check" }],
    retention: { last_success_at: "2026-11-20T02:00:00Z", enabled: true },
  }));
  assert.deepEqual(found.map((r) => r.name).sort(), ["alerts", "retention"]);
  assert.match(
    found.find((r) => r.name === "alerts")!.message,
    /1 open \(heartbeat 2026-11-28 failed\); paused: heartbeat/,
  );
});

Deno.test("evaluateDoctor() says when no alert webhook is configured, without failing", () => {
  const [line] = evaluateDoctor(healthy({ alert_webhook: false }), URL).filter((r) =>
    r.name === "alerts"
  );
  assert.equal(line.ok, true);
  assert.match(line.message, /no webhook URL in Vault \(nightly_scheduler_alert_webhook_url\)/);
});

Deno.test("evaluateDoctor() on a new deployment (no night yet) passes the night and retention checks", () => {
  assert.deepEqual(
    failures(healthy({ last_night: null, retention: { last_success_at: null, enabled: true } })),
    [],
  );
});

Deno.test("evaluateDoctor() still checks the function when the database facts failed", () => {
  const results = evaluateDoctor(
    { ...healthy(), database: new Error("The API refused the key") },
    URL,
  );
  assert.deepEqual(results.map((r) => [r.name, r.ok]), [
    ["database", false],
    ["function", true],
    ["vault secret accepted", true],
  ]);
});

Deno.test("evaluateDoctor() warns, without failing, while a job is pinned to its SQL runner", () => {
  const results = evaluateDoctor(
    healthy({
      sql_pinned_jobs: [{
        job_name: "certification_expiry_check",
        sql_runner: "certification_expiry_check_sql",
      }],
    }),
    URL,
  );
  assert.deepEqual(results.filter((r) => !r.ok), []);
  const line = results.find((r) => r.name === "runners")!;
  assert.equal(line.warning, true);
  assert.match(
    line.message,
    /certification_expiry_check \(certification_expiry_check_sql\) pinned to the SQL runner/,
  );
  assert.match(line.message, /set runner = 'function'/);
  const clean = evaluateDoctor(healthy(), URL).find((r) => r.name === "runners")!;
  assert.equal(clean.warning, undefined);
});

Deno.test("evaluateDoctor() says which runner did each job's night, and fails a night the SQL runner took over", () => {
  const night = (healthy().database as DatabaseFacts).last_night!;
  const pinned = evaluateDoctor(
    healthy({
      last_night: {
        ...night,
        jobs: [
          job("heartbeat"),
          job("certification_expiry_check", { sql: 1, delivered: 0, runner: "sql" }),
        ],
      },
    }),
    URL,
  ).find((r) => r.name === "last night")!;
  assert.equal(pinned.ok, true);
  assert.match(pinned.message, /certification_expiry_check ran on its SQL runner \(succeeded\)/);
  assert.match(
    pinned.message,
    /work done by function: heartbeat; by sql: certification_expiry_check/,
  );

  const fallback = failures(healthy({
    last_night: {
      ...night,
      jobs: [
        job("certification_expiry_check", {
          dispatched: 4,
          delivered: 0,
          lost: 3,
          sql: 1,
          runner: "sql",
          fallback: true,
          lost_reason: "pg_net could not deliver the dispatch: Connection refused",
        }),
      ],
    },
  })).find((r) => r.name === "last night")!;
  assert.match(
    fallback.message,
    /certification_expiry_check's dispatches never reached the function \(pg_net could not deliver the dispatch: Connection refused\); its SQL runner took the night over \(succeeded\)/,
  );
});
