// Issue 10's first load, end to end: 100,000 changed HLF certifications,
// dispatched as a night's hlf_dynamics_sync through the real path (dispatch
// record -> pg_net -> gateway -> function with the sync on -> demo portal
// answering each upsert request after 50 ms), with a 2.5 s budget per part so
// the night drains in several continuation parts.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { connect } from "../../local/stack.ts";
import { demoPortal, type DemoPortalStats, withDemoPortal } from "../support/demo_portal.ts";
import { dropSlot, poll, uniqueSlot, withPolicy } from "../support/nightly.ts";
import { cpuBetween, hostCpuMs } from "../support/edge_host.ts";

const LOAD = 100_000;
const MENTORS = 100;
const BUDGET_MS = 2_500;
// The function's SCHEDULER_ABORT_GRACE_MS (the stack leaves the default).
const ABORT_GRACE_MS = 2_000;
// HLF_DYNAMICS_SYNC_DEFAULTS.pageSize and the default HLF_DYNAMICS_BATCH_SIZE.
const PAGE_SIZE = 1_000;
const BATCH_SIZE = 100;
const NIL_UUID = "00000000-0000-0000-0000-000000000000";

/** HLF's organisation (created when absent) with `LOAD` certifications in one transaction. */
async function seedFirstLoad(sql: postgres.Sql) {
  const tag = `t_load_${crypto.randomUUID().slice(0, 8)}`;
  return await sql.begin(async (tx) => {
    const [existing] = await tx`select id from organisation where code = 'hlf'`;
    const [org] = existing
      ? [existing]
      : await tx`insert into organisation (code, name) values ('hlf', 'HLF') returning id`;
    // A tenth revoked, a tenth expired, the rest active: the portal must hold each final status.
    await tx`
      with mentor as (
        insert into peer_mentor (organisation_id, full_name)
        select ${org.id}, ${tag} || ' ' || m from generate_series(1, ${MENTORS}::int) as m
        returning id
      )
      insert into certification
        (peer_mentor_id, certification_type, issued_at, expires_at, status, expired_at)
      select mentor.id, 'load_' || n,
        now() - interval '2 years',
        case when n % 10 = 1 then now() - interval '1 day' else now() + interval '1 year' end,
        case n % 10 when 0 then 'revoked' when 1 then 'expired' else 'active' end,
        case when n % 10 = 1 then now() - interval '1 day' end
      from mentor, generate_series(1, ${LOAD / MENTORS}::int) as n`;
    return { tag, orgId: org.id as string, createdOrg: !existing };
  });
}

/** The seeded certifications' ids and statuses. */
async function seeded(sql: postgres.Sql, tag: string): Promise<Map<string, string>> {
  const rows = await sql`select c.id, c.status from certification c
    join peer_mentor pm on pm.id = c.peer_mentor_id where pm.full_name like ${tag + " %"}`;
  return new Map(rows.map((r) => [r.id as string, r.status as string]));
}

async function dropFirstLoad(
  sql: postgres.Sql,
  seed: { tag: string; orgId: string; createdOrg: boolean },
) {
  await sql`delete from certification where peer_mentor_id in
    (select id from peer_mentor where full_name like ${seed.tag + " %"})`;
  await sql`delete from peer_mentor where full_name like ${seed.tag + " %"}`;
  if (seed.createdOrg) await sql`delete from organisation where id = ${seed.orgId}`;
}

/** The production cursor as it stands, to put back afterwards (null: none yet). */
async function savedCursor(sql: postgres.Sql) {
  const [row] = await sql`select change_xid::text as change_xid, certification_id, advanced_at
    from scheduler_sync_cursor where sync_name = 'hlf_dynamics_sync'`;
  return row ?? null;
}

