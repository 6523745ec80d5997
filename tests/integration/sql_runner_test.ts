// The SQL runner (issue 16) on the real local stack: a night whose every
// dispatch is lost still gets its work done (once, and alerted once), the SQL
// runner does what the TypeScript job does, the function coming back while the
// SQL runner holds the lease runs nothing twice, and a job pinned to its SQL
// runner runs without any HTTP call. Each test drives the sweep
// (scheduler_reconcile) and the SQL runner's pg_cron job
// (scheduler_run_sql_dispatches) itself, as pg_cron would.
import assert from "node:assert/strict";
import postgres from "postgres";
import {
  createRoster,
  dropRoster,
  type RosterEntry,
  rosterNotices,
  rosterState,
  testOrganisationCode,
} from "../support/certification_roster.ts";
import { dropSlot, poll, uniqueSlot, withPolicy } from "../support/nightly.ts";
import { runCli } from "../support/cli.ts";
import { callScheduler, connect, stackEnv } from "../../local/stack.ts";

const JOB = "certification_expiry_check";
// Nothing listens on port 1: pg_net's request fails at once with "connection refused".
const CLOSED_URL = "http://127.0.0.1:1/functions/v1/nightly-scheduler";

const ROSTER: readonly RosterEntry[] = [
  { label: "due_2d", days: -2 },
  { label: "due_1h", days: -1 / 24 },
  { label: "in_3d", days: 3 },
  { label: "in_20d", days: 20 },
  { label: "in_90d", days: 90 },
  { label: "revoked_past", days: -5, status: "revoked" },
  { label: "revoked_soon", days: 4, status: "revoked" },
  { label: "expired_before", days: -60, status: "expired" },
];

/** The slot's runs with their runner, oldest first. */
function runs(sql: postgres.Sql, slot: string) {
  return sql`select id, status, trigger, runner, runner_reason, attempt, summary, error_message
    from scheduler_execution_log where job_name = ${JOB} and slot = ${slot}
    order by started_at, attempt`;
}

/** One sweep as pg_cron makes it: the reconcile, then the SQL runner's job. */
async function sweep(sql: postgres.Sql): Promise<void> {
  await sql`select * from scheduler_reconcile()`;
  await sql`call scheduler_run_sql_dispatches()`;
}

/** Runs `body` with Vault's function URL set to `url`, restoring it afterwards. */
async function withFunctionUrl<T>(sql: postgres.Sql, url: string, body: () => Promise<T>) {
  const [{ saved }] = await sql`select decrypted_secret as saved from vault.decrypted_secrets
    where name = 'nightly_scheduler_url'`;
  await sql`select vault.update_secret(id, ${url}) from vault.secrets
    where name = 'nightly_scheduler_url'`;
  try {
    return await body();
  } finally {
    await sql`select vault.update_secret(id, ${saved}) from vault.secrets
      where name = 'nightly_scheduler_url'`;
  }
}

/** Runs `body` with the job pinned to its SQL runner, unpinned afterwards. */
async function withPinned<T>(sql: postgres.Sql, body: () => Promise<T>): Promise<T> {
  await sql`update scheduler_nightly_job set runner = 'sql' where job_name = ${JOB}`;
  try {
    return await body();
  } finally {
    await sql`update scheduler_nightly_job set runner = 'function' where job_name = ${JOB}`;
  }
}

async function cleanUp(sql: postgres.Sql, slot: string, code: string): Promise<void> {
  await sql`delete from scheduler_alert where slot = ${slot}`;
  await dropSlot(sql, slot);
  await dropRoster(sql, code);
}

