// hlf_dynamics_sync through the real path at its in-flight limit: 100,000
// changed HLF certifications sent by one manual run of the function (gateway
// -> function with the sync on -> demo portal answering each request after
// 50 ms), beside the limit the settings set: `in flight x batch / latency`
// records a second (16 x 100 / 50 ms = 32,000/s with the defaults). Several
// runs, each from the same cursor over the same rows; the median and spread.
// Needs the local stack; it restarts the function with the demo portal for
// its run and back afterwards (as the first-load test does).
//   deno run -A bench/sync_through_function_bench.ts [runs]
import type postgres from "postgres";
import { connect, functionUrl, stackEnv } from "../local/stack.ts";
import { demoPortal, type DemoPortalStats, withDemoPortal } from "../tests/support/demo_portal.ts";
import { type Spread, spread } from "./stats.ts";

const LOAD = 100_000;
const MENTORS = 100;
const LATENCY_MS = 50;
// The function's defaults (HLF_DYNAMICS_CONCURRENCY, HLF_DYNAMICS_BATCH_SIZE).
const IN_FLIGHT = 16;
const BATCH = 100;
/** The limit the settings set, in records a second. */
export const SYNC_LIMIT_PER_S = IN_FLIGHT * BATCH / (LATENCY_MS / 1000);
/** The target: at least this share of the limit. */
export const SYNC_TARGET_SHARE = 0.8;

/** What the runs measured. */
export interface SyncThroughFunctionResult {
  records: number;
  runs: number;
  /** Records a second, as the run's own duration_ms reports it. */
  rate: Spread;
  requests: number;
  throttled: number;
  resent: number;
}

