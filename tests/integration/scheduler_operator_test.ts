// Operators steering nights (issue 17) end to end, through the `scheduler` CLI
// and the real stack: pause and resume, cancel, replay (also against a
// function running with SCHEDULER_ENVIRONMENT=production), and the night grid.
import assert from "node:assert/strict";
import { connect, stackEnv } from "../../local/stack.ts";
import { runCli } from "../support/cli.ts";
import { parsePlainGrid } from "../support/grid.ts";
import { poll, uniqueSlot } from "../support/nightly.ts";

const OPERATOR = { SCHEDULER_OPERATOR: "ops@example.org" };

/** The UTC date `days` before today. */
function nightsAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

Deno.test("scheduler pause stops the job's dispatches and resume restarts them", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  try {
    const paused = await runCli(["pause", "heartbeat", "--reason", "portal maintenance"], OPERATOR);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /^heartbeat is paused: portal maintenance$/m);
    const [pause] = await sql`select reason, paused_by, resumed_at from scheduler_pause
      where job_name = 'heartbeat' order by paused_at desc limit 1`;
    assert.deepEqual({ ...pause }, {
      reason: "Paused by ops@example.org: portal maintenance",
      paused_by: "ops@example.org",
      resumed_at: null,
    });
    await sql`select scheduler_dispatch_nightly(${slot})`;
    const none = await sql`select id from scheduler_dispatch
      where job_name = 'heartbeat' and slot = ${slot}`;
    assert.equal(none.length, 0, "a paused job is not dispatched");
    const status = await runCli(["status"]);
    assert.match(status.stdout, /^heartbeat\s+PAUSED\s/m);

    const resumed = await runCli(["resume", "heartbeat"], OPERATOR);
    assert.equal(resumed.code, 0, resumed.stderr);
    await sql`select scheduler_dispatch_nightly(${slot})`;
    const run = await poll("the resumed heartbeat's run", 20_000, async () => {
      const [row] = await sql`select status from scheduler_execution_log
        where job_name = 'heartbeat' and slot = ${slot} and status = 'succeeded'`;
      return row;
    });
    assert.equal(run.status, "succeeded");
    const [closed] = await sql`select resumed_by from scheduler_pause
      where job_name = 'heartbeat' order by paused_at desc limit 1`;
    assert.equal(closed.resumed_by, "ops@example.org");
  } finally {
    await sql`update scheduler_nightly_job set pause_reason = null where job_name = 'heartbeat'`;
    await sql`delete from scheduler_execution_log where slot = ${slot}`;
    await sql`delete from scheduler_dispatch where slot = ${slot}`;
    await sql.end();
  }
});

Deno.test("scheduler cancel ends a running heartbeat within its heartbeat interval", async () => {
  const sql = connect();
  try {
    const started = await runCli(["trigger", "heartbeat", "--payload", '{"hold_ms":60000}']);
    assert.equal(started.code, 0, started.stderr);
    const id = /execution ([0-9a-f-]{36})/.exec(started.stdout)![1];
    const cancel = await runCli(["cancel", id], OPERATOR);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, /^cancel requested for heartbeat \(execution [0-9a-f-]{36}\)/m);
    const row = await poll("the cancelled run's end", 30_000, async () => {
      const [row] = await sql`select status, error_message, cancel_requested_by,
          extract(epoch from finished_at - cancel_requested_at) * 1000 as after_ms
        from scheduler_execution_log where id = ${id} and status <> 'running'`;
      return row;
    });
    assert.equal(row.status, "cancelled");
    assert.equal(row.cancel_requested_by, "ops@example.org");
    assert.match(row.error_message, /stopped at its next safe point/);
    // Heartbeats come every third of the 30 s lease; the end is written right after.
    assert.ok(Number(row.after_ms) <= 10_000 + 2_000, `ended ${row.after_ms} ms after the cancel`);
    const again = await runCli(["cancel", id], OPERATOR);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not running \(it is cancelled\); only a running execution/);
  } finally {
    await sql.end();
  }
});

/** Replays `night` of heartbeat through the CLI and returns the slot's runs afterwards. */
async function replayNight(sql: ReturnType<typeof connect>, night: string) {
  const run = await runCli(
    ["trigger", "heartbeat", "--night", night, "--reason", "portal was down", "--wait"],
    OPERATOR,
  );
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(
    run.stdout,
    new RegExp(`^heartbeat: replay of the night of ${night} dispatched`, "m"),
  );
  assert.match(run.stdout, /^heartbeat succeeded in \d+ ms \(execution [0-9a-f-]{36}\)$/m);
  return await sql`select x.status, x.trigger, x.slot::text as slot, d.kind, d.requested_by,
      d.reason
    from scheduler_execution_log x join scheduler_dispatch d on d.id = x.dispatch_id
    where x.job_name = 'heartbeat' and x.slot = ${night}`;
}