Deno.test("with the function's URL on a closed port all night, certification_expiry_check still expires and queues its notices in the slot, once, through its SQL runner, with one alert", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  const code = testOrganisationCode("it_sqlfb");
  try {
    const ids = await createRoster(sql, code, ROSTER);
    await withPolicy(
      sql,
      JOB,
      { retry_backoff_ms: 0, max_attempts: 3 },
      () =>
        withFunctionUrl(sql, CLOSED_URL, async () => {
          await sql`select scheduler_dispatch(${JOB}, ${slot})`;
          await poll("the SQL runner to take the night over", 60_000, async () => {
            await sweep(sql);
            const rows = await runs(sql, slot);
            return rows.some((r) => r.status === "succeeded") ? rows : undefined;
          });
          // More sweeps (and an alert check) change nothing: the fallback runs once.
          await sweep(sql);
          await sql`select * from scheduler_check_alerts()`;
        }),
    );

    const rows = await runs(sql, slot);
    assert.deepEqual(rows.map((r) => [r.status, r.runner, r.trigger, r.attempt]), [
      ["lost", "function", "cron", 1],
      ["lost", "function", "retry", 2],
      ["lost", "function", "retry", 3],
      ["succeeded", "sql", "fallback", 3],
    ]);
    const ran = rows[3];
    assert.match(
      ran.runner_reason,
      /^Fallback: every attempt of the night was lost.*pg_net could not deliver/,
    );
    assert.equal(ran.summary.complete, true);
    const state = await rosterState(sql, ids);
    for (const label of ["due_2d", "due_1h"]) {
      assert.equal(state[label].status, "expired", label);
      assert.equal(state[label].expired_at, ran.summary.as_of, label);
    }
    assert.deepEqual(await rosterNotices(sql, ids), ["in_20d/30", "in_3d/30", "in_3d/7"]);
    const alerts = await sql`select kind, last_status, attempts, resolved_at from scheduler_alert
      where job_name = ${JOB} and slot = ${slot}`;
    assert.deepEqual(alerts.map((a) => ({ ...a })), [
      { kind: "sql_fallback", last_status: "lost", attempts: 3, resolved_at: null },
    ]);
  } finally {
    await cleanUp(sql, slot, code);
    await sql.end();
  }
});

Deno.test("the SQL runner and the TypeScript job give one seeded roster the same statuses, notices and summary", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  const viaFunction = testOrganisationCode("it_sqleq_ts");
  const viaSql = testOrganisationCode("it_sqleq_sql");
  try {
    // Whatever else was due on the stack goes first, so each run below sees only its roster.
    assert.equal((await callScheduler({ job_name: JOB })).body.status, "succeeded");
    // The same roster twice, relative to now(): one for each runner.
    const tsIds = await createRoster(sql, viaFunction, ROSTER);
    const ts = await callScheduler({ job_name: JOB });
    assert.equal(ts.body.status, "succeeded");
    const tsSummary = ts.body.summary as Record<string, unknown>;
    const tsState = await rosterState(sql, tsIds);

    const sqlIds = await createRoster(sql, viaSql, ROSTER);
    await withPinned(sql, async () => {
      await sql`select scheduler_dispatch(${JOB}, ${slot})`;
      await sweep(sql);
    });
    const [run] = await runs(sql, slot);
    assert.equal(run.status, "succeeded");
    assert.equal(run.runner, "sql");
    const sqlState = await rosterState(sql, sqlIds);

    for (const label of tsIds.keys()) {
      assert.equal(sqlState[label].status, tsState[label].status, label);
      // Each run stamps the expiries with its own instant, as_of.
      const stamped = tsState[label].expired_at === tsSummary.as_of;
      assert.equal(sqlState[label].expired_at === run.summary.as_of, stamped, label);
    }
    assert.deepEqual(await rosterNotices(sql, sqlIds), await rosterNotices(sql, tsIds));
    assert.deepEqual(Object.keys(run.summary).sort(), Object.keys(tsSummary).sort());
    // Both rosters had exactly two certifications due, and nothing else was.
    assert.equal(tsSummary.expired, 2);
    assert.equal(run.summary.expired, 2);
    assert.deepEqual(run.summary.notices, tsSummary.notices);
    assert.equal(run.summary.complete, true);
    assert.equal(run.summary.stopped_by, null);
  } finally {
    await dropSlot(sql, slot);
    await dropRoster(sql, viaFunction);
    await dropRoster(sql, viaSql);
    await sql.end();
  }
});