/** Seeds the load, runs the sync `runs` times from the same cursor, and always cleans up. */
export async function syncThroughFunctionBench(runs = 3): Promise<SyncThroughFunctionResult> {
  const env = stackEnv();
  const sql = connect(env);
  const saved = await savedCursor(sql);
  const seed = await seedLoad(sql);
  try {
    return await withDemoPortal(LATENCY_MS, async () => {
      await untilHeartbeatSucceeds(env);
      const before = await demoPortal<DemoPortalStats>("stats");
      const rates: number[] = [];
      for (let i = 0; i < runs; i++) {
        await restoreCursor(sql, seed.start);
        const response = await fetch(functionUrl(), {
          method: "POST",
          headers: {
            authorization: `Bearer ${env.SCHEDULER_SECRET}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ job_name: "hlf_dynamics_sync" }),
        });
        const body = await response.json();
        if (body.status !== "succeeded" || body.summary?.sent < LOAD) {
          throw new Error(`The sync run did not send the load: ${JSON.stringify(body)}`);
        }
        rates.push(body.summary.sent / (body.duration_ms / 1000));
      }
      const after = await demoPortal<DemoPortalStats>("stats");
      return {
        records: LOAD,
        runs,
        rate: spread(rates),
        requests: after.upsert_multiples - before.upsert_multiples,
        throttled: after.throttled - before.throttled,
        // Every run sends the load again by design (the cursor is put back); what a
        // single run resent is what exceeds one send per run.
        resent: (after.records_sent - before.records_sent) - runs * LOAD,
      };
    });
  } finally {
    await dropLoad(sql, seed);
    await restoreCursor(sql, saved);
    await sql.end();
  }
}

/** The figures beside the limit and the target. */
export function syncThroughFunctionTable(r: SyncThroughFunctionResult): string {
  const share = (rate: number) => `${(100 * rate / SYNC_LIMIT_PER_S).toFixed(0)} %`;
  const perS = (rate: number) => `${Math.round(rate).toLocaleString("en")}/s`;
  return [
    `| hlf_dynamics_sync through the function, ${LOAD.toLocaleString("en")} records, ` +
    `${LATENCY_MS} ms a request | runs | median | min | max | limit (${IN_FLIGHT} x ${BATCH} / ` +
    `${LATENCY_MS} ms) | share of limit (median) | target |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    `| records/s | ${r.runs} | ${perS(r.rate.median)} | ${perS(r.rate.min)} | ${
      perS(r.rate.max)
    } | ${perS(SYNC_LIMIT_PER_S)} | ${share(r.rate.median)} | >= ${100 * SYNC_TARGET_SHARE} % ${
      r.rate.median >= SYNC_TARGET_SHARE * SYNC_LIMIT_PER_S ? "(met)" : "(NOT met)"
    } |`,
    `UpsertMultiple requests: ${r.requests}, 429s: ${r.throttled}, records sent more than once ` +
    `per run: ${r.resent}`,
  ].join("\n");
}

/** The stack's services answer after a restart: one heartbeat through the function succeeds. */
async function untilHeartbeatSucceeds(env: ReturnType<typeof stackEnv>): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const response = await fetch(functionUrl(), {
      method: "POST",
      headers: {
        authorization: `Bearer ${env.SCHEDULER_SECRET}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ job_name: "heartbeat" }),
    });
    const body = await response.json();
    if (body.status === "succeeded") return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("The function did not run a heartbeat after its restart");
}

type Cursor = { change_xid: string; certification_id: string; advanced_at: Date } | null;

async function savedCursor(sql: postgres.Sql): Promise<Cursor> {
  const [row] = await sql`select change_xid::text as change_xid, certification_id, advanced_at
    from scheduler_sync_cursor where sync_name = 'hlf_dynamics_sync'`;
  return (row as Cursor) ?? null;
}

async function restoreCursor(sql: postgres.Sql, cursor: Cursor): Promise<void> {
  if (cursor === null) {
    await sql`delete from scheduler_sync_cursor where sync_name = 'hlf_dynamics_sync'`;
    return;
  }
  await sql`insert into scheduler_sync_cursor (sync_name, change_xid, certification_id, advanced_at)
    values ('hlf_dynamics_sync', ${cursor.change_xid}::xid8, ${cursor.certification_id},
      ${cursor.advanced_at})
    on conflict (sync_name) do update set change_xid = excluded.change_xid,
      certification_id = excluded.certification_id, advanced_at = excluded.advanced_at`;
}

/** The load in one transaction, and the cursor just before it (past everything older). */
async function seedLoad(sql: postgres.Sql) {
  const tag = `bench_load_${crypto.randomUUID().slice(0, 8)}`;
  return await sql.begin(async (tx) => {
    const [existing] = await tx`select id from organisation where code = 'hlf'`;
    const [org] = existing
      ? [existing]
      : await tx`insert into organisation (code, name) values ('hlf', 'HLF') returning id`;
    await tx`
      with mentor as (
        insert into peer_mentor (organisation_id, full_name)
        select ${org.id}, ${tag} || ' ' || m from generate_series(1, ${MENTORS}::int) as m
        returning id
      )
      insert into certification
        (peer_mentor_id, certification_type, issued_at, expires_at, status, expired_at)
      select mentor.id, 'load_' || n, now() - interval '2 years',
        case when n % 10 = 1 then now() - interval '1 day' else now() + interval '1 year' end,
        case n % 10 when 0 then 'revoked' when 1 then 'expired' else 'active' end,
        case when n % 10 = 1 then now() - interval '1 day' end
      from mentor, generate_series(1, ${LOAD / MENTORS}::int) as n`;
    // Every row of this transaction carries its id; the cursor starts just below it.
    const [{ xid }] = await tx`select (pg_current_xact_id()::text::numeric - 1)::text as xid`;
    const start: Cursor = {
      change_xid: xid,
      certification_id: "ffffffff-ffff-ffff-ffff-ffffffffffff",
      advanced_at: new Date(),
    };
    return { tag, orgId: org.id as string, createdOrg: !existing, start };
  });
}

async function dropLoad(
  sql: postgres.Sql,
  seed: { tag: string; orgId: string; createdOrg: boolean },
): Promise<void> {
  await sql`delete from certification where peer_mentor_id in
    (select id from peer_mentor where full_name like ${seed.tag + " %"})`;
  await sql`delete from peer_mentor where full_name like ${seed.tag + " %"}`;
  if (seed.createdOrg) await sql`delete from organisation where id = ${seed.orgId}`;
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 3);
  console.log(syncThroughFunctionTable(await syncThroughFunctionBench(runs)));
}
