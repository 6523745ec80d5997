import type { Clock } from "../domain/clock.ts";
import { JobTimeoutError } from "../domain/errors.ts";
import {
  durationMs,
  type ExecutionRecord,
  finishedRecord,
  startedRecord,
  type Trigger,
} from "../domain/execution_record.ts";
import type { JobPayload, JobRegistry } from "../domain/job.ts";
import type { ExecutionLogRepository } from "./ports/execution_log_repository.ts";
import type { JobLock, Lease } from "./ports/job_lock.ts";
import type { Logger } from "./ports/logger.ts";
import { type BudgetOutcome, runWithinBudget } from "./run_within_budget.ts";

/** A request to run one job. */
export interface RunJobCommand {
  readonly jobName: string;
  readonly trigger: Trigger;
  readonly payload: JobPayload;
}

/** How a run request ended; all of these are expected outcomes, not errors. */
export type RunJobResult =
  | { readonly kind: "completed"; readonly record: ExecutionRecord }
  | { readonly kind: "skipped"; readonly record: ExecutionRecord; readonly heldBy: string }
  | { readonly kind: "unknown_job"; readonly record: ExecutionRecord }
  | { readonly kind: "manual_trigger_disabled" };

/** Settings that differ per environment. */
export interface RunJobSettings {
  /** Wall-clock budget per run; the handler's signal aborts when it runs out. */
  readonly budgetMs: number;
  /** Extra lease time past the budget, so a lease outlives a run that ends late but not a dead isolate. */
  readonly leaseGraceMs: number;
  /** How long a job may take to stop and return its summary once its budget's signal aborts. */
  readonly abortGraceMs: number;
  /** False in production: only cron triggers may run jobs there. */
  readonly allowManualTriggers: boolean;
}

/** Collaborators of RunJob. */
export interface RunJobDependencies {
  readonly registry: JobRegistry;
  readonly log: ExecutionLogRepository;
  readonly lock: JobLock;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly newExecutionId: () => string;
  readonly settings: RunJobSettings;
}

/** Runs one named job under its lock, inside try/catch and a time budget, and records how it went. */
export class RunJob {
  readonly #deps: RunJobDependencies;

  constructor(deps: RunJobDependencies) {
    this.#deps = deps;
  }

  /** Runs the job; throws only when the log or the lock themselves fail. */
  async execute(command: RunJobCommand): Promise<RunJobResult> {
    const { registry, log, lock, clock, newExecutionId, settings } = this.#deps;
    if (command.trigger === "manual" && !settings.allowManualTriggers) {
      return { kind: "manual_trigger_disabled" };
    }
    const executionId = newExecutionId();
    const logger = this.#deps.logger.with({
      execution_id: executionId,
      job_name: command.jobName,
      trigger: command.trigger,
    });
    const started = startedRecord({
      executionId,
      jobName: command.jobName,
      trigger: command.trigger,
      startedAt: clock.now(),
    });

    const handler = registry.get(command.jobName);
    if (handler === undefined) {
      const record = finishedRecord(started, {
        status: "failed",
        finishedAt: clock.now(),
        errorMessage: `Cannot run job '${command.jobName}': no handler is registered`,
      });
      await log.save(record);
      logger.warn("job.unknown");
      return { kind: "unknown_job", record };
    }

    const lease: Lease = {
      jobName: command.jobName,
      owner: executionId,
      expiresAt: new Date(started.startedAt.getTime() + settings.budgetMs + settings.leaseGraceMs),
    };
    const held = await lock.acquire(lease, started.startedAt);
    if (!held.acquired) {
      const record = finishedRecord(started, {
        status: "skipped",
        finishedAt: clock.now(),
        errorMessage: `Job '${command.jobName}' is already running as execution '${held.heldBy}'`,
      });
      await log.save(record);
      logger.info("job.skipped", { held_by: held.heldBy });
      return { kind: "skipped", record, heldBy: held.heldBy };
    }

    try {
      await log.save(started);
    } catch (error) {
      await this.#release(lease, logger);
      throw error;
    }
    logger.info("job.started");
    const timeout = new JobTimeoutError(command.jobName, settings.budgetMs);
    const outcome = await runWithinBudget(
      handler,
      command.payload,
      {
        executionId,
        jobName: command.jobName,
        trigger: command.trigger,
        deadline: new Date(started.startedAt.getTime() + settings.budgetMs),
        clock,
        logger,
      },
      settings,
      timeout,
    );
    const record = this.#finish(started, outcome, timeout, logger);

    // A handler that ignored its signal keeps the lease until it really stops
    // (or the lease lapses), so no second run starts beside it.
    const stillRunning = outcome.status === "timed_out" ? outcome.stillRunning : null;
    if (stillRunning) void stillRunning.then(() => this.#release(lease, logger));
    // If the final write fails the lease is kept: when it lapses, the row still
    // marked running is closed as timed_out instead of staying open forever.
    await log.save(record);
    if (!stillRunning) await this.#release(lease, logger);
    logger.info("job.finished", { status: record.status, duration_ms: durationMs(record) });
    return { kind: "completed", record };
  }

  #finish(
    started: ExecutionRecord,
    outcome: BudgetOutcome,
    timeout: JobTimeoutError,
    logger: Logger,
  ): ExecutionRecord {
    const finishedAt = this.#deps.clock.now();
    switch (outcome.status) {
      case "succeeded":
        return finishedRecord(started, {
          status: "succeeded",
          finishedAt,
          summary: outcome.summary,
        });
      case "failed":
        logger.warn("job.failed", { error: describe(outcome.error) });
        return finishedRecord(started, {
          status: "failed",
          finishedAt,
          errorMessage: describe(outcome.error),
          summary: outcome.summary,
        });
      case "timed_out":
        logger.warn("job.timed_out", {
          budget_ms: this.#deps.settings.budgetMs,
          still_running: outcome.stillRunning !== null,
        });
        return finishedRecord(started, {
          status: "timed_out",
          finishedAt,
          errorMessage: timeout.message,
          summary: outcome.summary,
        });
    }
  }

  async #release(lease: Lease, logger: Logger): Promise<void> {
    await this.#deps.lock.release(lease).catch((error) =>
      logger.error("job.lock_release_failed", { error: describe(error) })
    );
  }
}

/** The message of a thrown value, without its stack. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === "string" ? error : "Unknown error";
}
