// The nightly purge and the alert check on the local stack: how long each
// purge batch (one delete transaction, so how long its locks are held) takes
// at a year's backlog, and what one alert check costs.
import postgres from "postgres";
import { connect } from "../local/stack.ts";
import { ms, summarize, type Summary, table } from "./stats.ts";

/** Per-batch timings of purging `rows` log rows past their period, `batchSize` at a time. */
export async function retentionBench(rows = 200_000, batchSize = 5_000) {
  const sql: postgres.Sql = connect();
  const job = `bench_retention_${crypto.randomUUID().slice(0, 8)}`;
  try {
    // A year of history, all past the 90-day period: 100 to 465 days old.
    await sql`insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at)
      select gen_random_uuid(), ${job}, 'cron', 'succeeded',
        now() - interval '100 days' - (i * interval '1 second' * 31536000 / ${rows}),
        now() - interval '100 days' - (i * interval '1 second' * 31536000 / ${rows}) + interval '1 second'
      from generate_series(1, ${rows}) i`;
    await sql`analyze scheduler_execution_log`;
    const samples: number[] = [];
    let deleted = 0;
    const started = performance.now();
    for (;;) {
      const t = performance.now();
      const [{ n }] = await sql`select scheduler_purge_batch('scheduler_execution_log', now(),
        ${batchSize}) as n`;
      samples.push(performance.now() - t);
      deleted += n;
      if (n < batchSize) break;
    }
    return {
      rows,
      batchSize,
      deleted,
      totalMs: performance.now() - started,
      batch: summarize(samples),
    };
  } finally {
    await sql`delete from scheduler_execution_log where job_name = ${job}`;
    await sql.end();
  }
}

/** Timings of `scheduler_check_alerts()` over the stack's nightly jobs, `runs` times. */
export async function alertCheckBench(runs = 50): Promise<Summary & { jobs: number }> {
  const sql: postgres.Sql = connect();
  try {
    const [{ jobs }] = await sql`select count(*)::int as jobs from scheduler_nightly_job
      where enabled and pause_reason is null`;
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await sql`select * from scheduler_check_alerts()`;
      samples.push(performance.now() - t);
    }
    return { ...summarize(samples), jobs };
  } finally {
    await sql.end();
  }
}

/** The two results as Markdown tables. */
export function retentionTables(
  purge: Awaited<ReturnType<typeof retentionBench>>,
  check: Awaited<ReturnType<typeof alertCheckBench>>,
): string {
  return [
    table([
      "purge (execution log, one year past 90 days)",
      "rows",
      "batches",
      "p50",
      "p99",
      "max",
      "total",
    ], [[
      `scheduler_purge_batch, ${purge.batchSize} rows per batch`,
      String(purge.deleted),
      String(purge.batch.n),
      ms(purge.batch.p50),
      ms(purge.batch.p99),
      ms(purge.batch.max),
      ms(purge.totalMs),
    ]]),
    "",
    table(["alert check", "jobs", "runs", "p50", "p99", "max"], [[
      "scheduler_check_alerts(), nothing to raise",
      String(check.jobs),
      String(check.n),
      ms(check.p50),
      ms(check.p99),
      ms(check.max),
    ]]),
  ].join("\n");
}
