import type { Sleep } from "../domain/batch_pacer.ts";
import type { Clock } from "../domain/clock.ts";
import { JobCancelledError, JobTimeoutError } from "../domain/errors.ts";
import {
  durationMs,
  type ExecutionRecord,
  finishedRecord,
  startedRecord,
} from "../domain/execution_record.ts";
import type { JobHandler, JobPayload, JobRegistry } from "../domain/job.ts";
import { type Heartbeat, startHeartbeat } from "./lease_heartbeat.ts";
import type { JobLock, StartOutcome } from "./ports/job_lock.ts";
import type { Logger } from "./ports/logger.ts";
import type { WorkerLifecycle } from "./ports/worker_lifecycle.ts";
import type { RunCost } from "../domain/worker_stop.ts";
import { retryUntil } from "./retry_until.ts";
import { type BudgetOutcome, runWithinBudget } from "./run_within_budget.ts";

/** A request to run one job; the trigger comes from the dispatch record, never from the caller. */
export interface RunJobCommand {
  readonly jobName: string;
  /** The id of the dispatch record the caller presented (pg_cron's requests carry one). */
  readonly dispatchId: string | null;
  readonly payload: JobPayload;
}

/** How a run request ended; all of these are expected outcomes, not errors. */
export type RunJobResult =
  | { readonly kind: "completed"; readonly record: ExecutionRecord }
  | {
    readonly kind: "started";
    /** The run as recorded when its lease was taken (status running). */
    readonly record: ExecutionRecord;
    /** Settles with the final record once the job has ended and its end is written. */
    readonly completion: Promise<ExecutionRecord>;
  }
  | { readonly kind: "skipped"; readonly record: ExecutionRecord; readonly heldBy: string }
  | { readonly kind: "duplicate"; readonly record: ExecutionRecord }
  | { readonly kind: "unknown_job"; readonly record: ExecutionRecord }
  | { readonly kind: "manual_trigger_disabled" };

/** Settings that differ per environment. */
export interface RunJobSettings {
  /** Wall-clock budget per run unless the job's policy sets its own; the signal aborts when it runs out. */
  readonly budgetMs: number;
  /** How long a job may take to stop and return its summary once its budget's signal aborts. */
  readonly abortGraceMs: number;
  /** How long a lease lives without a heartbeat; heartbeats come every third of it. */
  readonly leaseTtlMs: number;
  /** How long past its budget a handler that ignores its signal may keep the job's lease. */
  readonly leaseGraceMs: number;
  /**
   * How long the lease keeps beating while the final write (row + lease
   * release) fails; the write is retried for this long and then until the
   * lease, as last renewed, lapses (after which the dead-run closer ends the row).
   */
  readonly finalWriteRetryMs: number;
  /** False in production: only calls carrying a dispatch record may run jobs there. */
  readonly allowManualTriggers: boolean;
}

/** Collaborators of RunJob. */
export interface RunJobDependencies {
  readonly registry: JobRegistry;
  readonly lock: JobLock;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly sleep: Sleep;
  readonly newExecutionId: () => string;
  readonly settings: RunJobSettings;
  /** The platform's worker: its limits, its end, what a run costs it. None: no limits known. */
  readonly lifecycle?: WorkerLifecycle;
}

/** Runs one named job under its lease, inside try/catch and a time budget, and records how it went. */
export class RunJob {
  readonly #deps: RunJobDependencies;

  constructor(deps: RunJobDependencies) {
    this.#deps = deps;
  }

  /** Runs the job and waits for its end; throws only when the log or the lease themselves fail. */
  async execute(command: RunJobCommand): Promise<RunJobResult> {
    const result = await this.start(command);
    if (result.kind !== "started") return result;
    return { kind: "completed", record: await result.completion };
  }

