// certification_expiry_check at 10k, 100k and 1M certifications, each beside a
// single hand-written set-based UPDATE doing the same state change on an
// identical fresh copy of the same data, in the same run. Needs the local stack.
// Each side gets a roster with the same physical history (table rewritten, then
// the same inserts), and the order alternates from round to round, so neither
// side profits from a tidier table or a warmer cache.
//
// Like with like: "job, expire" runs the job with windows_days [] (expiry
// only) through its real adapter (supabase-js -> gateway -> PostgREST, service
// role key), one RPC and transaction per batch; "plain UPDATE" is one statement
// over a direct connection. Notices are extra work the UPDATE does not do, so
// they are reported separately, beside a plain set-based INSERT of the same notices.
import type postgres from "postgres";
import type { CertificationExpiryStore } from "../src/application/ports/certification_expiry_store.ts";
import type { Clock } from "../src/domain/clock.ts";
import { SupabaseCertificationExpiryStore } from "../src/infrastructure/supabase/supabase_certification_expiry_store.ts";
import { createServiceClient } from "../src/infrastructure/supabase/supabase_client.ts";
import {
  certificationExpiryCheck,
  DEFAULT_BATCH_SIZE,
} from "../src/jobs/certification_expiry_check.ts";
import { connectAdmin, stackEnv } from "../local/stack.ts";
import {
  ANCHOR,
  dropRoster,
  expiredAt,
  generateRoster,
  pastDueCount,
  settle,
} from "./certification_bench_data.ts";
import { describe, explainedPlans, type StatementPlan } from "./plan_nodes.ts";
import { spread, table } from "./stats.ts";

/** Which side of a round ran first on its fresh roster. */
export type RoundOrder = "job first" | "UPDATE first";

/** One round's measurements at one size, in milliseconds. */
export interface CertificationExpiryBenchResult {
  certifications: number;
  order: RoundOrder;
  expired: number;
  batchSize: number;
  jobExpireMs: number;
  batches: number;
  longestBatchMs: number;
  plainUpdateMs: number;
  notices: number;
  jobNoticesMs: number;
  longestNoticeBatchMs: number;
  plainNoticesMs: number;
}

/**
 * Runs rounds per size (two, five at 1M), the job first in one and the plain
 * UPDATE first in the next. Every measurement gets a roster with the same physical history:
 * the previous one deleted, the table rewritten compact (VACUUM FULL), the same
 * rows inserted in the same order, then vacuum, analyze and checkpoint. Always
 * removes its data afterwards.
 */
export async function certificationExpiryBench(
  sizes = [10_000, 100_000, 1_000_000],
  batchSize = DEFAULT_BATCH_SIZE,
  rounds = (n: number) => n >= 1_000_000 ? 5 : 2,
): Promise<{ rounds: CertificationExpiryBenchResult[]; plans: StatementPlan[] }> {
  const env = stackEnv();
  let plans: StatementPlan[] = [];
  // The superuser: the benchmark vacuums, rewrites and checkpoints (postgres may not, as on hosted).
  const sql = connectAdmin(env);
  const timed = new TimedStore(
    new SupabaseCertificationExpiryStore(createServiceClient(env.API_URL, env.SERVICE_ROLE_KEY)),
  );
  // Real elapsed time, shifted back to ANCHOR: batch timing and deadlines stay honest.
  const offset = Date.now() - ANCHOR.getTime();
  const clock: Clock = { now: () => new Date(Date.now() - offset) };
  const results: CertificationExpiryBenchResult[] = [];
  try {
    for (const n of sizes) {
      for (let round = 0; round < rounds(n); round++) {
        const order: RoundOrder = round % 2 === 0 ? "job first" : "UPDATE first";
        const sides = order === "job first" ? ["job", "plain"] : ["plain", "job"];
        let job: Awaited<ReturnType<typeof measureJob>> | null = null;
        let plain: Awaited<ReturnType<typeof measurePlain>> | null = null;
        for (const side of sides) {
          await freshRoster(sql, n);
          if (side === "job") job = await measureJob(sql, timed, clock, n, batchSize);
          else plain = await measurePlain(sql, clock, n);
        }
        check(plain!.notices === job!.notices, `INSERT queued ${plain!.notices}`);
        results.push({
          certifications: n,
          order,
          batchSize,
          ...job!,
          plainUpdateMs: plain!.updateMs,
          plainNoticesMs: plain!.noticesMs,
        });
      }
    }
    plans = await batchPlans(env.ADMIN_DB_URL, clock);
  } finally {
    await dropRoster(sql);
    await settle(sql);
    await sql.end();
  }
  return { rounds: results, plans };
}

