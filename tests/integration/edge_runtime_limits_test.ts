// The hosted Edge Runtime's limits on the local stack (local/function_host.ts),
// and the scheduler living with them: a worker's wall clock and CPU time end
// runs with a row that names the limit, the next call gets a fresh worker, and
// a part whose worker gets beforeunload hands over to the next part at once.
import assert from "node:assert/strict";
import { platform } from "../../local/platform.ts";
import { callScheduler, connect, functionUrl, stackEnv } from "../../local/stack.ts";
import { hostWorkers, warnWorkers, withEdgeLimits } from "../support/edge_host.ts";
import { dropSlot, poll, slotRuns, uniqueSlot, withPolicy } from "../support/nightly.ts";
import { dropRoster, testOrganisationCode } from "../support/certification_roster.ts";

const cost = (sql: ReturnType<typeof connect>, id: string) =>
  sql`select status, error_message, stop_reason, cpu_ms, peak_rss_mb, duration_ms
    from scheduler_execution_log where id = ${id}`.then((rows) => rows[0]);

Deno.test("with a 15 s wall clock, a dispatched heartbeat holding 40 s is ended by it: its row names the wall clock, and the next call is answered by a new worker", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  try {
    await withEdgeLimits({ EDGE_RUNTIME_WALL_CLOCK_MS: "15000" }, async () => {
      await sql`select scheduler_dispatch('heartbeat', ${slot}, ${sql.json({ hold_ms: 40_000 })})`;
      const [run] = await poll("the run to start", 20_000, async () => {
        const rows = await slotRuns(sql, "heartbeat", slot);
        return rows[0]?.status === "running" ? rows : undefined;
      });
      const { workers } = await hostWorkers();
      const ran = workers.filter((w) => w.served > 0).map((w) => w.id);
      const ended = await poll("the run to end", 30_000, async () => {
        const row = await cost(sql, run.id);
        return row.status === "running" ? undefined : row;
      });
      const endedAfterMs = Date.now() - run.started_at.getTime();
      assert.ok(endedAfterMs < 25_000, `still running ${endedAfterMs} ms after it started`);
      assert.equal(ended.status, "failed");
      assert.equal(ended.stop_reason, "wall_clock");
      assert.match(ended.error_message, /the Edge Runtime stopped the worker: wall clock/i);
      const [lease] = await sql`select owner from scheduler_job_lease where job_name = 'heartbeat'`;
      assert.notEqual(lease?.owner, run.id, "the lease was released, not left to lapse");

      const response = await fetch(`http://127.0.0.1:${platform.FN_PORT}/nightly-scheduler`);
      await response.body?.cancel();
      const worker = Number(response.headers.get("x-edge-worker"));
      assert.ok(worker > 0, "the host names the worker that answered");
      assert.ok(!ran.includes(worker), `worker ${worker} served the run too (${ran})`);
    });
  } finally {
    await dropSlot(sql, slot);
    await sql.end();
  }
});

Deno.test("with 1 s of CPU, a dispatched heartbeat burning 3 s of CPU ends within 15 s with a row naming CPU time, and the function answers right after", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  try {
    await withEdgeLimits({ EDGE_RUNTIME_CPU_TIME_MS: "1000" }, async () => {
      await sql`select scheduler_dispatch('heartbeat', ${slot}, ${sql.json({ cpu_ms: 3_000 })})`;
      const [run] = await poll("the run to start", 20_000, async () => {
        const rows = await slotRuns(sql, "heartbeat", slot);
        return rows[0] ? rows : undefined;
      });
      const ended = await poll("the run to end", 15_000, async () => {
        const row = await cost(sql, run.id);
        return row.status === "running" ? undefined : row;
      });
      assert.equal(ended.status, "failed");
      assert.equal(ended.stop_reason, "cpu_time");
      assert.match(ended.error_message, /the Edge Runtime stopped the worker: CPU time/i);
      assert.ok(ended.cpu_ms > 0, "the run's CPU is recorded");
      assert.ok(ended.peak_rss_mb > 0, "the run's peak memory is recorded");

      const answer = await callScheduler({ job_name: "heartbeat" });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.status, "succeeded");
    });
  } finally {
    await dropSlot(sql, slot);
    await sql.end();
  }
});

