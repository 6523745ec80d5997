// Every night accounted for, on the real local stack: acknowledge-then-run keeps
// pg_net free, one run per slot, lost dispatches retried, the final write
// surviving a PostgREST blip, and a killed function's run closed and retried.
import assert from "node:assert/strict";
import { startProbe } from "../platform/http_probe.ts";
import { dropSlot, poll, slotRuns, uniqueSlot, withPolicy } from "../support/nightly.ts";
import { pidOf, startPostgrest, stopPostgrest } from "../support/stack_processes.ts";
import { callScheduler, connect, stackEnv } from "../../local/stack.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a job that takes 10 s leaves pg_net free: a GET queued one second after it is answered in under a second", async () => {
  const sql = connect();
  const probe = startProbe();
  const slot = uniqueSlot();
  try {
    await sql`select scheduler_dispatch('heartbeat', ${slot}, ${sql.json({ hold_ms: 10_000 })})`;
    await sleep(1_000);
    const queued = Date.now();
    const [{ id }] = await sql`select net.http_get(${probe.url("/quick")},
      timeout_milliseconds := 5000) as id`;
    const response = await poll("the GET's response", 20_000, async () => {
      const [row] = await sql`select status_code from net._http_response where id = ${id}`;
      return row;
    }, 20);
    const answeredMs = Date.now() - queued;
    assert.equal(response.status_code, 200);
    assert.ok(answeredMs < 1_000, `the GET waited ${answeredMs} ms behind the nightly job`);
    const run = await poll("the 10 s run to end", 30_000, async () => {
      const [row] = await slotRuns(sql, "heartbeat", slot);
      return row?.status === "running" ? undefined : row;
    });
    assert.equal(run.status, "succeeded");
    assert.ok(run.duration_ms >= 10_000);
  } finally {
    await probe.close();
    await dropSlot(sql, slot);
    await sql.end();
  }
});

Deno.test("two deliveries of one slot run the job once, whether they overlap or come after it succeeded; a replayed dispatch id is a duplicate too", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  const ended = () =>
    poll("the slot's deliveries to end", 20_000, async () => {
      const rows = await slotRuns(sql, "heartbeat", slot);
      return rows.length > 0 && rows.every((r) => r.status !== "running") ? rows : undefined;
    });
  try {
    const [first, second] = await sql.begin(async (tx) => [
      (await tx`select scheduler_dispatch('heartbeat', ${slot}, ${
        sql.json({ hold_ms: 1_500 })
      }) as id`)[0].id,
      (await tx`select scheduler_dispatch('heartbeat', ${slot}) as id`)[0].id,
    ]);
    await poll("both overlapping deliveries", 20_000, async () => {
      const rows = await slotRuns(sql, "heartbeat", slot);
      return rows.length === 2 ? rows : undefined;
    });
    await ended();
    // Before dispatch records, a delivery after the night's run had ended ran the job again.
    const [{ id: late }] = await sql`select scheduler_dispatch('heartbeat', ${slot}) as id`;
    await poll("the late delivery", 20_000, async () => {
      const rows = await slotRuns(sql, "heartbeat", slot);
      return rows.length === 3 ? rows : undefined;
    });
    const replay = await callScheduler({ job_name: "heartbeat", dispatch_id: first });
    assert.equal(replay.body.status, "duplicate");
    const rows = await ended();
    const status = new Map(rows.map((r) => [r.dispatch_id, r.status]));
    assert.equal(rows.filter((r) => r.status === "succeeded").length, 1, "the job ran once");
    // The overlapping pair goes out in one pg_net batch: either may start first.
    const ran = rows.find((r) => r.status === "succeeded")!;
    assert.ok([first, second].includes(ran.dispatch_id));
    assert.equal(status.get(late), "duplicate");
    assert.equal(rows.length, 4);
  } finally {
    await dropSlot(sql, slot);
    await sql.end();
  }
});

