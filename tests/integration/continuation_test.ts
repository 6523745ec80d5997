// Continuation in the database (migration 20261128000402): a part recorded
// partial dispatches the next part of its slot through the one dispatch path,
// linked to it, until the job's window or part cap; scheduler_night counts the
// parts as one night. The posted
// dispatches reach the real function, which records the next part's row.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { connect } from "../../local/stack.ts";
import { dropSlot, poll, slotRuns, uniqueSlot, withPolicy } from "../support/nightly.ts";
import { dropRoster, testOrganisationCode } from "../support/certification_roster.ts";

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

Deno.test("certification_expiry_check through the function drains in parts: partial parts chained by continuations, no overlap, then succeeded", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  const code = testOrganisationCode("t_parts");
  const due = 20_000;
  try {
    const [org] = await sql`insert into organisation (code, name) values (${code}, 'Parts')
      returning id`;
    const [mentor] = await sql`insert into peer_mentor (organisation_id, full_name)
      values (${org.id}, 'Parts mentor') returning id`;
    await sql`insert into certification (peer_mentor_id, certification_type, issued_at, expires_at)
      select ${mentor.id}, 'type_' || n, now() - interval '2 years', now() - interval '1 day'
      from generate_series(1, ${due}::int) as n`;

    // 1 s parts of 50-row batches: 400 batches cannot fit in one part's 750 ms.
    const runs = await withPolicy(
      sql,
      "certification_expiry_check",
      { budget_ms: 1000 },
      async () => {
        await sql`select scheduler_dispatch('certification_expiry_check', ${slot}::date,
        ${sql.json({ batch_size: 50, windows_days: [] })})`;
        return await poll("the slot's last part to succeed", 120_000, async () => {
          const rows = await slotRuns(sql, "certification_expiry_check", slot);
          const last = rows.at(-1);
          if (last?.status === "running" || last?.status === "partial") return undefined;
          return rows.length > 0 ? rows : undefined;
        }, 500);
      },
    );

    const statuses = runs.map((r) => r.status);
    assert.ok(runs.length >= 2, `expected several parts, got ${statuses.join(", ")}`);
    assert.deepEqual(statuses, [...runs.slice(1).map(() => "partial"), "succeeded"]);
    assert.deepEqual(runs.map((r) => r.trigger), [
      "cron",
      ...runs.slice(1).map(() => "continuation"),
    ]);
    for (let i = 1; i < runs.length; i++) {
      assert.equal(runs[i].previous_execution_id, runs[i - 1].id, "each part names the one before");
      assert.ok(
        runs[i].started_at.getTime() >= runs[i - 1].finished_at.getTime(),
        `part ${i + 1} started before part ${i} ended`,
      );
    }
    const [left] = await sql`select count(*)::int as n from certification c
      join peer_mentor pm on pm.id = c.peer_mentor_id join organisation o on o.id = pm.organisation_id
      where o.code = ${code} and c.status = 'active'`;
    assert.equal(left.n, 0, "every due certification expired");
    const [night] = await sql`select parts, outcome from scheduler_night
      where job_name = 'certification_expiry_check' and slot = ${slot}`;
    assert.deepEqual({ ...night }, { parts: runs.length, outcome: "succeeded" });
  } finally {
    // The sync runs after the expiry check in the same slot: let it end before dropping the slot.
    await poll("the slot's other dispatches to settle", 15_000, async () => {
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
