// `scheduler doctor` against the local stack: silent when healthy, and each
// misconfiguration it checks reported when it is introduced (then undone).
import assert from "node:assert/strict";
import { type CliRun, runCli } from "../support/cli.ts";
import { connect, connectAdmin, functionUrl, stackEnv } from "../../local/stack.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function failed(run: CliRun): string[] {
  return run.stdout.split("\n").filter((line) => line.startsWith("FAIL"));
}

function assertHealthy(run: CliRun) {
  assert.deepEqual(failed(run), [], run.stdout);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^all checks passed$/m);
}

/** The FAIL line of one check, asserting the run failed overall. */
function failure(run: CliRun, check: string): string {
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const line = failed(run).find((l) => new RegExp(`^FAIL\\s+${check}\\s{2}`).test(l));
  assert.ok(line, `no FAIL line for '${check}' in:\n${run.stdout}`);
  return line;
}

Deno.test("doctor reports nothing on a healthy stack", async () => {
  const run = await runCli(["doctor"]);
  assertHealthy(run);
  assert.equal(run.stdout.split("\n").filter((l) => l.startsWith("ok")).length, 13);
  const env = stackEnv();
  for (const secret of [env.SCHEDULER_SECRET, env.SERVICE_ROLE_KEY]) {
    assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret));
  }
});

Deno.test("doctor reports a missing Vault secret", async () => {
  // Renaming a Vault row is test tooling: postgres may not update vault.secrets.
  const sql = connectAdmin();
  try {
    await sql`update vault.secrets set name = 'nightly_scheduler_secret_moved'
      where name = 'nightly_scheduler_secret'`;
    const run = await runCli(["doctor"]);
    assert.match(
      failure(run, "vault nightly_scheduler_secret"),
      /Vault has no 'nightly_scheduler_secret'/,
    );
    assert.match(failure(run, "vault secret accepted"), /nightly-scheduler is not configured/);
  } finally {
    await sql`update vault.secrets set name = 'nightly_scheduler_secret'
      where name = 'nightly_scheduler_secret_moved'`;
    await sql.end();
  }
  assertHealthy(await runCli(["doctor"]));
});

Deno.test("doctor reports a Vault URL that does not point at the function", async () => {
  const sql = connect();
  const [{ url }] = await sql`select decrypted_secret as url from vault.decrypted_secrets
    where name = 'nightly_scheduler_url'`;
  try {
    await sql`select vault.update_secret(id, ${stackEnv().API_URL + "/functions/v1/not-it"})
      from vault.secrets where name = 'nightly_scheduler_url'`;
    const run = await runCli(["doctor"]);
    assert.match(
      failure(run, "vault secret accepted"),
      /Vault's nightly_scheduler_url answered HTTP 404, not the function/,
    );
    assert.equal(failed(run).length, 1, run.stdout);
  } finally {
    await sql`select vault.update_secret(id, ${url}) from vault.secrets
      where name = 'nightly_scheduler_url'`;
    await sql.end();
  }
  assertHealthy(await runCli(["doctor"]));
});

Deno.test("doctor reports an inactive cron job", async () => {
  const sql = connect();
  try {
    await sql`select cron.alter_job(jobid, active := false) from cron.job
      where jobname = 'nightly-scheduler'`;
    const run = await runCli(["doctor"]);
    assert.match(failure(run, "cron nightly-scheduler"), /inactive: select cron\.alter_job/);
    assert.equal(failed(run).length, 1, run.stdout);
  } finally {
    await sql`select cron.alter_job(jobid, active := true) from cron.job
      where jobname = 'nightly-scheduler'`;
    await sql.end();
  }
  assertHealthy(await runCli(["doctor"]));
});

Deno.test("doctor reports the function down", async () => {
  const pid = Number(await Deno.readTextFile(`${ROOT}.local/run/function.pid`));
  try {
    // The stack started it in its own process group (setsid): stop the group.
    Deno.kill(-pid, "SIGTERM");
    for (let i = 0; i < 50; i++) {
      const response = await fetch(functionUrl(), { method: "GET" });
      await response.body?.cancel();
      if (response.status === 502) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const run = await runCli(["doctor"]);
    assert.match(failure(run, "function"), /answered HTTP 502, not the function/);
    assert.match(failure(run, "vault secret accepted"), /did not run the heartbeat \(HTTP 502\)/);
  } finally {
    const up = await new Deno.Command("bash", {
      args: ["local/stack.sh", "up"],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(up.code, 0, new TextDecoder().decode(up.stderr));
  }
  assertHealthy(await runCli(["doctor"]));
});

Deno.test("doctor warns, and still passes, while a job is pinned to its SQL runner", async () => {
  const sql = connect();
  try {
    await sql`update scheduler_nightly_job set runner = 'sql'
      where job_name = 'certification_expiry_check'`;
    const run = await runCli(["doctor"]);
    assert.deepEqual(failed(run), [], run.stdout);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /^WARN\s+runners\s+certification_expiry_check \(certification_expiry_check_sql\) pinned to the SQL runner/m,
    );
    assert.match(run.stdout, /^all checks passed \(1 warning\)$/m);
  } finally {
    await sql`update scheduler_nightly_job set runner = 'function'
      where job_name = 'certification_expiry_check'`;
    await sql.end();
  }
});
