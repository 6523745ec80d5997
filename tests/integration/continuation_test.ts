// Continuation in the database (migration 20261128000402): a part recorded
// partial dispatches the next part of its slot through the one dispatch path,
// linked to it, until the job's window or part cap; scheduler_night counts the
// parts as one night. The posted
// dispatches reach the real function, which records the next part's row.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { connect } from "../../local/stack.ts";
import { poll } from "../support/nightly.ts";

/** A throwaway nightly job (no handler: the function records its parts as failed) and one running part. */
async function scenario(sql: postgres.Sql, options: { maxParts?: number; slot?: string } = {}) {
  const job = `t_cont_${crypto.randomUUID().slice(0, 8)}`;
  const slot = options.slot ?? (await sql`select (now() at time zone 'utc')::date::text as d`)[0].d;
  // window_end 23:59: the part's window is open for the whole test day.
  await sql`insert into scheduler_nightly_job (job_name, max_parts, window_end, run_at)
    values (${job}, ${options.maxParts ?? 100}, '23:59', '23:58')`;
  const runningPart = async (previous: string | null = null) => {
    const execution = crypto.randomUUID();
    const dispatch = crypto.randomUUID();
    // Dispatched at the slot's run_at: a slot first dispatched later gets its window from then.
    await sql`insert into scheduler_dispatch (id, job_name, slot, attempt, kind, previous_execution_id,
        execution_id, outcome, created_at)
      values (${dispatch}, ${job}, ${slot}, 1, ${previous ? "continuation" : "cron"}, ${previous},
        ${execution}, 'delivered', least(now(), (${slot}::date + time '23:58') at time zone 'utc'))`;
    await sql`insert into scheduler_execution_log (id, job_name, trigger, status, started_at,
        dispatch_id, slot, attempt, previous_execution_id, heartbeat_at)
      values (${execution}, ${job}, ${previous ? "continuation" : "cron"}, 'running', now(),
        ${dispatch}, ${slot}, 1, ${previous}, now())`;
    await sql`insert into scheduler_job_lease (job_name, owner, acquired_at, expires_at)
      values (${job}, ${execution}, now(), now() + interval '1 minute')
      on conflict (job_name) do update set owner = excluded.owner, expires_at = excluded.expires_at`;
    return execution;
  };
  const finishPartial = (execution: string) =>
    sql`select scheduler_finish_run(${execution}, ${job}, 'partial', now(), null,
      ${sql.json({ sent: 10, complete: false })})`;
  const cleanup = async () => {
    await sql`delete from scheduler_execution_log where job_name = ${job}`;
    await sql`delete from scheduler_dispatch where job_name = ${job}`;
    await sql`delete from scheduler_job_lease where job_name = ${job}`;
    await sql`delete from scheduler_nightly_job where job_name = ${job}`;
  };
  return { job, slot, runningPart, finishPartial, cleanup };
}

Deno.test("a partial part frees its lease and dispatches the next part of its slot, which the function records linked to it", async () => {
  const sql = connect();
  const s = await scenario(sql);
  try {
    const first = await s.runningPart();

    await s.finishPartial(first);

    const [row] =
      await sql`select status, summary from scheduler_execution_log where id = ${first}`;
    assert.equal(row.status, "partial");
    assert.deepEqual(row.summary, { sent: 10, complete: false });
    const [lease] = await sql`select owner from scheduler_job_lease where job_name = ${s.job}`;
    assert.equal(lease.owner, null, "the next part can take the lease");
    const [dispatch] = await sql`select kind, attempt, slot::text, previous_execution_id, request_id
      from scheduler_dispatch where job_name = ${s.job} and kind = 'continuation'`;
    assert.deepEqual(
      { ...dispatch, request_id: dispatch.request_id !== null },
      {
        kind: "continuation",
        attempt: 1,
        slot: s.slot,
        previous_execution_id: first,
        request_id: true,
      },
    );
    // pg_net posts it to the function, which records the next part (no handler here: failed).
    const next = await poll("the next part's row", 30_000, async () => {
      const [r] = await sql`select trigger, status, previous_execution_id, slot::text
        from scheduler_execution_log where job_name = ${s.job} and id <> ${first}`;
      return r;
    });
    assert.deepEqual({ ...next }, {
      trigger: "continuation",
      status: "failed",
      previous_execution_id: first,
      slot: s.slot,
    });
    const [night] = await sql`select parts, attempts, outcome from scheduler_night
      where job_name = ${s.job} and slot = ${s.slot}`;
    assert.deepEqual({ ...night }, { parts: 2, attempts: 1, outcome: "failed" });
  } finally {
    await s.cleanup();
    await sql.end();
  }
});

Deno.test("no next part once the job's max_parts parts ended partial", async () => {
  const sql = connect();
  const s = await scenario(sql, { maxParts: 2 });
  try {
    const first = await s.runningPart();
    await s.finishPartial(first);
    // Stand in for the dispatched second part, before the function takes it.
    await sql`update scheduler_dispatch set outcome = 'delivered', execution_id = ${crypto.randomUUID()}
      where job_name = ${s.job} and kind = 'continuation'`;
    const second = await s.runningPart(first);

    await s.finishPartial(second);

    const [{ n }] = await sql`select count(*)::int as n from scheduler_dispatch
      where job_name = ${s.job} and previous_execution_id = ${second}`;
    assert.equal(n, 0, "two parts is the cap");
  } finally {
    await s.cleanup();
    await sql.end();
  }
});

Deno.test("no next part after the job's window has closed for the slot", async () => {
  const sql = connect();
  const s = await scenario(sql, { slot: "2026-01-05" });
  try {
    const first = await s.runningPart();

    await s.finishPartial(first);

    const [{ n }] = await sql`select count(*)::int as n from scheduler_dispatch
      where job_name = ${s.job} and kind = 'continuation'`;
    assert.equal(n, 0);
    const [row] = await sql`select status from scheduler_execution_log where id = ${first}`;
    assert.equal(
      row.status,
      "partial",
      "the night's last part stays partial: truthful, not failed",
    );
  } finally {
    await s.cleanup();
    await sql.end();
  }
});