async function restoreCursor(sql: postgres.Sql, saved: Awaited<ReturnType<typeof savedCursor>>) {
  if (saved === null) {
    await sql`delete from scheduler_sync_cursor where sync_name = 'hlf_dynamics_sync'`;
  } else {
    await sql`update scheduler_sync_cursor set change_xid = ${saved.change_xid}::xid8,
        certification_id = ${saved.certification_id}, advanced_at = ${saved.advanced_at}
      where sync_name = 'hlf_dynamics_sync'`;
  }
}

Deno.test("hlf_dynamics_sync drains a first load of 100,000 changed HLF certifications in one night at 50 ms per portal request: chained parts inside their budget, no overlap, every record in its final status, resends bounded", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  const cursor = await savedCursor(sql);
  const seed = await seedFirstLoad(sql);
  try {
    const expected = await seeded(sql, seed.tag);
    assert.equal(expected.size, LOAD);
    // Everything of HLF's past the cursor goes tonight (the load, and what an earlier seed
    // left), in the feed's order: (change_xid, id).
    const feedOrder = (await sql`select c.id from certification c
      join peer_mentor pm on pm.id = c.peer_mentor_id
      where pm.organisation_id = ${seed.orgId} and (c.change_xid, c.id) > (
        coalesce(${cursor?.change_xid ?? null}::xid8, '0'::xid8),
        coalesce(${cursor?.certification_id ?? null}::uuid, ${NIL_UUID}::uuid))
      order by c.change_xid, c.id`).map((r) => r.id as string);

    // The portal's view is read before the stack goes back to the sync off (which stops it).
    const { runs, before, after, held, resent, cpuMs } = await withDemoPortal(50, async () => {
      const before = await demoPortal<DemoPortalStats>("stats");
      // Under the hosted Edge Runtime's default limits (the stack's function host).
      const cpuBefore = await hostCpuMs();
      assert.equal(before.latency_ms, 50);
      // A sync dispatched by an earlier test's slot must not hold the lease when this night starts.
      await poll("hlf_dynamics_sync's lease to be free", 30_000, async () => {
        const [held] = await sql`select exists (select from scheduler_job_lease
          where job_name = 'hlf_dynamics_sync' and owner is not null and expires_at > now()) as held`;
        return held.held ? undefined : true;
      });
      const runs = await withPolicy(
        sql,
        "hlf_dynamics_sync",
        { budget_ms: BUDGET_MS },
        async () => {
          await sql`select scheduler_dispatch('hlf_dynamics_sync', ${slot}::date)`;
          return await poll("the night's last part to end", 110_000, async () => {
            const rows = await sql`select id, status, trigger, attempt, started_at, finished_at,
              duration_ms, previous_execution_id, summary, error_message, stop_reason, cpu_ms
            from scheduler_execution_log where job_name = 'hlf_dynamics_sync' and slot = ${slot}
            order by started_at`;
            const last = rows.at(-1);
            if (!last || last.status === "running" || last.status === "partial") return undefined;
            return rows;
          }, 500);
        },
      );
      return {
        runs,
        before,
        cpuMs: cpuBetween(cpuBefore, await hostCpuMs()),
        after: await demoPortal<DemoPortalStats>("stats"),
        held: await demoPortal<Record<string, string | null>>("statuses"),
        resent: await demoPortal<Record<string, number>>("resent"),
      };
    });

    const statuses = runs.map((r) => r.status);
    assert.ok(runs.length >= 3, `expected several parts, got ${statuses.join(", ")}`);
    assert.deepEqual(
      statuses,
      [...runs.slice(1).map(() => "partial"), "succeeded"],
      `parts: ${JSON.stringify(runs.map((r) => [r.status, r.error_message]))}`,
    );
    assert.deepEqual(runs.map((r) => r.trigger), [
      "cron",
      ...runs.slice(1).map(() => "continuation"),
    ]);
    assert.ok(runs.every((r) => r.attempt === 1), "no part was a retry");
    for (const [i, run] of runs.entries()) {
      assert.ok(
        run.duration_ms <= BUDGET_MS + ABORT_GRACE_MS,
        `part ${i + 1} took ${run.duration_ms} ms, over its ${BUDGET_MS} ms budget + grace`,
      );
      if (i === 0) continue;
      assert.equal(run.previous_execution_id, runs[i - 1].id, "each part names the one before");
      assert.ok(
        run.started_at.getTime() >= runs[i - 1].finished_at.getTime(),
        `part ${i + 1} started before part ${i} ended`,
      );
    }
    const sent = runs.reduce((sum, r) => sum + (r.summary?.sent ?? 0), 0);
    assert.equal(sent, feedOrder.length, "the parts' summaries count every change once");
    assert.equal(runs.at(-1)?.summary?.complete, true);
    const [night] = await sql`select parts, attempts, outcome from scheduler_night
      where job_name = 'hlf_dynamics_sync' and slot = ${slot}`;
    assert.deepEqual({ ...night }, { parts: runs.length, attempts: 1, outcome: "succeeded" });

    const wrong = [...expected].filter(([id, status]) => held[id] !== status);
    assert.equal(wrong.length, 0, `not in their final status at the portal: ${wrong.length}`);

    // What may arrive twice. A part ends between pages with the cursor past all it
    // sent, unless a page is cut off: a portal wait (Retry-After, backoff) that the
    // soft stop ends when the margin before the deadline begins, or the budget's abort
    // of requests in flight (the soft stop lets those finish). Records without an
    // answer leave the cursor before that page, and the next part, starting there,
    // resends it. So a resent record lies in the first page after a part's final cursor
    // (at most PAGE_SIZE per part boundary); only a request throttled with 429
    // (resent whole, BATCH_SIZE records) may resend anything else.
    const position = new Map(feedOrder.map((id, i) => [id, i]));
    const boundaryPage = new Set<string>();
    for (const run of runs.slice(0, -1)) {
      // The cursor is opaque to the job; the feed writes it as '<change_xid>:<certification id>'.
      const end = position.get(String(run.summary?.cursor).split(":").at(-1) ?? "");
      assert.ok(end !== undefined, `part cursor ${run.summary?.cursor} is not in tonight's feed`);
      feedOrder.slice(end + 1, end + 1 + PAGE_SIZE).forEach((id) => boundaryPage.add(id));
    }
    const ours = Object.entries(resent).filter(([id]) => expected.has(id));
    const elsewhere = ours.filter(([id]) => !boundaryPage.has(id)).length;
    const throttled = after.throttled - before.throttled;
    assert.ok(
      elsewhere <= throttled * BATCH_SIZE,
      `${elsewhere} records sent more than once outside a part boundary's page, ` +
        `with ${throttled} throttled requests`,
    );
    const bound = (runs.length - 1) * PAGE_SIZE + throttled * BATCH_SIZE;
    assert.ok(
      ours.length <= bound,
      `${ours.length} records sent more than once; ${runs.length} parts and ${throttled} 429s allow ${bound}`,
    );
    assert.ok(
      ours.every(([, times]) => times <= runs.length + throttled),
      "no record sent more often than once plus its part boundaries and throttled requests",
    );
    console.log(
      `first load: ${runs.length} parts, ${sent} sent, ${ours.length} resent, ${throttled} throttled, ` +
        `${after.upsert_multiples - before.upsert_multiples} UpsertMultiple requests, ` +
        `night ${runs.at(-1)!.finished_at.getTime() - runs[0].started_at.getTime()} ms, ` +
        `longest part ${Math.max(...runs.map((r) => r.duration_ms))} ms, ` +
        `CPU ${cpuMs} ms measured by the host (${
          (cpuMs / (LOAD / 1000)).toFixed(1)
        } ms per 1,000), ` +
        `${runs.reduce((sum, r) => sum + (r.cpu_ms ?? 0), 0)} ms by the function's own account, ` +
        `parts ended by ${runs.map((r) => r.stop_reason ?? r.status).join(", ")}`,
    );
  } finally {
    await dropSlot(sql, slot);
    await dropFirstLoad(sql, seed);
    await restoreCursor(sql, cursor);
    await sql.end();
  }
});