Deno.test("scheduler trigger --night replays a past night once, recorded against that night", async () => {
  const sql = connect();
  const night = nightsAgo(40 + Math.floor(Math.random() * 300));
  try {
    // The night had succeeded already: a replay still runs it again.
    await sql`insert into scheduler_execution_log (id, job_name, trigger, status, started_at,
        finished_at, dispatch_id, slot, attempt)
      values (gen_random_uuid(), 'heartbeat', 'cron', 'succeeded', ${night + "T02:00:00Z"},
        ${night + "T02:00:01Z"}, gen_random_uuid(), ${night}, 1)`;
    // Refused while the job runs.
    const held = await runCli(["trigger", "heartbeat", "--payload", '{"hold_ms":3000}']);
    const heldId = /execution ([0-9a-f-]{36})/.exec(held.stdout)![1];
    const refused = await runCli(["trigger", "heartbeat", "--night", night], OPERATOR);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^error: heartbeat is running or has a dispatch waiting \(.+\); a replay waits for it to end/m,
    );
    await poll("the held heartbeat's end", 20_000, async () => {
      const [row] = await sql`select status from scheduler_execution_log
        where id = ${heldId} and status <> 'running'`;
      return row;
    });

    const rows = await replayNight(sql, night);
    const replays = rows.filter((r) => r.trigger === "replay");
    assert.deepEqual(replays.map((r) => ({ ...r })), [{
      status: "succeeded",
      trigger: "replay",
      slot: night,
      kind: "replay",
      requested_by: "ops@example.org",
      reason: "portal was down",
    }]);
  } finally {
    await sql`delete from scheduler_execution_log where slot = ${night} and job_name = 'heartbeat'`;
    await sql`delete from scheduler_dispatch where slot = ${night} and job_name = 'heartbeat'`;
    await sql.end();
  }
});

Deno.test("scheduler trigger --night replays a night where SCHEDULER_ENVIRONMENT=production refuses manual runs", async () => {
  const env = stackEnv();
  const sql = connect();
  const night = nightsAgo(400 + Math.floor(Math.random() * 300));
  const port = 54341;
  const fn = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "--allow-net", "--allow-env", "--allow-read", "index.ts"],
    cwd: new URL("../../supabase/functions/nightly-scheduler/", import.meta.url).pathname,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/root",
      DENO_CERT: Deno.env.get("DENO_CERT") ?? "",
      NO_COLOR: "1",
      PORT: String(port),
      SUPABASE_URL: env.API_URL,
      SUPABASE_ANON_KEY: env.ANON_KEY,
      SUPABASE_SERVICE_ROLE_KEY: env.SERVICE_ROLE_KEY,
      SUPABASE_DB_URL: env.DB_URL,
      SCHEDULER_ENVIRONMENT: "production",
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const production = `http://127.0.0.1:${port}/nightly-scheduler`;
  const [{ url: saved }] = await sql`select decrypted_secret as url from vault.decrypted_secrets
    where name = 'nightly_scheduler_url'`;
  try {
    const manual = await poll("the production function", 30_000, async () => {
      const answer = await fetch(production, {
        method: "POST",
        headers: { authorization: `Bearer ${env.SCHEDULER_SECRET}` },
        body: JSON.stringify({ job_name: "heartbeat" }),
      }).catch(() => undefined);
      if (answer === undefined) return undefined;
      return { status: answer.status, body: await answer.json() };
    });
    assert.deepEqual([manual.status, manual.body.error.code], [403, "manual_trigger_disabled"]);
    await sql`select vault.update_secret(id, ${production}) from vault.secrets
      where name = 'nightly_scheduler_url'`;
    const rows = await replayNight(sql, night);
    assert.deepEqual(rows.map((r) => [r.status, r.trigger, r.slot]), [
      ["succeeded", "replay", night],
    ]);
  } finally {
    await sql`select vault.update_secret(id, ${saved}) from vault.secrets
      where name = 'nightly_scheduler_url'`;
    await sql`delete from scheduler_execution_log where slot = ${night} and job_name = 'heartbeat'`;
    await sql`delete from scheduler_dispatch where slot = ${night} and job_name = 'heartbeat'`;
    fn.kill();
    await fn.status;
    await sql.end();
  }
});

