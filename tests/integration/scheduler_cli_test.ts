// The `scheduler` CLI end to end against the local stack.
import assert from "node:assert/strict";
import { allOutput, type CliRun, runCli } from "../support/cli.ts";
import { connect, stackEnv } from "../../local/stack.ts";
import { seedQuarantine } from "../support/quarantine_probe.ts";

/** The one error line of a failed run (progress lines may precede it on stderr). */
function errorLine(run: CliRun): string {
  const lines = run.stderr.split("\n").filter((line) => line.startsWith("error:"));
  assert.equal(lines.length, 1, run.stderr);
  return lines[0];
}

function assertNoSecret(output: string) {
  const env = stackEnv();
  for (const secret of [env.SCHEDULER_SECRET, env.SERVICE_ROLE_KEY, env.JWT_SECRET, env.ANON_KEY]) {
    assert.ok(!output.includes(secret), "the CLI printed a secret or key");
  }
  assert.doesNotMatch(output, /^\s+at /m, "the CLI printed a stack trace");
}

Deno.test("scheduler status prints one row per nightly job", async () => {
  const sql = connect();
  try {
    const jobs = (await sql`select job_name from scheduler_nightly_job order by job_name`)
      .map((r) => r.job_name as string);
    const run = await runCli(["status"]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.match(
      lines[0],
      /^JOB\s+STATE\s+RUNNER\s+LAST\s+LAST RUN\s+LAST SUCCESS\s+FAILED NIGHTS\s+TONIGHT\s+PARTS\s+NEXT RUN\s+ALERTS\s+QUARANTINED$/,
    );
    // (Notes on paused jobs and quarantined records follow the table.)
    assert.deepEqual(lines.slice(1, 1 + jobs.length).map((l) => l.split(/\s+/)[0]), jobs);
    assertNoSecret(allOutput(run));
  } finally {
    await sql.end();
  }
});

Deno.test("scheduler status shows tonight's parts and the quarantined records that wait for a person", async () => {
  const sql = connect();
  const probe = await seedQuarantine(sql, "cli_quarantine_probe", { needsPerson: 2, retrying: 1 }, {
    maxParts: 7,
  });
  try {
    const run = await runCli(["status"]);
    assert.equal(run.code, 0, run.stderr);
    const row = run.stdout.split("\n").find((line) => line.startsWith(`${probe.job} `));
    assert.ok(row, run.stdout);
    assert.match(row, /\s0\/7\s/, "tonight's parts against max_parts");
    assert.match(row, /\s1 retrying, 2 for a person$/);
    assert.match(
      run.stdout,
      new RegExp(
        `^${probe.job}: 2 quarantined record\\(s\\) wait for a person \\(scheduler_sync_quarantine`,
        "m",
      ),
    );
    const json = JSON.parse((await runCli(["status", "--json"])).stdout);
    const health = json.jobs.find((j: { job_name: string }) => j.job_name === probe.job);
    assert.deepEqual(
      [health.parts_tonight, health.quarantined_retrying, health.quarantined_needs_person],
      [0, 1, 2],
    );
  } finally {
    await probe.drop();
    await sql.end();
  }
});

Deno.test("scheduler trigger without --wait starts the run and says how to follow it", async () => {
  const sql = connect();
  try {
    const run = await runCli(["trigger", "heartbeat", "--payload", '{"hold_ms":1500}']);
    assert.equal(run.code, 0, run.stderr);
    const match = /^heartbeat is running \(execution ([0-9a-f-]{36})\)$/m.exec(run.stdout);
    assert.ok(match, run.stdout);
    assert.match(run.stdout, /follow it with: deno task scheduler status --job heartbeat/);
    const [row] = await sql`select status from scheduler_execution_log where id = ${match[1]}`;
    assert.equal(row.status, "running");
    for (let i = 0; i < 50; i++) {
      const [done] = await sql`select status from scheduler_execution_log where id = ${match[1]}`;
      if (done.status !== "running") break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await sql.end();
  }
});

Deno.test("scheduler status --json --job gives the health rows and the job's last runs", async () => {
  const sql = connect();
  try {
    const triggered = await runCli(["trigger", "heartbeat", "--wait"]);
    assert.equal(triggered.code, 0, triggered.stderr);
    const run = await runCli(["status", "--json", "--job", "heartbeat", "--limit", "2"]);
    assert.equal(run.code, 0, run.stderr);
    const parsed = JSON.parse(run.stdout);
    const heartbeat = parsed.jobs.find((j: { job_name: string }) => j.job_name === "heartbeat");
    assert.equal(heartbeat.enabled, true);
    for (
      const column of [
        "paused",
        "pause_reason",
        "last_status",
        "last_success_at",
        "consecutive_failed_nights",
        "attempts_tonight",
        "next_run_at",
        "open_alerts",
        "parts_tonight",
        "max_parts",
        "quarantined_retrying",
        "quarantined_needs_person",
      ]
    ) assert.ok(column in heartbeat, column);
    assert.equal(parsed.runs.length, 2);
    const [latest] = await sql`select id from scheduler_execution_log
      where job_name = 'heartbeat' order by started_at desc limit 1`;
    assert.equal(parsed.runs[0].id, latest.id);
    assertNoSecret(allOutput(run));
  } finally {
    await sql.end();
  }
});

Deno.test("scheduler status --job shows what each run cost: CPU ms, peak memory, wall ms, and who stopped it", async () => {
  const triggered = await runCli(["trigger", "heartbeat", "--payload", '{"cpu_ms":300}', "--wait"]);
  assert.equal(triggered.code, 0, triggered.stderr);
  const json = await runCli(["status", "--json", "--job", "heartbeat", "--limit", "1"]);
  assert.equal(json.code, 0, json.stderr);
  const [run] = JSON.parse(json.stdout).runs;
  assert.equal(run.status, "succeeded");
  assert.ok(run.cpu_ms > 0, `cpu_ms ${run.cpu_ms}`);
  assert.ok(run.peak_rss_mb > 0, `peak_rss_mb ${run.peak_rss_mb}`);
  assert.ok(run.duration_ms >= 300, `duration_ms ${run.duration_ms}`);
  assert.equal(run.stop_reason, null);
  const table = await runCli(["status", "--job", "heartbeat", "--limit", "1"]);
  assert.match(table.stdout, /CPU MS +PEAK MB +STOPPED BY/);
});

Deno.test("scheduler trigger heartbeat --wait shows progress and prints the logged result", async () => {
  const sql = connect();
  try {
    const run = await runCli(["trigger", "heartbeat", "--payload", '{"hold_ms":1200}', "--wait"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /running heartbeat \([0-9a-f-]{36}\)\.\.\. \d+ s/);
    const match = /^heartbeat succeeded in (\d+) ms \(execution ([0-9a-f-]{36})\)$/m.exec(
      run.stdout,
    );
    assert.ok(match, run.stdout);
    assert.ok(Number(match[1]) >= 1200);
    const [row] = await sql`select status, trigger from scheduler_execution_log where id = ${
      match[2]
    }`;
    assert.deepEqual({ ...row }, { status: "succeeded", trigger: "manual" });
    assertNoSecret(allOutput(run));
  } finally {
    await sql.end();
  }
});

Deno.test("scheduler trigger prints a failed run's logged error and exits 1", async () => {
  const run = await runCli(["trigger", "heartbeat", "--payload", '{"hold_ms":-1}', "--wait"]);
  assert.equal(run.code, 1);
  assert.match(
    run.stdout,
    /^heartbeat failed in \d+ ms \(execution [0-9a-f-]{36}\): Cannot run job 'heartbeat': 'hold_ms' must be/m,
  );
});

Deno.test("scheduler works against another environment given by SUPABASE_URL and keys in the environment", async () => {
  const env = stackEnv();
  const remote = { SUPABASE_URL: env.API_URL, SUPABASE_SERVICE_ROLE_KEY: env.SERVICE_ROLE_KEY };
  const ok = await runCli(["status"], remote);
  assert.equal(ok.code, 0, ok.stderr);
  const wrong = await runCli(["trigger", "heartbeat"], { ...remote, SCHEDULER_SECRET: "wrong" });
  assert.equal(wrong.code, 1);
  assert.equal(
    errorLine(wrong),
    "error: The function refused the scheduler secret (HTTP 401); set SCHEDULER_SECRET to the value of Vault's nightly_scheduler_secret",
  );
  const noKey = await runCli(["status"], { SUPABASE_URL: env.API_URL });
  assert.equal(noKey.code, 1);
  assert.match(
    noKey.stderr,
    /^error: 'status' needs the project's secret API key; set SUPABASE_SECRET_KEY/,
  );
  const badKey = await runCli(["status"], { ...remote, SUPABASE_SERVICE_ROLE_KEY: env.ANON_KEY });
  assert.equal(badKey.code, 1);
  assert.match(badKey.stderr, /^error: The API refused the key \(HTTP 401/);
  for (const run of [ok, wrong, noKey, badKey]) assertNoSecret(allOutput(run));
});

Deno.test("scheduler errors are one line that says what to do next", async () => {
  const cases = [
    [
      ["trigger", "no_such_job"],
      {},
      /^error: The function has no job 'no_such_job'; run `deno task scheduler status`/,
    ],
    [
      ["status"],
      { SUPABASE_URL: "http://127.0.0.1:9", SUPABASE_SECRET_KEY: "sb_secret_x" },
      /^error: Cannot reach the API at http:\/\/127\.0\.0\.1:9 \(connection failed\); check --url/,
    ],
    [
      ["frobnicate"],
      {},
      /^error: Unknown command 'frobnicate'; run `deno task scheduler help` for usage$/,
    ],
  ] as const;
  for (const [args, env, expected] of cases) {
    const run = await runCli([...args], { ...env });
    assert.notEqual(run.code, 0);
    assert.match(errorLine(run), expected);
    assertNoSecret(allOutput(run));
  }
});
