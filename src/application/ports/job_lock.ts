import type { ExecutionRecord, Trigger } from "../../domain/execution_record.ts";

/** What RunJob asks for when a request to run a job arrives. */
export interface StartRequest {
  readonly executionId: string;
  readonly jobName: string;
  /** The dispatch record the caller presented, if any; the trigger is derived from it. */
  readonly dispatchId: string | null;
  readonly now: Date;
  /** How long the lease lives without a heartbeat. */
  readonly leaseTtlMs: number;
  /** False in production: a call without a valid dispatch is refused, and nothing is written. */
  readonly allowManual: boolean;
  /** Set when no handler is registered: the run is recorded failed with this message, no lease taken. */
  readonly unknownJobMessage?: string;
}

/** Where a start request landed; every outcome but `refused` is already a row in the log. */
export type StartOutcome =
  | { readonly status: "refused" }
  | {
    readonly status: "running" | "skipped" | "duplicate" | "failed";
    readonly trigger: Trigger;
    readonly slot: string | null;
    readonly attempt: number | null;
    /** When the lease was held (never before the previous run of the job ended). */
    readonly startedAt: Date;
    /** For `skipped`: the execution holding the lease. */
    readonly heldBy: string | null;
    /** The job's own budget from its nightly policy; null = the function's default. */
    readonly budgetMs: number | null;
  };

/**
 * What a heartbeat learned: the lease is still the run's (`held`), it was
 * taken over (`lost`), or it is still held and an operator asked the run to
 * stop (`cancel_requested`).
 */
export type LeaseRenewal = "held" | "lost" | "cancel_requested";

/**
 * The execution log together with the per-job lease (an owner and an expiry,
 * renewed by heartbeats) that keeps one job from running twice at once.
 * Starting and finishing a run are one database round trip each, so a crash
 * can never leave a lease without a row. Taking a lapsed lease closes the dead
 * run's row as `timed_out`, finished at its last heartbeat.
 */
export interface JobLock {
  /** Records the run and takes the lease atomically, or records why it does not run. */
  start(request: StartRequest): Promise<StartOutcome>;
  /** Renews the run's lease for `ttlMs` from `now`, and says whether a cancel was requested. */
  renew(jobName: string, executionId: string, now: Date, ttlMs: number): Promise<LeaseRenewal>;
  /**
   * Writes the run's final record and releases its lease in one step; with
   * `keepLease` the lease stays (a handler that ignores its signal still runs)
   * until a later call without it. Safe to repeat.
   */
  finish(record: ExecutionRecord, options?: { keepLease?: boolean }): Promise<void>;
}
