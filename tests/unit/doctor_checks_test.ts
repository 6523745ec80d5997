import assert from "node:assert/strict";
import { evaluateDoctor } from "../../cli/doctor_checks.ts";
import type { DatabaseFacts, DoctorFacts } from "../../cli/doctor_facts.ts";

const URL = "https://abc.supabase.co/functions/v1/nightly-scheduler";

function healthy(over: Partial<DatabaseFacts> = {}): DoctorFacts {
  return {
    database: {
      now: "2026-11-28T09:00:00Z",
      cron_jobs: [
        cron("nightly-scheduler", "0 2 * * *"),
        cron("nightly-scheduler-close-abandoned-runs", "*/10 * * * *"),
      ],
      vault_secrets: { nightly_scheduler_url: true, nightly_scheduler_secret: true },
      last_night: {
        started_at: "2026-11-28T02:00:00Z",
        cron_status: "succeeded",
        return_message: "2 rows",
        jobs: [{ job_name: "heartbeat", received: true, status: "succeeded" }],
      },
      open_alerts: [],
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
  assert.equal(results.length, 10);
});

Deno.test("evaluateDoctor() reports an inactive cron job with the statement that fixes it", () => {
  const facts = healthy({
    cron_jobs: [
      cron("nightly-scheduler", "0 2 * * *", { active: false }),
      cron("nightly-scheduler-close-abandoned-runs", "*/10 * * * *"),
    ],
  });
  const [only, ...rest] = failures(facts);
  assert.equal(rest.length, 0);
  assert.equal(only.name, "cron nightly-scheduler");
  assert.match(only.message, /inactive: select cron\.alter_job\(.*active := true\)/);
});

Deno.test("evaluateDoctor() reports a missing cron job and a wrong schedule", () => {
  const facts = healthy({ cron_jobs: [cron("nightly-scheduler", "0 3 * * *")] });
  const messages = failures(facts).map((r) => r.message);
  assert.ok(messages.some((m) => /runs on '0 3 \* \* \*', expected '0 2 \* \* \*'/.test(m)));
  assert.ok(messages.some((m) => /missing: apply the migrations/.test(m)));
});

Deno.test("evaluateDoctor() reports a cron command holding a URL or a secret", () => {
  const facts = healthy({
    cron_jobs: [
      cron("nightly-scheduler", "0 2 * * *", { command_has_url: true, command_has_secret: true }),
      cron("nightly-scheduler-close-abandoned-runs", "*/10 * * * *"),
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

Deno.test("evaluateDoctor() reports a night the cron job did not run, and dispatches that never arrived", () => {
  const night = (healthy().database as DatabaseFacts).last_night!;
  const missed = failures(healthy({
    last_night: { ...night, started_at: "2026-11-26T02:00:00Z" },
    retention: { last_success_at: "2026-11-26T02:00:05Z", enabled: true },
  }));
  assert.ok(missed.some((r) => r.name === "last night" && /has not run since/.test(r.message)));
  const lost = failures(healthy({
    last_night: { ...night, jobs: [{ job_name: "heartbeat", received: false, status: null }] },
  }));
  assert.match(lost.find((r) => r.name === "last night")!.message, /heartbeat .* never reached/);
});

Deno.test("evaluateDoctor() reports open alerts and a purge that has not run since last night", () => {
  const found = failures(healthy({
    open_alerts: [{ job_name: "heartbeat", slot: "2026-11-28", kind: "failed" }],
    retention: { last_success_at: "2026-11-20T02:00:00Z", enabled: true },
  }));
  assert.deepEqual(found.map((r) => r.name).sort(), ["alerts", "retention"]);
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
