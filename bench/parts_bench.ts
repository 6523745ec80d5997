// Parts per night: each job run part after part, as continuation does (every
// part a fresh budget; the next starts when the previous ends), until it no
// longer says work remains. certification_expiry_check with 10 s parts;
// hlf_dynamics_sync with the function's default 120 s parts against the fake
// Dataverse at 50 ms a request, in UpsertMultiple batches of 100, under the
// real service protection limits (6,000 requests per 5 minutes). The dispatch
// between parts (pg_net -> function, about a second) is not included.
import { DEFAULT_BATCH_SIZE } from "../src/jobs/certification_expiry_check.ts";
import { systemClock } from "../src/domain/clock.ts";
import type { Clock } from "../src/domain/clock.ts";
import { type JobHandler, WorkRemains } from "../src/domain/job.ts";
import { SupabaseCertificationChangeFeed } from "../src/infrastructure/supabase/supabase_certification_change_feed.ts";
import { SupabaseCertificationExpiryStore } from "../src/infrastructure/supabase/supabase_certification_expiry_store.ts";
import { createServiceClient } from "../src/infrastructure/supabase/supabase_client.ts";
import { SupabaseSyncQuarantine } from "../src/infrastructure/supabase/supabase_sync_quarantine.ts";
import { certificationExpiryCheck } from "../src/jobs/certification_expiry_check.ts";
import { HLF_DYNAMICS_SYNC_DEFAULTS, hlfDynamicsSync } from "../src/jobs/hlf_dynamics_sync.ts";
import { FakeDataverse } from "../local/fake_dataverse.ts";
import { connectAdmin, stackEnv } from "../local/stack.ts";
import { ANCHOR, dropRoster, generateRoster } from "./certification_bench_data.ts";
import { dataversePortal, dropOrganisation, ORGANISATION, roster } from "./hlf_sync_bench.ts";
import { table } from "./stats.ts";

/** One job's night at one size. */
export interface PartsResult {
  job: string;
  rows: number;
  budgetMs: number;
  parts: number;
  totalMs: number;
  longestPartMs: number;
  /** Records the portal got more than once (the sync only). */
  sentTwice: number | null;
}

/** Both jobs at each size; removes the benchmark data afterwards. */
export async function partsBench(sizes = [100_000, 1_000_000]): Promise<PartsResult[]> {
  const env = stackEnv();
  // The superuser: the benchmark vacuums, rewrites and checkpoints (postgres may not, as on hosted).
  const sql = connectAdmin(env);
  const client = createServiceClient(env.API_URL, env.SERVICE_ROLE_KEY);
  const results: PartsResult[] = [];
  try {
    for (const n of sizes) {
      await generateRoster(sql, n);
      const offset = Date.now() - ANCHOR.getTime();
      const benchClock: Clock = { now: () => new Date(Date.now() - offset) };
      const expiry = certificationExpiryCheck(new SupabaseCertificationExpiryStore(client), {
        batchSize: DEFAULT_BATCH_SIZE,
      });
      results.push({
        job: "certification_expiry_check",
        rows: n,
        ...await night(expiry, 10_000, benchClock),
        sentTwice: null,
      });
      await dropRoster(sql);

      await roster(sql, n);
      const fake = new FakeDataverse();
      fake.latencyMs = 50;
      const sync = hlfDynamicsSync(
        {
          portal: dataversePortal(fake.serve(), { batchSize: 100, concurrency: 16 }),
          feed: new SupabaseCertificationChangeFeed(client),
          quarantine: new SupabaseSyncQuarantine(client),
        },
        { ...HLF_DYNAMICS_SYNC_DEFAULTS, organisationCode: ORGANISATION, syncName: ORGANISATION },
      );
      const measured = await night(sync, 120_000, systemClock);
      const keys = fake.sentKeys();
      await fake.close();
      if (fake.rows.size !== n) {
        throw new Error(`Benchmark result is wrong: ${fake.rows.size} of ${n}`);
      }
      results.push({
        job: "hlf_dynamics_sync",
        rows: n,
        ...measured,
        sentTwice: keys.length - new Set(keys).size,
      });
      await sql`delete from scheduler_sync_cursor where sync_name = ${ORGANISATION}`;
      await dropOrganisation(sql);
    }
  } finally {
    await dropRoster(sql);
    await dropOrganisation(sql);
    await sql.end();
  }
  return results;
}

/** Runs parts of `budgetMs` until the job no longer says work remains (at most 200). */
async function night(job: JobHandler, budgetMs: number, clock: Clock) {
  let parts = 0;
  let longestPartMs = 0;
  const start = performance.now();
  for (let more = true; more && parts < 200;) {
    const partStart = performance.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error("budget")), budgetMs);
    const result = await job({}, {
      executionId: crypto.randomUUID(),
      jobName: "bench",
      trigger: "continuation",
      signal: controller.signal,
      deadline: new Date(clock.now().getTime() + budgetMs),
      clock,
      logger: { info: () => {}, warn: () => {} },
    });
    clearTimeout(timer);
    parts++;
    longestPartMs = Math.max(longestPartMs, performance.now() - partStart);
    more = result instanceof WorkRemains;
  }
  return { budgetMs, parts, totalMs: performance.now() - start, longestPartMs };
}

/** Renders the results as a Markdown table. */
export function partsTable(results: PartsResult[]): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return table(
    ["job", "rows", "budget per part", "parts", "total", "longest part", "records/s", "sent twice"],
    results.map((r) => [
      r.job,
      r.rows.toLocaleString("en"),
      s(r.budgetMs),
      String(r.parts),
      s(r.totalMs),
      s(r.longestPartMs),
      Math.round(r.rows / (r.totalMs / 1000)).toLocaleString("en"),
      r.sentTwice === null ? "-" : String(r.sentTwice),
    ]),
  );
}

if (import.meta.main) {
  const sizes = Deno.args[0]?.split(",").map(Number) ?? undefined;
  console.log(partsTable(await partsBench(sizes)));
}