  /**
   * Records the run and takes its lease (one round trip), then returns while
   * the job runs on: `completion` settles when its end is written. Throws only
   * when the start itself cannot be recorded.
   */
  async start(command: RunJobCommand): Promise<RunJobResult> {
    const { registry, lock, clock, newExecutionId, settings } = this.#deps;
    const executionId = newExecutionId();
    const handler = registry.get(command.jobName);
    const unknownJobMessage = handler === undefined
      ? `Cannot run job '${command.jobName}': no handler is registered`
      : undefined;
    const outcome = await lock.start({
      executionId,
      jobName: command.jobName,
      dispatchId: command.dispatchId,
      now: clock.now(),
      leaseTtlMs: settings.leaseTtlMs,
      allowManual: settings.allowManualTriggers,
      unknownJobMessage,
    });
    if (outcome.status === "refused") return { kind: "manual_trigger_disabled" };
    const logger = this.#deps.logger.with({
      execution_id: executionId,
      job_name: command.jobName,
      trigger: outcome.trigger,
      ...(outcome.slot === null ? {} : { slot: outcome.slot, attempt: outcome.attempt }),
    });
    const started = startedRecord({
      executionId,
      jobName: command.jobName,
      trigger: outcome.trigger,
      slot: outcome.slot,
      attempt: outcome.attempt,
      startedAt: outcome.startedAt,
    });
    if (outcome.status !== "running" || handler === undefined) {
      return this.#notRun(started, outcome, unknownJobMessage, logger);
    }
    logger.info("job.started");
    const completion = this.#run(handler, command.payload, started, outcome.budgetMs, logger);
    // The caller may not wait; the outcome is in the log (and the log lines) either way.
    completion.catch(() => undefined);
    return { kind: "started", record: started, completion };
  }

  #notRun(
    started: ExecutionRecord,
    outcome: Exclude<StartOutcome, { status: "refused" }>,
    unknownJobMessage: string | undefined,
    logger: Logger,
  ): RunJobResult {
    const at = outcome.startedAt;
    switch (outcome.status) {
      case "skipped": {
        const heldBy = outcome.heldBy ?? "unknown";
        const record = finishedRecord(started, {
          status: "skipped",
          finishedAt: at,
          errorMessage: `Job '${started.jobName}' is already running as execution '${heldBy}'`,
        });
        logger.info("job.skipped", { held_by: heldBy });
        return { kind: "skipped", record, heldBy };
      }
      case "duplicate":
        logger.info("job.duplicate");
        return {
          kind: "duplicate",
          record: finishedRecord(started, { status: "duplicate", finishedAt: at }),
        };
      default: {
        const record = finishedRecord(started, {
          status: "failed",
          finishedAt: at,
          errorMessage: unknownJobMessage ?? "The run was not started",
        });
        logger.warn("job.unknown");
        return { kind: "unknown_job", record };
      }
    }
  }

  async #run(
    handler: JobHandler,
    payload: JobPayload,
    started: ExecutionRecord,
    ownBudgetMs: number | null,
    logger: Logger,
  ): Promise<ExecutionRecord> {
    const { lock, clock, settings } = this.#deps;
    const budgetMs = ownBudgetMs ?? settings.budgetMs;
    // An operator's cancel reaches the run through its heartbeat.
    const cancel = new AbortController();
    const heartbeat = startHeartbeat(
      lock,
      {
        jobName: started.jobName,
        executionId: started.executionId,
        ttlMs: settings.leaseTtlMs,
        heldSince: started.startedAt,
      },
      clock,
      logger,
      () => cancel.abort(new JobCancelledError(started.jobName)),
    );
    const timeout = new JobTimeoutError(started.jobName, budgetMs);
    // The worker's wall clock may end before the run's budget: the job plans with the earlier.
    const watch = this.#deps.lifecycle?.watch();
    const wallLeftMs = watch?.wallClockLeftMs() ?? null;
    const deadline = Math.min(
      started.startedAt.getTime() + budgetMs,
      wallLeftMs === null ? Infinity : clock.now().getTime() + wallLeftMs,
    );
    let outcome: BudgetOutcome;
    try {
      outcome = await runWithinBudget(
        handler,
        payload,
        {
          executionId: started.executionId,
          jobName: started.jobName,
          trigger: started.trigger,
          deadline: new Date(deadline),
          clock,
          logger,
        },
        {
          budgetMs,
          abortGraceMs: settings.abortGraceMs,
          cancel: cancel.signal,
          stopping: watch?.signal,
        },
        timeout,
      );
    } catch (error) {
      watch?.dispose();
      await heartbeat.stop();
      throw error;
    }
    const cost = watch?.cost() ?? null;
    watch?.dispose();
    const record = cancel.signal.aborted && outcome.status !== "succeeded"
      ? this.#cancelled(started, outcome, budgetMs, logger, cost)
      : this.#finish(started, outcome, budgetMs, timeout, logger, cost);
    // A handler that ignored its signal keeps the lease (and its heartbeat)
    // until it really stops, or until its lease grace is spent.
    const stillRunning = outcome.status === "timed_out" || outcome.status === "stopped"
      ? outcome.stillRunning
      : null;
    try {
      // The lease beats on while the write fails, so a blip cannot let the row be closed untrue.
      await this.#write(record, heartbeat, stillRunning !== null, logger);
    } catch (error) {
      // The lease is left to lapse: the dead-run closer then ends the row at its last heartbeat.
      await heartbeat.stop();
      logger.error("job.final_write_failed", { error: describe(error) });
      throw error;
    }
    if (stillRunning === null) await heartbeat.stop();
    else void this.#releaseWhenStopped(stillRunning, record, heartbeat, logger);
    logger.info("job.finished", { status: record.status, duration_ms: durationMs(record) });
    return record;
  }

  /**
   * The final write, retried with backoff so a blip of the database or
   * PostgREST does not lose it: while the heartbeat beats (at most
   * `finalWriteRetryMs`), then for as long as the lease it last renewed may
   * live, since until then nothing can close the row in its place. A write
   * that keeps the lease (a handler still running) stops at `finalWriteRetryMs`:
   * its heartbeat beats on regardless.
   */
  #write(
    record: ExecutionRecord,
    heartbeat: Heartbeat,
    keepLease: boolean,
    logger: Logger,
  ): Promise<void> {
    const { lock, clock, sleep, settings } = this.#deps;
    const beatUntil = clock.now().getTime() + settings.finalWriteRetryMs;
    const deadline = () => {
      if (keepLease) return new Date(beatUntil);
      // Past the beating window the lease is left to lapse: no write is retried forever.
      if (clock.now().getTime() >= beatUntil) void heartbeat.stop();
      return new Date(Math.max(beatUntil, heartbeat.expiresAt().getTime()));
    };
    return retryUntil(
      () => lock.finish(record, { keepLease }),
      deadline,
      clock,
      sleep,
      (error, waitMs) =>
        logger.warn("job.final_write_retry", { error: describe(error), retry_in_ms: waitMs }),
    );
  }

  async #releaseWhenStopped(
    stillRunning: Promise<unknown>,
    record: ExecutionRecord,
    heartbeat: Heartbeat,
    logger: Logger,
  ): Promise<void> {
    let timer: number | undefined;
    const cap = new Promise((
      resolve,
    ) => (timer = setTimeout(resolve, this.#deps.settings.leaseGraceMs)));
    await Promise.race([stillRunning, cap]);
    clearTimeout(timer);
    await heartbeat.stop();
    const released = { ...record, finishedAt: this.#deps.clock.now() };
    await this.#write(released, heartbeat, false, logger).catch((error) =>
      logger.error("job.lock_release_failed", { error: describe(error) })
    );
  }

  /** A run an operator cancelled: whatever it was doing, it ends cancelled, not continued or retried. */
  #cancelled(
    started: ExecutionRecord,
    outcome: BudgetOutcome,
    budgetMs: number,
    logger: Logger,
    cost: RunCost | null,
  ): ExecutionRecord {
    const ignored = outcome.status === "timed_out";
    logger.warn("job.cancelled", { stopped_at_budget: ignored });
    return finishedRecord(started, {
      status: "cancelled",
      finishedAt: this.#deps.clock.now(),
      errorMessage: ignored
        ? `Cancelled by an operator; the job ignored it and was stopped at its ${budgetMs} ms budget`
        : "Cancelled by an operator; the job stopped at its next safe point",
      summary: outcome.summary,
      cost,
    });
  }

  #finish(
    started: ExecutionRecord,
    outcome: BudgetOutcome,
    budgetMs: number,
    timeout: JobTimeoutError,
    logger: Logger,
    cost: RunCost | null,
  ): ExecutionRecord {
    const finishedAt = this.#deps.clock.now();
    if (cost?.stopReason) logger.warn("job.worker_stopping", { reason: cost.stopReason });
    switch (outcome.status) {
      case "succeeded":
        return finishedRecord(started, {
          status: "succeeded",
          finishedAt,
          summary: outcome.summary,
          cost,
        });
      case "partial":
        // The database dispatches the next part when it records this end.
        logger.info("job.partial");
        return finishedRecord(started, {
          status: "partial",
          finishedAt,
          summary: outcome.summary,
          cost,
        });
      case "failed":
        logger.warn("job.failed", { error: describe(outcome.error) });
        return finishedRecord(started, {
          status: "failed",
          finishedAt,
          errorMessage: describe(outcome.error),
          summary: outcome.summary,
          cost,
        });
      case "stopped":
        // The platform ends the worker: not the job's failure, and the row says which limit.
        return finishedRecord(started, {
          status: "failed",
          finishedAt,
          errorMessage: describe(outcome.error),
          summary: outcome.summary,
          cost,
        });
      case "timed_out":
        logger.warn("job.timed_out", {
          budget_ms: budgetMs,
          still_running: outcome.stillRunning !== null,
        });
        return finishedRecord(started, {
          status: "timed_out",
          finishedAt,
          errorMessage: timeout.message,
          summary: outcome.summary,
          cost,
        });
    }
  }
}

/** The message of a thrown value, without its stack. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === "string" ? error : "Unknown error";
}
