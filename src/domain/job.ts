import type { Clock } from "./clock.ts";
import type { JobSummary, Trigger } from "./execution_record.ts";

/** The job names the scheduler accepts: lowercase snake case, at most 64 characters. */
export const JOB_NAME_PATTERN = /^[a-z0-9_]{1,64}$/;

/** Free-form JSON input a caller may pass to a job; each job validates its own. */
export type JobPayload = Record<string, unknown>;

/** The narrow logger a job sees; every line it writes carries the execution id. */
export interface JobLogger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
}

/** What a running job may know about its run: never clients or keys, only its own ports (bound at registration). */
export interface JobContext {
  readonly executionId: string;
  readonly jobName: string;
  readonly trigger: Trigger;
  /** Aborted when the time budget runs out; a job stops at its next safe point. */
  readonly signal: AbortSignal;
  /** The instant the budget runs out, for jobs that plan their batches. */
  readonly deadline: Date;
  readonly clock: Clock;
  readonly logger: JobLogger;
}

/**
 * What a job returns when it stopped between batches because its time ran
 * short, with work left and no error: the run is recorded `partial` and the
 * next part of the same night's slot is dispatched.
 */
export class WorkRemains {
  constructor(readonly summary: JobSummary) {}
}

/** A job: takes its payload and context, returns a summary for the log, throws on failure. */
export type JobHandler = (
  payload: JobPayload,
  context: JobContext,
) => Promise<JobSummary | WorkRemains | void>;

/** Job names mapped to their handlers. */
export type JobRegistry = ReadonlyMap<string, JobHandler>;

/** The summary a handler's result carries, whether it finished or stopped with work left. */
export function jobSummary(result: JobSummary | WorkRemains | void): JobSummary | null {
  return result instanceof WorkRemains ? result.summary : result ?? null;
}