Deno.test("a dispatch that never reaches the job (wrong URL in Vault) is recorded lost and retried, and succeeds in the same slot once fixed", async () => {
  const sql = connect();
  const env = stackEnv();
  const slot = uniqueSlot();
  const [{ url }] = await sql`select decrypted_secret as url from vault.decrypted_secrets
    where name = 'nightly_scheduler_url'`;
  const reconcileUntil = (
    what: string,
    done: (rows: Awaited<ReturnType<typeof slotRuns>>) => boolean,
  ) =>
    poll(what, 30_000, async () => {
      await sql`select * from scheduler_reconcile()`;
      const rows = await slotRuns(sql, "heartbeat", slot);
      return done(rows) ? rows : undefined;
    });
  try {
    // Backoff 2 s, then 4 s: room to fix the URL after the second loss, before the third attempt.
    await withPolicy(sql, "heartbeat", { retry_backoff_ms: 2_000, max_attempts: 3 }, async () => {
      await sql`select vault.update_secret(id, ${env.API_URL + "/functions/v1/no-such-function"})
        from vault.secrets where name = 'nightly_scheduler_url'`;
      await sql`select scheduler_dispatch('heartbeat', ${slot})`;
      const lost = await reconcileUntil("two lost attempts", (rows) => rows.length >= 2);
      assert.deepEqual(lost.slice(0, 2).map((r) => [r.status, r.attempt, r.trigger]), [
        ["lost", 1, "cron"],
        ["lost", 2, "retry"],
      ]);
      assert.equal(lost[0].error_message, "The function URL answered HTTP 404");
      assert.equal(lost[1].previous_execution_id, lost[0].id);

      await sql`select vault.update_secret(id, ${url}) from vault.secrets
        where name = 'nightly_scheduler_url'`;
      const rows = await reconcileUntil(
        "the slot to succeed",
        (rows) => rows.some((r) => r.status === "succeeded"),
      );
      assert.deepEqual(rows.map((r) => [r.status, r.attempt]), [
        ["lost", 1],
        ["lost", 2],
        ["succeeded", 3],
      ]);
      await sql`select * from scheduler_reconcile()`;
      assert.equal((await slotRuns(sql, "heartbeat", slot)).length, 3, "no attempt after success");
    });
  } finally {
    await sql`select vault.update_secret(id, ${url}) from vault.secrets
      where name = 'nightly_scheduler_url'`;
    await dropSlot(sql, slot);
    await sql.end();
  }
});

Deno.test("PostgREST stopped for 2 s at the end of a run: the row still says succeeded, with its real duration", async () => {
  const sql = connect();
  try {
    const ack = await callScheduler({
      job_name: "heartbeat",
      payload: { hold_ms: 3_000 },
      wait: false,
    });
    assert.equal(ack.body.status, "running");
    await sleep(2_000);
    stopPostgrest();
    await sleep(2_000); // the run ends at 3 s, while PostgREST is away
    await startPostgrest();
    const row = await poll("the run's final row", 30_000, async () => {
      const [row] = await sql`select status, duration_ms, error_message from scheduler_execution_log
        where id = ${ack.body.execution_id as string}`;
      return row.status === "running" ? undefined : row;
    });
    assert.equal(row.status, "succeeded", row.error_message);
    assert.ok(
      row.duration_ms >= 3_000 && row.duration_ms < 3_800,
      `duration ${row.duration_ms} ms`,
    );
  } finally {
    await sql.end();
  }
});

Deno.test("kill -9 of the function mid-run: the next attempt runs within 45 s and the dead run ends at its last heartbeat", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  try {
    await withPolicy(sql, "heartbeat", { retry_backoff_ms: 0 }, async () => {
      await sql`select scheduler_dispatch('heartbeat', ${slot}, ${sql.json({ hold_ms: 15_000 })})`;
      const [dead] = await poll("the run to start", 20_000, async () => {
        const rows = await slotRuns(sql, "heartbeat", slot);
        return rows[0]?.status === "running" ? rows : undefined;
      });
      await sleep(2_000);
      Deno.kill(pidOf("function"), "SIGKILL");
      const killedAt = Date.now();
      const up = await new Deno.Command("bash", {
        args: [`${ROOT}local/stack.sh`, "up"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const said = new TextDecoder().decode(up.stdout) + new TextDecoder().decode(up.stderr);
      assert.ok(up.success, `the function restarts: ${said}`);
      // Hosted pg_cron 1.6 sweeps every 10 s; pg_cron 1.4 here only each minute,
      // so the test sweeps itself as often as the hosted schedule would.
      const rows = await poll("the next attempt", 60_000, async () => {
        await sql`select * from scheduler_reconcile()`;
        const rows = await slotRuns(sql, "heartbeat", slot);
        return rows.length > 1 ? rows : undefined;
      }, 1_000);
      const nextAfterMs = rows[1].started_at.getTime() - killedAt;
      assert.ok(nextAfterMs < 45_000, `the next attempt started ${nextAfterMs} ms after the kill`);
      assert.deepEqual([rows[1].attempt, rows[1].trigger], [2, "retry"]);
      const [closed] = await sql`select status, finished_at, heartbeat_at
        from scheduler_execution_log where id = ${dead.id}`;
      assert.equal(closed.status, "timed_out");
      assert.equal(closed.finished_at.getTime(), closed.heartbeat_at.getTime());
      assert.ok(closed.finished_at.getTime() <= killedAt, "it ended before the kill");
      assert.ok(killedAt - closed.finished_at.getTime() < 11_000, "at most one heartbeat early");
      const retry = await poll("the retry to end", 30_000, async () => {
        const [row] = await sql`select status from scheduler_execution_log
          where id = ${rows[1].id}`;
        return row.status === "running" ? undefined : row;
      });
      assert.equal(retry.status, "succeeded");
    });
  } finally {
    await dropSlot(sql, slot);
    await sql.end();
  }
});