/** A run of grid_probe on the night `days` ago (its time of night is 23:58 UTC). */
function seedRun(
  sql: ReturnType<typeof connect>,
  days: number,
  run: { attempt: number; status: string; kind?: string; second?: number },
) {
  const night = nightsAgo(days);
  const at = new Date(`${night}T23:58:${String(run.second ?? 0).padStart(2, "0")}Z`);
  const finished = run.status === "running" ? null : new Date(at.getTime() + 500);
  return sql`with d as (
      insert into scheduler_dispatch (job_name, slot, attempt, kind, created_at, outcome,
        execution_id)
      values ('grid_probe', ${night}, ${run.attempt}, ${run.kind ?? "cron"}, ${at}, 'delivered',
        gen_random_uuid())
      returning *
    )
    insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at,
      dispatch_id, slot, attempt, heartbeat_at)
    select execution_id, job_name, kind, ${run.status}, ${at}, ${finished}, id, slot, attempt,
      case when ${run.status} = 'running' then ${at}::timestamptz end
    from d returning id`;
}

Deno.test("scheduler status --nights 30 shows every outcome kind, the same in --json and in plain text", async () => {
  const sql = connect();
  try {
    await sql`insert into scheduler_nightly_job (job_name, run_at, window_end, catch_up, added_at)
      values ('grid_probe', '23:58', '23:59', 'none', ${nightsAgo(25) + "T00:00:00Z"})`;
    await seedRun(sql, 25, { attempt: 1, status: "succeeded" });
    await seedRun(sql, 24, { attempt: 1, status: "failed" });
    await seedRun(sql, 24, { attempt: 2, status: "succeeded", kind: "retry", second: 30 });
    await seedRun(sql, 23, { attempt: 1, status: "partial" });
    await seedRun(sql, 23, { attempt: 1, status: "succeeded", kind: "continuation", second: 30 });
    await seedRun(sql, 22, { attempt: 1, status: "failed" });
    await seedRun(sql, 21, { attempt: 1, status: "lost" });
    // 20 nights ago: never dispatched (missed).
    await seedRun(sql, 19, { attempt: 1, status: "skipped" });
    await seedRun(sql, 18, { attempt: 1, status: "cancelled" });
    await sql`insert into scheduler_pause (job_name, reason, paused_at, paused_by, resumed_at,
        resumed_by)
      values ('grid_probe', 'seeded', ${nightsAgo(17) + "T00:00:00Z"}, 'ops',
        ${nightsAgo(17) + "T23:59:30Z"}, 'ops')`;
    const [running] = await seedRun(sql, 16, { attempt: 1, status: "running" });
    // A live lease keeps the sweep from closing the running night as dead.
    await sql`insert into scheduler_job_lease (job_name, owner, acquired_at, expires_at)
      values ('grid_probe', ${running.id}, now(), now() + interval '1 hour')`;

    const json = await runCli(["status", "--nights", "30", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const grid = JSON.parse(json.stdout);
    const probe = grid.jobs.find((j: { job_name: string }) => j.job_name === "grid_probe");
    const outcomes: string[] = probe.nights.map((n: { outcome: string }) => n.outcome);
    assert.equal(grid.nights.length, 30);
    assert.deepEqual(outcomes, [
      ...Array(4).fill("none"), // before the job was added
      "succeeded",
      "succeeded_after_retries",
      "partial_then_done",
      "failed",
      "lost",
      "missed",
      "other_runner",
      "cancelled",
      "paused",
      "running",
      ...Array(15).fill("missed"),
      "none", // tonight: not due yet
    ]);

    const plain = await runCli(["status", "--nights", "30"]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(!plain.stdout.includes("\x1b["), "no colour in a pipe");
    assert.deepEqual(parsePlainGrid(plain.stdout).grid_probe, outcomes);
    assert.match(plain.stdout, /ran by another runner/);
  } finally {
    await sql`delete from scheduler_job_lease where job_name = 'grid_probe'`;
    await sql`delete from scheduler_execution_log where job_name = 'grid_probe'`;
    await sql`delete from scheduler_dispatch where job_name = 'grid_probe'`;
    await sql`delete from scheduler_nightly_job where job_name = 'grid_probe'`;
    await sql.end();
  }
});