/**
 * The analysed plans of one expiry batch's statements, in a transaction that
 * rolls back, on the last roster with an instant that makes rows due again
 * (the active ones expiring within a year).
 */
async function batchPlans(adminDbUrl: string, clock: Clock): Promise<StatementPlan[]> {
  const later = new Date(clock.now().getTime() + 365 * 86_400_000);
  return await explainedPlans(adminDbUrl, async (tx) => {
    await tx`select * from certification_expire_batch(${later}, ${DEFAULT_BATCH_SIZE}, null)`;
  }, true);
}

/** The job twice: expiry only, then the notices (default windows). */
async function measureJob(
  sql: postgres.Sql,
  timed: TimedStore,
  clock: Clock,
  n: number,
  batchSize: number,
) {
  const job = certificationExpiryCheck(timed, { batchSize });
  timed.reset();
  const expire = await run(() => job({ windows_days: [] }, context(clock)));
  const expired = await expiredAt(sql, new Date(expire.summary.as_of as string));
  check(expired === pastDueCount(n), `job expired ${expired} of ${pastDueCount(n)}`);
  const longestBatchMs = timed.longest;
  timed.reset();
  const notices = await run(() => job({}, context(clock)));
  const counts = notices.summary.notices as Record<string, number>;
  return {
    expired,
    jobExpireMs: expire.ms,
    batches: expire.summary.batches as number,
    longestBatchMs,
    notices: counts["30"] + counts["7"],
    jobNoticesMs: notices.ms,
    longestNoticeBatchMs: timed.longest,
  };
}

/** The same state change as one UPDATE, then the same notices as one INSERT. */
async function measurePlain(sql: postgres.Sql, clock: Clock, n: number) {
  const now = clock.now();
  const plain = await run(() =>
    sql`update certification set status = 'expired', expired_at = ${now}, updated_at = ${now}
      where status = 'active' and expires_at <= ${now}`
  );
  check(plain.summary.count === pastDueCount(n), `UPDATE expired ${plain.summary.count}`);
  const notices = await run(() => plainNoticeInsert(sql, now));
  return { updateMs: plain.ms, noticesMs: notices.ms, notices: notices.summary.count };
}

/** A roster with the same physical history every time: deleted, table rewritten, regenerated. */
async function freshRoster(sql: postgres.Sql, n: number): Promise<void> {
  await dropRoster(sql);
  await sql`vacuum full certification, certification_expiry_notice`;
  await generateRoster(sql, n);
}

/** The target: the job (expire + notices) at most this many times a plain UPDATE + INSERT, at 1M. */
export const EXPIRY_TARGET_RATIO = 1.15;

