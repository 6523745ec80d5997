import type { JobSummary } from "./execution_record.ts";

/** An error the domain names, with a stable code that callers and logs can rely on. */
export class DomainError extends Error {
  constructor(readonly code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A job's payload does not match what the job accepts. */
export class InvalidPayloadError extends DomainError {
  constructor(jobName: string, detail: string) {
    super("invalid_payload", `Cannot run job '${jobName}': ${detail}`);
  }
}

/** The run went past its time budget. */
export class JobTimeoutError extends DomainError {
  constructor(jobName: string, budgetMs: number) {
    super("timed_out", `Job '${jobName}' did not finish within its ${budgetMs} ms budget`);
  }
}

/** An operator cancelled the run (`scheduler cancel`); the job's signal aborts with this. */
export class JobCancelledError extends DomainError {
  constructor(jobName: string) {
    super("cancelled", `Job '${jobName}' was cancelled by an operator`);
  }
}

/** The shared secret is not set up where the secret store looks for it. */
export class SecretNotConfiguredError extends DomainError {
  constructor(secretName: string) {
    super("secret_not_configured", `Secret '${secretName}' is not configured`);
  }
}

/** A backing service (database, API) failed in a way the caller cannot fix. */
export class InfrastructureError extends DomainError {
  constructor(message: string, options?: ErrorOptions) {
    super("infrastructure_error", message, options);
  }
}

/** A job failed after doing part of its work; the summary records how far it got. */
export class PartialRunError extends DomainError {
  constructor(readonly summary: JobSummary, cause: unknown) {
    super("partial_run", cause instanceof Error ? cause.message : String(cause), { cause });
  }
}
