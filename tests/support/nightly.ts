// Helpers for integration tests of dispatches, slots and the sweep.
import type postgres from "postgres";

/** A far-future slot no other test (or real night) uses, so its runs are this test's alone. */
export function uniqueSlot(): string {
  const day = Math.floor(Math.random() * 300 * 365);
  return new Date(Date.UTC(2200, 0, 1) + day * 86_400_000).toISOString().slice(0, 10);
}

/** Calls `probe` every `everyMs` until it returns a value, or fails naming `what`. */
export async function poll<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  everyMs = 250,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The execution rows of one job's slot, oldest first. */
export function slotRuns(sql: postgres.Sql, job: string, slot: string) {
  return sql`select id, status, trigger, attempt, started_at, finished_at, heartbeat_at,
      duration_ms, error_message, dispatch_id, previous_execution_id
    from scheduler_execution_log where job_name = ${job} and slot = ${slot}
    order by started_at, attempt`;
}

/** Runs `body` with some of a job's policy columns changed, restoring them afterwards. */
export async function withPolicy<T>(
  sql: postgres.Sql,
  job: string,
  policy: { retry_backoff_ms?: number; max_attempts?: number },
  body: () => Promise<T>,
): Promise<T> {
  const [saved] = await sql`select retry_backoff_ms, max_attempts from scheduler_nightly_job
    where job_name = ${job}`;
  await sql`update scheduler_nightly_job set ${sql(policy)} where job_name = ${job}`;
  try {
    return await body();
  } finally {
    await sql`update scheduler_nightly_job set ${sql(saved)} where job_name = ${job}`;
  }
}

/** Removes a test slot's dispatches and runs, so the sweep does not keep looking at them. */
export async function dropSlot(sql: postgres.Sql, slot: string): Promise<void> {
  await sql`delete from scheduler_execution_log where slot = ${slot}`;
  await sql`delete from scheduler_dispatch where slot = ${slot}`;
}