/** Renders the results as Markdown: every round, then per size the median ratio, and the plan check. */
export function certificationExpiryTable(
  r: { rounds: CertificationExpiryBenchResult[]; plans: StatementPlan[] },
): string {
  const results = r.rounds;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const both = (x: CertificationExpiryBenchResult) =>
    (x.jobExpireMs + x.jobNoticesMs) / (x.plainUpdateMs + x.plainNoticesMs);
  const rounds = table(
    [
      "certifications",
      "order",
      "expired",
      "job, expire (batches of n)",
      "plain UPDATE",
      "ratio",
      "longest batch",
      "notices",
      "job, notices",
      "plain INSERT",
      "longest notice batch",
      "job / plain, both steps",
    ],
    results.map((x) => [
      x.certifications.toLocaleString("en"),
      x.order,
      x.expired.toLocaleString("en"),
      `${s(x.jobExpireMs)} (${x.batches} x ${x.batchSize.toLocaleString("en")})`,
      s(x.plainUpdateMs),
      `${(x.jobExpireMs / x.plainUpdateMs).toFixed(2)}x`,
      s(x.longestBatchMs),
      x.notices.toLocaleString("en"),
      s(x.jobNoticesMs),
      s(x.plainNoticesMs),
      s(x.longestNoticeBatchMs),
      `${both(x).toFixed(2)}x`,
    ]),
  );
  const sizes = [...new Set(results.map((x) => x.certifications))];
  const summary = table(
    [
      "certifications",
      "rounds",
      "job / plain UPDATE + INSERT: median (min - max)",
      "expire only: median",
      "target",
    ],
    sizes.map((n) => {
      const of = results.filter((x) => x.certifications === n);
      const ratio = spread(of.map(both));
      const expire = spread(of.map((x) => x.jobExpireMs / x.plainUpdateMs));
      return [
        n.toLocaleString("en"),
        String(of.length),
        `${ratio.median.toFixed(2)}x (${ratio.min.toFixed(2)} - ${ratio.max.toFixed(2)})`,
        `${expire.median.toFixed(2)}x`,
        n >= 1_000_000
          ? `<= ${EXPIRY_TARGET_RATIO}x (${
            ratio.median <= EXPIRY_TARGET_RATIO ? "met" : "NOT met"
          })`
          : "-",
      ];
    }),
  );
  // Finding the batch: a TID range scan (or, with few rows due, a bitmap heap scan, also in
  // physical order); writing it: a TID scan of exactly the batch's addresses.
  const scans = r.plans.flatMap((p) => p.executed)
    .filter((n) => n.relation === "certification" && n.nodeType !== "ModifyTable");
  const physical = new Set(["Tid Range Scan", "Tid Scan", "Bitmap Heap Scan"]);
  const tidOnly = scans.length > 0 && scans.every((n) => physical.has(n.nodeType)) &&
    scans.some((n) => n.nodeType === "Tid Scan");
  return [
    rounds,
    "",
    summary,
    "",
    `certification_expire_batch: the executed scans of certification (actual loops > 0) ${
      tidOnly
        ? "are in physical order only, the update a TID scan"
        : "include a scan out of physical order, or the update is no TID scan"
    }:`,
    "```",
    r.plans.map((p) => `-- ${p.query.trim().split("\n")[0].slice(0, 90)}\n${describe(p.executed)}`)
      .join("\n"),
    "```",
  ].join("\n");
}

/** The same notices the job queues, as one set-based INSERT per window. */
function plainNoticeInsert(sql: postgres.Sql, now: Date) {
  return sql`insert into certification_expiry_notice
      (certification_id, peer_mentor_id, window_days, expires_at, created_at)
    select c.id, c.peer_mentor_id, w.days, c.expires_at, ${now}
    from (values (30), (7)) as w (days)
    join certification c on c.status = 'active' and c.expires_at > ${now}
      and c.expires_at <= ${now}::timestamptz + make_interval(days => w.days)
    on conflict (certification_id, window_days) do nothing`;
}

/** Times every store call, so the longest single batch (its RPC round trip) is known. */
class TimedStore implements CertificationExpiryStore {
  longest = 0;
  readonly #inner: CertificationExpiryStore;
  constructor(inner: CertificationExpiryStore) {
    this.#inner = inner;
  }
  reset(): void {
    this.longest = 0;
  }
  expireBatch(...args: Parameters<CertificationExpiryStore["expireBatch"]>) {
    return this.#time(() => this.#inner.expireBatch(...args));
  }
  queueNoticesBatch(...args: Parameters<CertificationExpiryStore["queueNoticesBatch"]>) {
    return this.#time(() => this.#inner.queueNoticesBatch(...args));
  }
  async #time<T>(call: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await call();
    } finally {
      this.longest = Math.max(this.longest, performance.now() - start);
    }
  }
}

function context(clock: Clock) {
  const quiet = { info: () => {}, warn: () => {} };
  const deadline = new Date(clock.now().getTime() + 3_600_000);
  const signal = new AbortController().signal;
  return {
    executionId: crypto.randomUUID(),
    jobName: "certification_expiry_check",
    trigger: "manual" as const,
    signal,
    deadline,
    clock,
    logger: quiet,
  };
}

async function run<T>(
  work: () => Promise<T>,
): Promise<{ ms: number; summary: T & Record<string, unknown> }> {
  const start = performance.now();
  const summary = await work();
  return { ms: performance.now() - start, summary: summary as T & Record<string, unknown> };
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`Benchmark result is wrong: ${message}`);
}

if (import.meta.main) {
  const sizes = Deno.args[0]?.split(",").map(Number) ?? undefined;
  const batchSize = Deno.args[1] ? Number(Deno.args[1]) : undefined;
  console.log(certificationExpiryTable(await certificationExpiryBench(sizes, batchSize)));
}
