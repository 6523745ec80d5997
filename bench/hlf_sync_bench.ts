// hlf_dynamics_sync's throughput against the fake Dataverse over HTTP: records
// per second end to end (change feed through PostgREST, portal pushes, cursor
// moves), at 0 and 50 ms per portal request, one PATCH per record against
// UpsertMultiple batches, with no limits and under Dataverse's request limit.
// Needs the local stack.
//
// The fake charges its latency per request, however many records it holds, so
// the batched figures are an upper bound for a real portal, where a bulk
// request takes longer than a single one.
import type postgres from "postgres";
import { timerSleep } from "../src/domain/batch_pacer.ts";
import { systemClock } from "../src/domain/clock.ts";
import { jobSummary } from "../src/domain/job.ts";
import { ClientCredentialsTokenProvider } from "../src/infrastructure/dynamics/client_credentials_token_provider.ts";
import { DataverseCertificationPortal } from "../src/infrastructure/dynamics/dataverse_certification_portal.ts";
import { Redacted } from "../src/infrastructure/dynamics/redacted.ts";
import { DEFAULT_RETRY_POLICY } from "../src/infrastructure/dynamics/retry_policy.ts";
import { SupabaseCertificationChangeFeed } from "../src/infrastructure/supabase/supabase_certification_change_feed.ts";
import { createServiceClient } from "../src/infrastructure/supabase/supabase_client.ts";
import { SupabaseSyncQuarantine } from "../src/infrastructure/supabase/supabase_sync_quarantine.ts";
import { HLF_DYNAMICS_SYNC_DEFAULTS, hlfDynamicsSync } from "../src/jobs/hlf_dynamics_sync.ts";
import { DATAVERSE_LIMITS, FAKE_APP, FakeDataverse } from "../local/fake_dataverse.ts";
import { connectAdmin, stackEnv } from "../local/stack.ts";
import { table } from "./stats.ts";

/** The organisation (and sync name) the sync benchmarks use. */
export const ORGANISATION = "bench_hlf_sync";

/** One measured configuration. */
export interface SyncCase {
  latencyMs: number;
  batchSize: number;
  concurrency: number;
  /** Dataverse's rate (6,000 requests per 5 minutes), in a window short enough for a benchmark. */
  limited: boolean;
  records: number;
}

/** What one configuration achieved. */
export interface SyncResult extends SyncCase {
  ms: number;
  requests: number;
  throttled: number;
}

/** The configurations `deno task bench` runs. */
export const SYNC_CASES: SyncCase[] = [
  { latencyMs: 0, batchSize: 1, concurrency: 16, limited: false, records: 5_000 },
  { latencyMs: 0, batchSize: 100, concurrency: 16, limited: false, records: 20_000 },
  { latencyMs: 50, batchSize: 1, concurrency: 4, limited: false, records: 2_000 },
  { latencyMs: 50, batchSize: 1, concurrency: 16, limited: false, records: 5_000 },
  { latencyMs: 50, batchSize: 100, concurrency: 16, limited: false, records: 20_000 },
  { latencyMs: 50, batchSize: 1, concurrency: 16, limited: true, records: 600 },
  { latencyMs: 50, batchSize: 100, concurrency: 16, limited: true, records: 20_000 },
];

// 6,000 per 300 s is 20 requests a second; 100 per 5 s is the same rate.
const SHORT_LIMITS = { ...DATAVERSE_LIMITS, requests: 100, windowMs: 5_000 };

/** Runs each case on the same roster (the cursor reset between runs) and removes it afterwards. */
export async function hlfSyncBench(cases = SYNC_CASES): Promise<SyncResult[]> {
  const env = stackEnv();
  // The superuser: the benchmark vacuums, rewrites and checkpoints (postgres may not, as on hosted).
  const sql = connectAdmin(env);
  const client = createServiceClient(env.API_URL, env.SERVICE_ROLE_KEY);
  const results: SyncResult[] = [];
  try {
    for (const c of cases) {
      await roster(sql, c.records);
      const fake = new FakeDataverse();
      fake.latencyMs = c.latencyMs;
      if (c.limited) fake.limits = SHORT_LIMITS;
      const portal = dataversePortal(fake.serve(), c);
      const sync = hlfDynamicsSync(
        {
          portal,
          feed: new SupabaseCertificationChangeFeed(client),
          quarantine: new SupabaseSyncQuarantine(client),
        },
        { ...HLF_DYNAMICS_SYNC_DEFAULTS, organisationCode: ORGANISATION, syncName: ORGANISATION },
      );
      const start = performance.now();
      const summary = jobSummary(await sync({}, context()));
      const ms = performance.now() - start;
      await fake.close();
      if (summary?.sent !== c.records || fake.rows.size !== c.records) {
        throw new Error(`Benchmark result is wrong: sent ${summary?.sent} of ${c.records}`);
      }
      const requests = fake.requests.filter((r) => r.path.includes("/api/")).length;
      results.push({ ...c, ms, requests, throttled: fake.throttled });
    }
  } finally {
    await sql`delete from scheduler_sync_cursor where sync_name = ${ORGANISATION}`;
    await dropOrganisation(sql);
    await sql.end();
  }
  return results;
}

