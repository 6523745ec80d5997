import type { Clock } from "../domain/clock.ts";
import { JobTimeoutError } from "../domain/errors.ts";
import {
  type ExecutionRecord,
  finishedRecord,
  startedRecord,
  type Trigger,
} from "../domain/execution_record.ts";
import type { JobHandler, JobPayload, JobRegistry } from "../domain/job.ts";
import type { ExecutionLogRepository } from "./ports/execution_log_repository.ts";
import type { JobLock, Lease } from "./ports/job_lock.ts";
import type { Logger } from "./ports/logger.ts";

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
    const outcome = await lock.acquire(lease, started.startedAt);
    if (!outcome.acquired) {
      const record = finishedRecord(started, {
        status: "skipped",
        finishedAt: clock.now(),
        errorMessage:
          `Job '${command.jobName}' is already running as execution '${outcome.heldBy}'`,
      });
      await log.save(record);
      logger.info("job.skipped", { held_by: outcome.heldBy });
      return { kind: "skipped", record, heldBy: outcome.heldBy };
    }

    try {
      await log.save(started);
      logger.info("job.started");
      const record = await this.#runWithinBudget(handler, command, started, logger);
      await log.save(record);
      logger.info("job.finished", {
        status: record.status,
        duration_ms: record.finishedAt!.getTime() - record.startedAt.getTime(),
      });
      return { kind: "completed", record };
    } finally {
      await lock.release(lease).catch((error) =>
        logger.error("job.lock_release_failed", { error: describe(error) })
      );
    }
  }

  async #runWithinBudget(
    handler: JobHandler,
    command: RunJobCommand,
    started: ExecutionRecord,
    logger: Logger,
  ): Promise<ExecutionRecord> {
    const { clock, settings } = this.#deps;
    const controller = new AbortController();
    const timeout = new JobTimeoutError(command.jobName, settings.budgetMs);
    // `then` turns a handler that throws synchronously into a rejection too.
    const run = Promise.resolve().then(() =>
      handler(command.payload, {
        executionId: started.executionId,
        jobName: command.jobName,
        trigger: command.trigger,
        signal: controller.signal,
        deadline: new Date(started.startedAt.getTime() + settings.budgetMs),
        clock,
        logger,
      })
    );

    let outcome = await settleWithin(run, settings.budgetMs);
    if (outcome === undefined) {
      controller.abort(timeout);
      // A job that stops at its next safe point returns how far it got: give it
      // a moment so the log keeps that summary. One that ignores the signal is
      // recorded anyway and left behind.
      outcome = await settleWithin(run, settings.abortGraceMs);
      logger.warn("job.timed_out", { budget_ms: settings.budgetMs });
      return finishedRecord(started, {
        status: "timed_out",
        finishedAt: clock.now(),
        errorMessage: timeout.message,
        summary: outcome?.ok ? (outcome.value ?? null) : null,
      });
    }
    if (outcome.ok) {
      return finishedRecord(started, {
        status: "succeeded",
        finishedAt: clock.now(),
        summary: outcome.value ?? null,
      });
    }
    logger.warn("job.failed", { error: describe(outcome.error) });
    return finishedRecord(started, {
      status: "failed",
      finishedAt: clock.now(),
      errorMessage: describe(outcome.error),
    });
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** How `promise` settled within `ms`, or undefined if it had not by then. */
async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<Settled<T> | undefined> {
  let timer: number | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    return await Promise.race([
      promise.then(
        (value): Settled<T> => ({ ok: true, value }),
        (error): Settled<T> => ({ ok: false, error }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The message of a thrown value, without its stack. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === "string" ? error : "Unknown error";
}