Deno.test("the function restored while the SQL runner holds the lease: the job runs once for the slot", async () => {
  const sql = connect();
  // The SQL runner's own connection: its CALL stays in progress while this test acts.
  const runner = postgres(stackEnv().DB_URL, { max: 1, onnotice: () => {} });
  const slot = uniqueSlot();
  const code = testOrganisationCode("it_sqllease");
  const locker = await sql.reserve();
  try {
    const ids = await createRoster(sql, code, ROSTER);
    // A lock on a due certification holds the SQL runner inside its first batch
    // (whichever call takes the dispatch: this test's or pg_cron's own).
    await locker`begin`;
    await locker`select id from certification where id = ${ids.get("due_2d")!} for update`;
    await withPolicy(sql, JOB, { retry_backoff_ms: 0, max_attempts: 1 }, async () => {
      await withFunctionUrl(sql, CLOSED_URL, async () => {
        await sql`select scheduler_dispatch(${JOB}, ${slot})`;
        await poll("the fallback dispatch", 30_000, async () => {
          await sql`select * from scheduler_reconcile()`;
          const [row] = await sql`select id from scheduler_dispatch
            where job_name = ${JOB} and slot = ${slot} and kind = 'fallback'`;
          return row;
        });
      });
      const sqlRun = runner`call scheduler_run_sql_dispatches()`.then(() => "done");
      await poll("the SQL runner's run to hold the lease", 20_000, async () => {
        const rows = await runs(sql, slot);
        return rows.some((r) => r.status === "running" && r.runner === "sql") ? rows : undefined;
      });

      // The function is back (the URL restored above) and gets the slot's next attempt.
      await sql`select scheduler_dispatch(${JOB}, ${slot})`;
      const rows = await poll("the function's delivery", 30_000, async () => {
        const rows = await runs(sql, slot);
        return rows.some((r) => r.runner === "function" && r.status !== "lost") ? rows : undefined;
      });
      const delivered = rows.find((r) => r.runner === "function" && r.status !== "lost")!;
      assert.equal(delivered.status, "duplicate");
      assert.match(delivered.error_message, /already has a running or successful run/);

      await locker`commit`;
      assert.equal(await sqlRun, "done");
    });

    const rows = await poll("the SQL runner's run to end", 20_000, async () => {
      const rows = await runs(sql, slot);
      return rows.some((r) => r.status === "succeeded") ? rows : undefined;
    });
    assert.deepEqual(rows.map((r) => [r.status, r.runner]), [
      ["lost", "function"],
      ["succeeded", "sql"],
      ["duplicate", "function"],
    ]);
    const state = await rosterState(sql, ids);
    assert.equal(state.due_2d.status, "expired");
    assert.equal(state.due_2d.expired_at, rows[1].summary.as_of);
    assert.deepEqual(await rosterNotices(sql, ids), ["in_20d/30", "in_3d/30", "in_3d/7"]);
  } finally {
    await locker`rollback`.catch(() => undefined);
    locker.release();
    await cleanUp(sql, slot, code);
    await runner.end();
    await sql.end();
  }
});

Deno.test("a job pinned to its SQL runner runs nightly without any HTTP call", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  const code = testOrganisationCode("it_sqlpin");
  try {
    const ids = await createRoster(sql, code, ROSTER);
    const [{ before }] = await sql`select greatest(
        (select max(id) from net._http_response), (select max(id) from net.http_request_queue), 0
      ) as before`;
    await withPinned(sql, async () => {
      await sql`select scheduler_dispatch_nightly(${slot})`;
      await poll("the pinned job's night", 30_000, async () => {
        await sweep(sql);
        const rows = await runs(sql, slot);
        return rows.some((r) => r.status === "succeeded") ? rows : undefined;
      });
    });

    const [dispatch] = await sql`select runner, request_id, runner_reason from scheduler_dispatch
      where job_name = ${JOB} and slot = ${slot}`;
    assert.deepEqual({ ...dispatch }, {
      runner: "sql",
      request_id: null,
      runner_reason: "Pinned: scheduler_nightly_job.runner is 'sql'",
    });
    const [run] = await runs(sql, slot);
    assert.deepEqual([run.status, run.runner, run.trigger], ["succeeded", "sql", "cron"]);
    const [night] = await sql`select runner, outcome from scheduler_night
      where job_name = ${JOB} and slot = ${slot}`;
    assert.deepEqual({ ...night }, { runner: "sql", outcome: "succeeded" });
    assert.equal((await rosterState(sql, ids)).due_2d.status, "expired");
    // Every request pg_net made meanwhile is another job's dispatch of the night.
    const requests = await sql`select id from net._http_response where id > ${before}
      union select id from net.http_request_queue where id > ${before}`;
    const others = await sql`select request_id from scheduler_dispatch
      where slot = ${slot} and job_name <> ${JOB} and request_id is not null`;
    const ours = new Set(others.map((d) => String(d.request_id)));
    for (const r of requests) {
      assert.ok(ours.has(String(r.id)), `pg_net request ${r.id} is not another job's dispatch`);
    }
    // The other jobs of the night go on through the function: let them end before cleaning up.
    await poll("the night's other runs to end", 30_000, async () => {
      const [open] = await sql`select count(*)::int as n from scheduler_execution_log
        where slot = ${slot} and status = 'running'`;
      const [pending] = await sql`select count(*)::int as n from scheduler_dispatch
        where slot = ${slot} and outcome is null`;
      return open.n === 0 && pending.n === 0 ? true : undefined;
    });
  } finally {
    await cleanUp(sql, slot, code);
    await sql.end();
  }
});

