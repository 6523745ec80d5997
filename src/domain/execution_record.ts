import type { RunCost } from "./worker_stop.ts";

/**
 * How a run was started, as the database's dispatch record says: the nightly
 * schedule (cron), a same-night retry, a continuation, an operator's replay of
 * a night, a catch-up of a night missed in an outage, the SQL runner's
 * fallback (which the function only ever records as a duplicate), or anything
 * without a dispatch record (manual).
 */
export type Trigger =
  | "cron"
  | "retry"
  | "continuation"
  | "replay"
  | "catch_up"
  | "fallback"
  | "manual";

/**
 * Every state a run can be recorded in. `lost` (a dispatch that never became a
 * run) is written by the database's sweep; `duplicate` is a second delivery for
 * a slot that already has a live or successful run; `partial` is a part that
 * ran out of time with work left, and the next part of its slot follows it;
 * `cancelled` is a run an operator cancelled (it stopped, or was stopped at its budget).
 */
export type ExecutionStatus =
  | "running"
  | "succeeded"
  | "partial"
  | "failed"
  | "skipped"
  | "timed_out"
  | "cancelled"
  | "lost"
  | "duplicate";

/** The JSON-safe summary a job returns and the log keeps beside its record. */
export type JobSummary = Record<string, unknown>;

/** One run of one job as the execution log stores it. */
export interface ExecutionRecord {
  readonly executionId: string;
  readonly jobName: string;
  readonly trigger: Trigger;
  /** The UTC night (YYYY-MM-DD) a dispatched run belongs to; null for manual runs. */
  readonly slot: string | null;
  /** Which attempt at the slot this is (1 = first); null for manual runs. */
  readonly attempt: number | null;
  readonly status: ExecutionStatus;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly errorMessage: string | null;
  readonly summary: JobSummary | null;
  /** What the run cost its worker (CPU, peak memory) and whether the platform stopped it. */
  readonly cost?: RunCost | null;
}

/** The longest error message the log keeps; longer ones are cut so a runaway message cannot bloat a row. */
export const MAX_ERROR_MESSAGE_LENGTH = 2000;

/** Starts a record in the `running` state. */
export function startedRecord(
  fields:
    & Pick<ExecutionRecord, "executionId" | "jobName" | "trigger" | "startedAt">
    & Partial<Pick<ExecutionRecord, "slot" | "attempt">>,
): ExecutionRecord {
  return {
    slot: null,
    attempt: null,
    ...fields,
    status: "running",
    finishedAt: null,
    errorMessage: null,
    summary: null,
  };
}

/** Closes a record with its final status. */
export function finishedRecord(
  record: ExecutionRecord,
  outcome: {
    status: Exclude<ExecutionStatus, "running">;
    finishedAt: Date;
    errorMessage?: string | null;
    summary?: JobSummary | null;
    cost?: RunCost | null;
  },
): ExecutionRecord {
  return {
    ...record,
    status: outcome.status,
    finishedAt: outcome.finishedAt,
    errorMessage: truncateMessage(outcome.errorMessage ?? null),
    summary: outcome.summary ?? null,
    cost: outcome.cost ?? null,
  };
}

/** Milliseconds between start and finish, or null while the run is open. */
export function durationMs(record: ExecutionRecord): number | null {
  return record.finishedAt === null
    ? null
    : record.finishedAt.getTime() - record.startedAt.getTime();
}

function truncateMessage(message: string | null): string | null {
  if (message === null || message.length <= MAX_ERROR_MESSAGE_LENGTH) return message;
  return `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1)}…`;
}
