// certification_expiry_check at 10k, 100k and 1M certifications, each beside a
// single hand-written set-based UPDATE doing the same state change on an
// identical fresh copy of the same data, in the same run. Needs the local stack.
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
import { connect, stackEnv } from "../local/stack.ts";
import {
  ANCHOR,
  dropRoster,
  expiredAt,
  generateRoster,
  pastDueCount,
  settle,
} from "./certification_bench_data.ts";
import { table } from "./stats.ts";

/** One size's measurements, in milliseconds. */
export interface CertificationExpiryBenchResult {
  certifications: number;
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

/** Runs the benchmark for each size and always removes its data afterwards. */
export async function certificationExpiryBench(
  sizes = [10_000, 100_000, 1_000_000],
  batchSize = DEFAULT_BATCH_SIZE,
): Promise<CertificationExpiryBenchResult[]> {
  const env = stackEnv();
  const sql = connect(env);
  const timed = new TimedStore(
    new SupabaseCertificationExpiryStore(createServiceClient(env.API_URL, env.SERVICE_ROLE_KEY)),
  );
  // Real elapsed time, shifted back to ANCHOR: batch timing and deadlines stay honest.
  const offset = Date.now() - ANCHOR.getTime();
  const clock: Clock = { now: () => new Date(Date.now() - offset) };
  const results: CertificationExpiryBenchResult[] = [];
  try {
    for (const n of sizes) {
      await generateRoster(sql, n);
      const job = certificationExpiryCheck(timed, { batchSize });
      timed.reset();
      const expire = await run(() => job({ windows_days: [] }, context(clock)));
      const expired = await expiredAt(sql, new Date(expire.summary.as_of as string));
      check(expired === pastDueCount(n), `job expired ${expired} of ${pastDueCount(n)}`);
      const expireBatchMs = timed.longest;
      timed.reset();
      const notices = await run(() => job({}, context(clock)));
      const counts = notices.summary.notices as Record<string, number>;

      await generateRoster(sql, n);
      const now = clock.now();
      const plain = await run(() =>
        sql`update certification set status = 'expired', expired_at = ${now}, updated_at = ${now}
          where status = 'active' and expires_at <= ${now}`
      );
      check(plain.summary.count === pastDueCount(n), `UPDATE expired ${plain.summary.count}`);
      const plainNotices = await run(() => plainNoticeInsert(sql, now));
      const noticeTotal = counts["30"] + counts["7"];
      check(
        plainNotices.summary.count === noticeTotal,
        `INSERT queued ${plainNotices.summary.count}`,
      );
      results.push({
        certifications: n,
        expired,
        batchSize,
        jobExpireMs: expire.ms,
        batches: expire.summary.batches as number,
        longestBatchMs: expireBatchMs,
        plainUpdateMs: plain.ms,
        notices: noticeTotal,
        jobNoticesMs: notices.ms,
        longestNoticeBatchMs: timed.longest,
        plainNoticesMs: plainNotices.ms,
      });
    }
  } finally {
    await dropRoster(sql);
    await settle(sql);
    await sql.end();
  }
  return results;
}

/** Renders the results as a Markdown table. */
export function certificationExpiryTable(results: CertificationExpiryBenchResult[]): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  return table(
    [
      "certifications",
      "expired",
      "job, expire (batches of n)",
      "plain UPDATE",
      "ratio",
      "longest batch",
      "notices",
      "job, notices",
      "plain INSERT",
      "longest notice batch",
    ],
    results.map((r) => [
      r.certifications.toLocaleString("en"),
      r.expired.toLocaleString("en"),
      `${s(r.jobExpireMs)} (${r.batches} x ${r.batchSize.toLocaleString("en")})`,
      s(r.plainUpdateMs),
      `${(r.jobExpireMs / r.plainUpdateMs).toFixed(2)}x`,
      s(r.longestBatchMs),
      r.notices.toLocaleString("en"),
      s(r.jobNoticesMs),
      s(r.plainNoticesMs),
      s(r.longestNoticeBatchMs),
    ]),
  );
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
