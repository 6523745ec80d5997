// The four figures issue 18 set targets for, each beside its baseline and
// target, from one run of `deno task bench`.
import type { CertificationExpiryBenchResult } from "./certification_expiry_bench.ts";
import { EXPIRY_TARGET_RATIO } from "./certification_expiry_bench.ts";
import { LIST_P99_TARGET_MS, type VisibilityBenchResult } from "./coordinator_visibility_bench.ts";
import { COLD_START_TARGET, type ColdStartResult } from "./stack_bench.ts";
import { ms, spread, table } from "./stats.ts";
import {
  SYNC_LIMIT_PER_S,
  SYNC_TARGET_SHARE,
  type SyncThroughFunctionResult,
} from "./sync_through_function_bench.ts";

/** One row per target: figure, baseline, target, met or not. */
export function targetsTable(r: {
  cold: ColdStartResult;
  visibility: VisibilityBenchResult;
  sync: SyncThroughFunctionResult;
  expiry: { rounds: CertificationExpiryBenchResult[] };
}): string {
  const verdict = (ok: boolean) => ok ? "met" : "NOT met";
  const admin = r.visibility.rows.filter((row) =>
    row.name.startsWith("administrator") && row.name.includes("status list")
  );
  const adminP99 = Math.max(...admin.map((row) => row.http.p99));
  const probe = r.visibility.rows.find((row) => row.name === "one mentor's certifications");
  const atMillion = r.expiry.rounds.filter((x) => x.certifications >= 1_000_000);
  const expiry = spread(
    atMillion.map((x) => (x.jobExpireMs + x.jobNoticesMs) / (x.plainUpdateMs + x.plainNoticesMs)),
  );
  const share = r.sync.rate.median / SYNC_LIMIT_PER_S;
  return table(["figure", "measured", "baseline", "target", ""], [
    [
      "hlf_dynamics_sync through the function, 100k records, 50 ms a request (median records/s)",
      `${Math.round(r.sync.rate.median).toLocaleString("en")}/s (${(100 * share).toFixed(0)} %)`,
      `in-flight limit 16 x 100 / 50 ms = ${SYNC_LIMIT_PER_S.toLocaleString("en")}/s`,
      `>= ${100 * SYNC_TARGET_SHARE} %`,
      verdict(share >= SYNC_TARGET_SHARE),
    ],
    [
      "administrator's status list (100k mentors / 300k certifications), HTTP p99, worst case",
      ms(adminP99),
      `one mentor's certifications, HTTP p50 ${ms(probe?.http.p50 ?? NaN)}`,
      `< ${LIST_P99_TARGET_MS} ms`,
      verdict(adminP99 < LIST_P99_TARGET_MS),
    ],
    [
      "cold start, spawn -> first answer (median of pair ratios)",
      `${r.cold.ratio.median.toFixed(2)}x (${r.cold.ratio.min.toFixed(2)} - ${
        r.cold.ratio.max.toFixed(2)
      })`,
      `bare Deno.serve, median ${ms(r.cold.bare.median)}`,
      `<= ${COLD_START_TARGET}x`,
      verdict(r.cold.ratio.median <= COLD_START_TARGET),
    ],
    [
      `certification_expiry_check at 1M, job / plain UPDATE + INSERT (median of ${atMillion.length} alternating rounds)`,
      atMillion.length === 0
        ? "not run (--quick)"
        : `${expiry.median.toFixed(2)}x (${expiry.min.toFixed(2)} - ${expiry.max.toFixed(2)})`,
      "plain UPDATE + INSERT on an identical copy",
      `<= ${EXPIRY_TARGET_RATIO}x`,
      atMillion.length === 0 ? "-" : verdict(expiry.median <= EXPIRY_TARGET_RATIO),
    ],
  ]);
}