Deno.test("a part whose worker gets beforeunload stops within a second, ends partial naming the reason, and the next part starts at once in a fresh worker; the night completes", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  const code = testOrganisationCode("t_unload");
  try {
    const [org] = await sql`insert into organisation (code, name) values (${code}, 'Unload')
      returning id`;
    const [mentor] = await sql`insert into peer_mentor (organisation_id, full_name)
      values (${org.id}, 'Unload mentor') returning id`;
    await sql`insert into certification (peer_mentor_id, certification_type, issued_at, expires_at)
      select ${mentor.id}, 'type_' || n, now() - interval '2 years', now() - interval '1 day'
      from generate_series(1, 20000) as n`;
    // 50-row batches: 400 of them, many seconds of work for one part.
    await sql`select scheduler_dispatch('certification_expiry_check', ${slot}::date,
      ${sql.json({ batch_size: 50, windows_days: [] })})`;
    const [first] = await poll("the first part to run a while", 30_000, async () => {
      const rows = await slotRuns(sql, "certification_expiry_check", slot);
      const running = rows[0]?.status === "running" &&
        Date.now() - rows[0].started_at.getTime() > 1_000;
      return running ? rows : undefined;
    });
    const [warned] = await warnWorkers("Memory");
    assert.ok(warned, "a serving worker was warned");

    const runs = await poll("the night to end", 120_000, async () => {
      const rows = await slotRuns(sql, "certification_expiry_check", slot);
      const last = rows.at(-1);
      return last && last.status !== "running" && last.status !== "partial" ? rows : undefined;
    }, 250);
    const stopped = await cost(sql, first.id);
    assert.equal(stopped.status, "partial");
    assert.equal(stopped.stop_reason, "memory");
    const handedOverMs = runs[0].finished_at.getTime() - warned.at;
    assert.ok(handedOverMs < 1_000, `the part ended ${handedOverMs} ms after beforeunload`);
    assert.ok(runs.length >= 2, `expected a next part, got ${runs.map((r) => r.status)}`);
    assert.equal(runs[1].trigger, "continuation");
    assert.equal(runs[1].previous_execution_id, first.id);
    const startedAfterMs = runs[1].started_at.getTime() - runs[0].finished_at.getTime();
    assert.ok(startedAfterMs < 5_000, `the next part started ${startedAfterMs} ms later`);
    assert.equal(runs.at(-1)!.status, "succeeded");
    const [left] = await sql`select count(*)::int as n from certification c
      join peer_mentor pm on pm.id = c.peer_mentor_id
      where pm.organisation_id = ${org.id} and c.status = 'active'`;
    assert.equal(left.n, 0, "every due certification expired");
    const { ended } = await hostWorkers();
    assert.ok(
      ended.some((w) => w.id === warned.id),
      "the warned worker ended once its work was done",
    );
  } finally {
    await poll("the slot's dispatches to settle", 15_000, async () => {
      const [open] = await sql`select
          exists (select from scheduler_dispatch where slot = ${slot} and outcome is null)
          or exists (select from scheduler_execution_log where slot = ${slot} and status = 'running')
        as busy`;
      return open.busy ? undefined : true;
    }).catch(() => undefined);
    await dropSlot(sql, slot);
    await dropRoster(sql, code);
    await sql.end();
  }
});

Deno.test("kill -9 of the worker mid-run: with the hosted 10 s sweep, the next attempt starts within 45 s, without the failure backoff", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  try {
    // The default backoff (60 s) stays: a dead worker is not the job's failure.
    await withPolicy(sql, "heartbeat", { retry_backoff_ms: 60_000 }, async () => {
      await sql`select scheduler_dispatch('heartbeat', ${slot}, ${sql.json({ hold_ms: 15_000 })})`;
      const [dead] = await poll("the run to start", 20_000, async () => {
        const rows = await slotRuns(sql, "heartbeat", slot);
        return rows[0]?.status === "running" ? rows : undefined;
      });
      const { workers } = await hostWorkers();
      const serving = workers.filter((w) => w.served > 0 && w.state !== "terminated");
      assert.equal(serving.length, 1, `one worker runs the job: ${JSON.stringify(workers)}`);
      Deno.kill(serving[0].pid, "SIGKILL");
      const killedAt = Date.now();
      // Hosted pg_cron 1.6 sweeps every 10 s; pg_cron 1.4 here only each minute.
      const rows = await poll("the next attempt", 60_000, async () => {
        await sql`select * from scheduler_reconcile()`;
        const rows = await slotRuns(sql, "heartbeat", slot);
        return rows.length > 1 ? rows : undefined;
      }, 10_000);
      const nextAfterMs = rows[1].started_at.getTime() - killedAt;
      assert.ok(nextAfterMs < 45_000, `the next attempt started ${nextAfterMs} ms after the kill`);
      assert.deepEqual([rows[1].attempt, rows[1].trigger], [2, "retry"]);
      const [closed] = await sql`select status, stop_reason from scheduler_execution_log
        where id = ${dead.id}`;
      assert.deepEqual({ ...closed }, { status: "timed_out", stop_reason: "worker_lost" });
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

Deno.test("a request the function does not answer in time is answered 504 IDLE_TIMEOUT, as hosted does after 150 s", async () => {
  await withEdgeLimits({ EDGE_RUNTIME_REQUEST_IDLE_TIMEOUT_MS: "2000" }, async () => {
    const response = await fetch(functionUrl(), {
      method: "POST",
      headers: { authorization: `Bearer ${stackEnv().SCHEDULER_SECRET}` },
      body: JSON.stringify({ job_name: "heartbeat", payload: { hold_ms: 5_000 } }),
    });
    const body = await response.json();
    assert.equal(response.status, 504);
    assert.equal(response.headers.get("sb-error-code"), "IDLE_TIMEOUT");
    assert.equal(body.code, "IDLE_TIMEOUT");
    // The run itself goes on in its worker and ends as usual.
    const sql = connect();
    try {
      const row = await poll("the manual run to end", 15_000, async () => {
        const [r] = await sql`select status from scheduler_execution_log
          where job_name = 'heartbeat' and trigger = 'manual' order by started_at desc limit 1`;
        return r?.status === "running" ? undefined : r;
      });
      assert.equal(row.status, "succeeded");
    } finally {
      await sql.end();
    }
  });
});
