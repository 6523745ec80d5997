// Builds a fully faked scheduler (use cases + HTTP handler) and requests to it.
import { AuthorizeCaller } from "../../src/application/authorize_caller.ts";
import { RunJob, type RunJobSettings } from "../../src/application/run_job.ts";
import type { Sleep } from "../../src/domain/batch_pacer.ts";
import type { Clock } from "../../src/domain/clock.ts";
import type { WorkerLifecycle } from "../../src/application/ports/worker_lifecycle.ts";
import type { JobHandler } from "../../src/domain/job.ts";
import { createSchedulerHandler } from "../../src/infrastructure/http/scheduler_handler.ts";
import {
  FakeSecretStore,
  InMemoryExecutionLog,
  InMemoryJobLock,
  RecordingLogger,
  SteppingClock,
} from "./fakes.ts";

/** The secret every faked scheduler accepts. */
export const TEST_SECRET = "s3cret-for-tests";

/** A scheduler wired with fakes, with the fakes exposed for assertions. */
export function fakeScheduler<C extends Clock = SteppingClock>(options: {
  jobs?: Record<string, JobHandler>;
  settings?: Partial<RunJobSettings>;
  clock?: C;
  /** The backoff's sleep; by default it returns at once. */
  sleep?: Sleep;
  lifecycle?: WorkerLifecycle;
} = {}) {
  const secrets = new FakeSecretStore(TEST_SECRET);
  const log = new InMemoryExecutionLog();
  const lock = new InMemoryJobLock(log);
  const logger = new RecordingLogger();
  const clock = (options.clock ?? new SteppingClock()) as C;
  let ids = 0;
  const runJob = new RunJob({
    registry: new Map(Object.entries(options.jobs ?? {})),
    lock,
    clock,
    logger,
    sleep: options.sleep ?? (() => Promise.resolve()),
    newExecutionId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, "0")}`,
    lifecycle: options.lifecycle,
    settings: {
      budgetMs: 5_000,
      leaseGraceMs: 1_000,
      leaseTtlMs: 30_000,
      finalWriteRetryMs: 1_000,
      abortGraceMs: 50,
      allowManualTriggers: true,
      ...options.settings,
    },
  });
  const authorizeCaller = new AuthorizeCaller(secrets);
  // The log throttle's count-line timers, for a test to run when it chooses.
  const logFlushes: { run: () => void; delayMs: number }[] = [];
  const handler = createSchedulerHandler({
    authorizeCaller,
    runJob,
    logger,
    clock,
    scheduleLogFlush: (run, delayMs) => logFlushes.push({ run, delayMs }),
  });
  return { handler, runJob, authorizeCaller, secrets, log, lock, logger, clock, logFlushes };
}

/** A POST to the scheduler; `body` is JSON-encoded unless it is already a string. */
export function runRequest(
  body: unknown,
  options: { authorization?: string | null; method?: string } = {},
): Request {
  const headers = new Headers({ "content-type": "application/json" });
  const authorization = options.authorization === undefined
    ? `Bearer ${TEST_SECRET}`
    : options.authorization;
  if (authorization !== null) headers.set("authorization", authorization);
  const method = options.method ?? "POST";
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const hasBody = method !== "GET" && method !== "HEAD";
  // Real HTTP/1.1 callers (pg_net's libcurl, curl) declare the length.
  if (hasBody) headers.set("content-length", String(new TextEncoder().encode(text).byteLength));
  return new Request("http://scheduler.test/functions/v1/nightly-scheduler", {
    method,
    headers,
    body: hasBody ? text : undefined,
  });
}

/** A job that records its calls and returns (or throws) what it is told to. */
export function recordingJob(
  behaviour: () => Promise<Record<string, unknown> | void> = () => Promise.resolve({ ok: true }),
) {
  const calls: { payload: Record<string, unknown>; at: number }[] = [];
  const handler: JobHandler = (payload) => {
    calls.push({ payload, at: calls.length });
    return behaviour();
  };
  return { handler, calls };
}