Deno.test("scheduler status shows a job pinned to its SQL runner, and the runner of each run", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  try {
    await withPinned(sql, async () => {
      await sql`select scheduler_dispatch(${JOB}, ${slot})`;
      await sweep(sql);
      const health = await sql`select runner, sql_runner, last_runner from scheduler_job_health
        where job_name = ${JOB}`;
      assert.deepEqual(health.map((h) => ({ ...h })), [
        { runner: "sql", sql_runner: "certification_expiry_check_sql", last_runner: "sql" },
      ]);
      const [sync] = await sql`select sql_runner, no_sql_runner_reason from scheduler_job_health
        where job_name = 'hlf_dynamics_sync'`;
      assert.equal(sync.sql_runner, null);
      assert.match(sync.no_sql_runner_reason, /over HTTP/);

      const run = await runCli(["status", "--job", JOB, "--limit", "1"]);
      assert.equal(run.code, 0, run.stderr);
      const row = run.stdout.split("\n").find((l) => l.startsWith(`${JOB} `))!;
      assert.match(row, /\bsql \(pinned\)/);
      assert.match(
        run.stdout,
        /certification_expiry_check is pinned to its SQL runner certification_expiry_check_sql; back to the function: update scheduler_nightly_job set runner = 'function'/,
      );
      const json = JSON.parse(
        (await runCli(["status", "--json", "--job", JOB, "--limit", "1"])).stdout,
      );
      assert.equal(json.runs[0].runner, "sql");
      assert.equal(json.runs[0].slot, slot);
    });
  } finally {
    await dropSlot(sql, slot);
    await sql.end();
  }
});

Deno.test("a delivery to the function of a dispatch meant for the SQL runner is a duplicate and leaves it to the SQL runner", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  try {
    await withPinned(sql, async () => {
      // Aged past the SQL runner's ten minutes (but not the function's hour), so pg_cron's own
      // SQL runner job cannot take it before the function's delivery below.
      const [{ id }] = await sql.begin(async (tx) => {
        const rows = await tx`select scheduler_dispatch(${JOB}, ${slot}) as id`;
        await tx`update scheduler_dispatch set created_at = now() - interval '11 minutes'
          where id = ${rows[0].id}`;
        return rows;
      });
      const replay = await callScheduler({ job_name: JOB, dispatch_id: id });
      assert.equal(replay.body.status, "duplicate");
      const [dispatch] = await sql`select outcome from scheduler_dispatch where id = ${id}`;
      assert.equal(dispatch.outcome, null, "the dispatch still waits for the SQL runner");
      await sql`update scheduler_dispatch set created_at = now() where id = ${id}`;
      await sweep(sql);
    });
    const rows = await runs(sql, slot);
    assert.deepEqual(rows.map((r) => [r.status, r.runner]), [
      ["duplicate", "function"],
      ["succeeded", "sql"],
    ]);
    assert.match(
      rows[0].error_message,
      /is for the sql runner; this delivery by the function did not run the job/,
    );
  } finally {
    await dropSlot(sql, slot);
    await sql.end();
  }
});

