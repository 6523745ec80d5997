// The night through the function under the hosted Edge Runtime's limits (the
// local function host, default limits unless EDGE_RUNTIME_* say otherwise):
// certification_expiry_check dispatched as a night's job on the benchmark
// roster (100k and 1M), run in parts until it succeeds. Reports the parts, why
// each ended, the CPU the host measured for the function's workers and the
// function's own estimate (the log's cpu_ms), per 1,000 certifications.
import { connectAdmin } from "../local/stack.ts";
import { cpuBetween, hostCpuMs } from "../tests/support/edge_host.ts";
import { dropSlot, poll, uniqueSlot } from "../tests/support/nightly.ts";
import { dropRoster, generateRoster } from "./certification_bench_data.ts";
import { table } from "./stats.ts";

/** One night of one job at one size, through the function. */
export interface EdgeNightResult {
  job: string;
  rows: number;
  parts: number;
  stoppedBy: string;
  nightMs: number;
  hostCpuMs: number;
  loggedCpuMs: number;
  peakRssMb: number;
  done: number;
}

/** certification_expiry_check nights through the function; removes the roster afterwards. */
export async function edgeLimitsBench(sizes = [100_000, 1_000_000]): Promise<EdgeNightResult[]> {
  const sql = connectAdmin();
  const results: EdgeNightResult[] = [];
  try {
    for (const rows of sizes) {
      await generateRoster(sql, rows);
      const [{ due }] = await sql`select count(*)::int as due from certification
        where status = 'active' and expires_at <= now()`;
      const slot = uniqueSlot();
      const before = await hostCpuMs();
      await sql`select scheduler_dispatch('certification_expiry_check', ${slot}::date)`;
      const parts = await poll("the night to end", 900_000, async () => {
        const runs = await sql`select status, stop_reason, cpu_ms, peak_rss_mb, started_at,
            finished_at, summary
          from scheduler_execution_log
          where job_name = 'certification_expiry_check' and slot = ${slot} order by started_at`;
        const last = runs.at(-1);
        return last && last.status !== "running" && last.status !== "partial" ? runs : undefined;
      }, 1_000);
      const after = await hostCpuMs();
      const done = parts.reduce((sum, p) => sum + Number(p.summary?.expired ?? 0), 0);
      results.push({
        job: "certification_expiry_check",
        rows,
        parts: parts.length,
        stoppedBy: parts.map((p) => p.stop_reason ?? p.status).join(", "),
        nightMs: parts.at(-1)!.finished_at.getTime() - parts[0].started_at.getTime(),
        hostCpuMs: cpuBetween(before, after),
        loggedCpuMs: parts.reduce((sum, p) => sum + (p.cpu_ms ?? 0), 0),
        peakRssMb: Math.max(...parts.map((p) => p.peak_rss_mb ?? 0)),
        done: done === due ? done : -done,
      });
      await poll("the slot to settle", 60_000, async () => {
        const [open] = await sql`select exists (select from scheduler_execution_log
          where slot = ${slot} and status = 'running') or exists (select from scheduler_dispatch
          where slot = ${slot} and outcome is null) as busy`;
        return open.busy ? undefined : true;
      }).catch(() => undefined);
      await dropSlot(sql, slot);
    }
  } finally {
    await dropRoster(sql);
    await sql.end();
  }
  return results;
}

/** The results as a Markdown table. */
export function edgeLimitsTable(results: EdgeNightResult[]): string {
  return table(
    [
      "job",
      "rows",
      "parts",
      "ended by",
      "night",
      "CPU (host)",
      "CPU ms / 1,000 (host)",
      "CPU (logged)",
      "peak RSS",
      "expired",
    ],
    results.map((r) => [
      r.job,
      r.rows.toLocaleString("en-US"),
      String(r.parts),
      r.stoppedBy,
      `${(r.nightMs / 1000).toFixed(1)} s`,
      `${r.hostCpuMs} ms`,
      (r.hostCpuMs / (r.rows / 1000)).toFixed(2),
      `${r.loggedCpuMs} ms`,
      `${r.peakRssMb} MB`,
      r.done < 0 ? `${-r.done} (MISMATCH)` : r.done.toLocaleString("en-US"),
    ]),
  );
}

if (import.meta.main) {
  console.log(edgeLimitsTable(await edgeLimitsBench()));
}