/** Renders the results as a Markdown table. */
export function hlfSyncTable(results: SyncResult[]): string {
  return table(
    [
      "portal latency",
      "form",
      "in flight",
      "request limit",
      "records",
      "time",
      "records/s",
      "requests",
      "429s",
    ],
    results.map((r) => [
      `${r.latencyMs} ms`,
      r.batchSize === 1 ? "PATCH per record" : `UpsertMultiple x ${r.batchSize}`,
      String(r.concurrency),
      r.limited ? "20 req/s (as 6,000 / 5 min)" : "none",
      r.records.toLocaleString("en"),
      `${(r.ms / 1000).toFixed(2)} s`,
      Math.round(r.records / (r.ms / 1000)).toLocaleString("en"),
      r.requests.toLocaleString("en"),
      String(r.throttled),
    ]),
  );
}

/** The function's own wiring (real clock, timers and retry policy), pointed at the fake. */
export function dataversePortal(
  baseUrl: string,
  c: Pick<SyncCase, "batchSize" | "concurrency">,
): DataverseCertificationPortal {
  const deps = { fetch, clock: systemClock, sleep: timerSleep };
  const tokens = new ClientCredentialsTokenProvider(
    {
      tokenUrl: `${baseUrl}/${FAKE_APP.tenantId}/oauth2/v2.0/token`,
      clientId: FAKE_APP.clientId,
      clientSecret: new Redacted(FAKE_APP.clientSecret),
      scope: FAKE_APP.scope,
      refreshMarginMs: 60_000,
    },
    DEFAULT_RETRY_POLICY,
    deps,
  );
  return new DataverseCertificationPortal(
    {
      apiUrl: `${baseUrl}/api/data/v9.2/`,
      entitySet: FAKE_APP.entitySet,
      entityName: FAKE_APP.entityName,
      alternateKey: FAKE_APP.alternateKey,
      concurrency: c.concurrency,
      batchSize: c.batchSize,
      requestTimeoutMs: 30_000,
    },
    DEFAULT_RETRY_POLICY,
    tokens,
    deps,
  );
}

/** `n` certifications of the benchmark organisation, every one a change the sync has not sent. */
export async function roster(sql: postgres.Sql, n: number): Promise<void> {
  await sql`delete from scheduler_sync_cursor where sync_name = ${ORGANISATION}`;
  const [{ count }] = await sql`select count(*)::int as count from certification c
    join peer_mentor pm on pm.id = c.peer_mentor_id
    join organisation o on o.id = pm.organisation_id where o.code = ${ORGANISATION}`;
  if (count === n) return;
  await dropOrganisation(sql);
  const [org] = await sql`insert into organisation (code, name)
    values (${ORGANISATION}, 'Sync benchmark') returning id`;
  const mentors = Math.max(1, Math.floor(n / 4));
  await sql`insert into peer_mentor (id, organisation_id, full_name)
    select md5('bench-sync-mentor-' || g)::uuid, ${org.id}, 'Bench mentor ' || g
    from generate_series(1, ${mentors}::int) as g`;
  await sql`insert into certification (id, peer_mentor_id, certification_type, issued_at, expires_at)
    select md5('bench-sync-cert-' || i)::uuid, md5('bench-sync-mentor-' || (1 + i % ${mentors}::int))::uuid,
      'peer_mentor_basic', now() - interval '1 year', now() + interval '1 year'
    from generate_series(1, ${n}::int) as i`;
  await sql`vacuum analyze certification, peer_mentor`;
  // The feed shows a change once every older transaction has ended.
  for (let i = 0; i < 100; i++) {
    const [row] = await sql`select max(c.change_xid) < pg_snapshot_xmin(pg_current_snapshot())
        as ready from certification c join peer_mentor pm on pm.id = c.peer_mentor_id
      join organisation o on o.id = pm.organisation_id where o.code = ${ORGANISATION}`;
    if (row.ready) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Removes the benchmark organisation, its certifications and its cursor. */
export async function dropOrganisation(sql: postgres.Sql): Promise<void> {
  await sql`delete from peer_mentor where organisation_id in
    (select id from organisation where code = ${ORGANISATION})`;
  await sql`delete from organisation where code = ${ORGANISATION}`;
}

function context() {
  return {
    executionId: crypto.randomUUID(),
    jobName: "hlf_dynamics_sync",
    trigger: "manual" as const,
    signal: new AbortController().signal,
    deadline: new Date(Date.now() + 3_600_000),
    clock: systemClock,
    logger: { info: () => {}, warn: () => {} },
  };
}

if (import.meta.main) console.log(hlfSyncTable(await hlfSyncBench()));