Deno.test("a SQL runner's part that spends its budget ends partial and the next part finishes the night", async () => {
  const sql = connect();
  const runner = postgres(stackEnv().DB_URL, { max: 1, onnotice: () => {} });
  const slot = uniqueSlot();
  const code = testOrganisationCode("it_sqlparts");
  const locker = await sql.reserve();
  try {
    const ids = await createRoster(sql, code, ROSTER);
    await withPolicy(sql, JOB, { budget_ms: 1_000 }, () =>
      withPinned(sql, async () => {
        // The first batch (one row: the oldest due) waits on this lock past the 1 s budget,
        // so the part stops after it, whichever call took the dispatch.
        await locker`begin`;
        await locker`select id from certification where id = ${ids.get("due_2d")!} for update`;
        await sql`select scheduler_dispatch(${JOB}, ${slot}, ${sql.json({ batch_size: 1 })})`;
        // (A postgres.js query runs once awaited or executed: execute() starts it now.)
        const call = runner`call scheduler_run_sql_dispatches()`.execute();
        const [started] = await poll("the first part to start", 20_000, async () => {
          const rows = await runs(sql, slot);
          return rows.some((r) => r.status === "running") ? rows : undefined;
        });
        assert.equal(started.runner, "sql");
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        await locker`commit`;
        await call;
        await poll("the night to succeed", 20_000, async () => {
          await sweep(sql);
          const rows = await runs(sql, slot);
          return rows.some((r) => r.status === "succeeded") ? rows : undefined;
        });
      }));
    const rows = await runs(sql, slot);
    assert.deepEqual(rows.map((r) => [r.status, r.runner, r.trigger, r.attempt]), [
      ["partial", "sql", "cron", 1],
      ["succeeded", "sql", "continuation", 1],
    ]);
    assert.equal(rows[0].summary.stopped_by, "deadline");
    assert.equal(rows[0].summary.batches, 1);
    assert.equal(rows[0].summary.expired, 1);
    assert.equal(rows[1].summary.complete, true);
    const state = await rosterState(sql, ids);
    assert.equal(state.due_2d.status, "expired");
    assert.equal(state.due_1h.status, "expired");
    assert.deepEqual(await rosterNotices(sql, ids), ["in_20d/30", "in_3d/30", "in_3d/7"]);
  } finally {
    await locker`rollback`.catch(() => undefined);
    locker.release();
    await cleanUp(sql, slot, code);
    await runner.end();
    await sql.end();
  }
});

Deno.test("an operator's cancel stops a SQL runner's run after its current batch, and it ends cancelled", async () => {
  const sql = connect();
  const runner = postgres(stackEnv().DB_URL, { max: 1, onnotice: () => {} });
  const slot = uniqueSlot();
  const code = testOrganisationCode("it_sqlcancel");
  const locker = await sql.reserve();
  try {
    const ids = await createRoster(sql, code, ROSTER);
    await withPinned(sql, async () => {
      // The lock holds the run inside its first batch while the operator cancels it.
      await locker`begin`;
      await locker`select id from certification where id = ${ids.get("due_2d")!} for update`;
      await sql`select scheduler_dispatch(${JOB}, ${slot})`;
      const call = runner`call scheduler_run_sql_dispatches()`.execute();
      const running = await poll("the SQL runner's run", 20_000, async () => {
        const rows = await runs(sql, slot);
        return rows.find((r) => r.status === "running");
      });
      const [asked] = await sql`select status from scheduler_cancel(${running.id}, 'it-test')`;
      assert.equal(asked.status, "requested");
      await locker`commit`;
      await call;
      await poll("the run to end", 20_000, async () => {
        const rows = await runs(sql, slot);
        return rows.every((r) => r.status !== "running") ? rows : undefined;
      });
      await sweep(sql);
    });
    const rows = await runs(sql, slot);
    assert.deepEqual(rows.map((r) => [r.status, r.runner]), [["cancelled", "sql"]]);
    assert.match(rows[0].error_message, /^Cancelled by an operator; the SQL runner stopped/);
    // The batch it was in finished; the notices it had not reached were not queued.
    assert.equal((await rosterState(sql, ids)).due_2d.status, "expired");
    assert.deepEqual(await rosterNotices(sql, ids), []);
  } finally {
    await locker`rollback`.catch(() => undefined);
    locker.release();
    await cleanUp(sql, slot, code);
    await runner.end();
    await sql.end();
  }
});
