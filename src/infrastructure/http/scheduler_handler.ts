import type { AuthorizeCaller } from "../../application/authorize_caller.ts";
import type { Logger } from "../../application/ports/logger.ts";
import type { RunJob, RunJobResult } from "../../application/run_job.ts";
import type { Clock } from "../../domain/clock.ts";
import { durationMs, type ExecutionRecord } from "../../domain/execution_record.ts";
import { LogThrottle, type ScheduleFlush } from "../logging/log_throttle.ts";
import { errorResponse, HttpError, json } from "./http_error.ts";
import { readJsonBody } from "./read_body.ts";
import { parseRunRequest } from "./request_schema.ts";

/** What the HTTP handler needs. */
export interface SchedulerHandlerDependencies {
  readonly authorizeCaller: AuthorizeCaller;
  readonly runJob: RunJob;
  readonly logger: Logger;
  /** Times the log throttle's intervals. */
  readonly clock: Clock;
  /** How often a flood of refused or failing calls writes a line (first one, then a count). */
  readonly logIntervalMs?: number;
  /** Writes a flood's count line at its interval's end; a real timer unless a test passes its own. */
  readonly scheduleLogFlush?: ScheduleFlush;
  /**
   * Keeps a run alive after its caller hangs up (pg_net times out long before a
   * long job ends). `EdgeRuntime.waitUntil` on Supabase; a no-op under plain Deno,
   * where a served request's promise runs to the end anyway.
   */
  readonly keepAlive?: (work: Promise<unknown>) => void;
}

/** Builds the `Deno.serve` handler: method, auth, body, run, and every error mapped to a response here. */
export function createSchedulerHandler(
  deps: SchedulerHandlerDependencies,
): (request: Request) => Promise<Response> {
  const throttle = new LogThrottle(
    deps.logger,
    deps.clock,
    deps.logIntervalMs,
    deps.scheduleLogFlush,
  );
  return async (request) => {
    try {
      return await handle(request, deps, throttle);
    } catch (error) {
      return toErrorResponse(error, throttle);
    }
  };
}

async function handle(
  request: Request,
  deps: SchedulerHandlerDependencies,
  throttle: LogThrottle,
): Promise<Response> {
  if (request.method !== "POST") {
    throw new HttpError(
      405,
      "method_not_allowed",
      `Method '${request.method}' is not allowed; use POST`,
    );
  }
  const auth = await deps.authorizeCaller.execute(request.headers.get("authorization"));
  if (!auth.authorized) {
    throttle.warn(`unauthorized:${auth.reason}`, "http.unauthorized", { reason: auth.reason });
    throw new HttpError(401, "unauthorized", "Missing or invalid Authorization bearer secret");
  }
  const parsed = parseRunRequest(await readJsonBody(request));
  if (!parsed.ok) throw new HttpError(400, "invalid_request", parsed.message);

  const result = await deps.runJob.start({
    jobName: parsed.request.job_name,
    dispatchId: parsed.request.dispatch_id ?? null,
    payload: parsed.request.payload,
  });
  if (result.kind !== "started") return toResponse(result);
  // Acknowledge, then run: dispatched calls (and manual ones with "wait": false)
  // are answered once the run is recorded and its lease held; the job goes on.
  deps.keepAlive?.(result.completion.catch(() => undefined));
  const wait = parsed.request.wait ?? result.record.trigger === "manual";
  if (!wait) return json(200, recordBody(result.record));
  return json(200, recordBody(await result.completion));
}

function toResponse(result: Exclude<RunJobResult, { kind: "started" }>): Response {
  switch (result.kind) {
    case "completed":
    case "skipped":
    case "duplicate":
      return json(200, recordBody(result.record));
    case "unknown_job":
      return errorResponse(404, "unknown_job", result.record.errorMessage ?? "Unknown job");
    case "manual_trigger_disabled":
      return errorResponse(
        403,
        "manual_trigger_disabled",
        "Manual runs are disabled in this environment; only calls with a dispatch record may run jobs",
      );
  }
}

function recordBody(record: ExecutionRecord) {
  return {
    execution_id: record.executionId,
    job_name: record.jobName,
    status: record.status,
    trigger: record.trigger,
    slot: record.slot,
    attempt: record.attempt,
    started_at: record.startedAt.toISOString(),
    finished_at: record.finishedAt?.toISOString() ?? null,
    duration_ms: durationMs(record),
    summary: record.summary,
  };
}

/** The one place errors become responses: known ones say what happened, unknown ones say nothing. */
function toErrorResponse(error: unknown, throttle: LogThrottle): Response {
  if (error instanceof HttpError) {
    const headers = error.status === 405 ? { allow: "POST" } : undefined;
    return errorResponse(error.status, error.code, error.message, headers);
  }
  // One line per kind of failure and interval: a broken Vault must not mean a line per call.
  const errorName = error instanceof Error ? error.name : typeof error;
  const code = (error as { code?: unknown })?.code;
  throttle.error(`internal:${errorName}:${String(code)}`, "http.internal_error", {
    error_name: errorName,
    error: error instanceof Error ? error.message : String(error),
    code,
  });
  return errorResponse(500, "internal_error", "The scheduler failed; see its logs");
}
