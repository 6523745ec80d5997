// Hand-written fakes for the ports; unit tests and the dispatch benchmark use them.
import assert from "node:assert/strict";
import type {
  JobLock,
  LeaseRenewal,
  StartOutcome,
  StartRequest,
} from "../../src/application/ports/job_lock.ts";
import type { LogFields, Logger } from "../../src/application/ports/logger.ts";
import type { SecretStore } from "../../src/application/ports/secret_store.ts";
import type { Clock } from "../../src/domain/clock.ts";
import type { ExecutionRecord, Trigger } from "../../src/domain/execution_record.ts";

/** A clock that moves forward a fixed step every time it is read. */
export class SteppingClock implements Clock {
  #next: number;
  readonly reads: Date[] = [];

  constructor(start = new Date("2026-11-27T02:00:00.000Z"), readonly stepMs = 1000) {
    this.#next = start.getTime();
  }

  now(): Date {
    const date = new Date(this.#next);
    this.#next += this.stepMs;
    this.reads.push(date);
    return date;
  }

  /** Jumps to `date` (a later night, say); steps go on from there. */
  set(date: Date): void {
    this.#next = date.getTime();
  }

  /** Moves time forward without a read. */
  advance(ms: number): void {
    this.#next += ms;
  }
}

/** A clock that stands still until a test moves it (or a fake moves it as time passes). */
export class ManualClock implements Clock {
  #now: number;

  constructor(start = new Date("2026-11-27T02:00:00.000Z")) {
    this.#now = start.getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  advance(ms: number): void {
    this.#now += ms;
  }
}

/** A secret store holding one secret that a test can rotate; counts reads. */
export class FakeSecretStore implements SecretStore {
  reads = 0;
  freshReads = 0;
  #cached: string;

  constructor(public secret = "s3cret-for-tests") {
    this.#cached = secret;
  }

  /** Changes the secret as Vault would, leaving the cached copy stale. */
  rotate(next: string): void {
    this.secret = next;
  }

  current(options?: { fresh?: boolean }): Promise<string> {
    this.reads++;
    if (options?.fresh) {
      this.freshReads++;
      this.#cached = this.secret;
    }
    return Promise.resolve(this.#cached);
  }
}

/** The execution log in memory, keyed by execution id like the real table. */
export class InMemoryExecutionLog {
  readonly saves: ExecutionRecord[] = [];
  readonly rows = new Map<string, ExecutionRecord>();

  save(record: ExecutionRecord): void {
    this.saves.push(record);
    this.rows.set(record.executionId, record);
  }

  /** The final state of every run, in insertion order. */
  records(): ExecutionRecord[] {
    return [...this.rows.values()];
  }

  assertNothingSaved(): void {
    assert.deepEqual(this.saves, [], "expected no execution log writes");
  }
}

/** A dispatch record as the fake database holds it. */
export interface FakeDispatch {
  readonly jobName: string;
  readonly slot: string;
  readonly attempt: number;
  readonly kind: "cron" | "retry" | "continuation";
  used: boolean;
}

interface FakeLease {
  owner: string | null;
  expiresAt: Date;
  releasedAt: Date | null;
}

/** The log, leases and dispatch records in memory, with the rules of scheduler_start_run() and friends. */
export class InMemoryJobLock implements JobLock {
  readonly leases = new Map<string, FakeLease>();
  readonly dispatches = new Map<string, FakeDispatch>();
  readonly calls: string[] = [];
  #dispatchIds = 0;

  constructor(readonly log = new InMemoryExecutionLog()) {}

  /** Records a dispatch as scheduler_enqueue_dispatch() would; returns its id. */
  dispatch(jobName: string, slot = "2026-11-27", attempt = 1): string {
    const id = `d0000000-0000-4000-8000-${String(++this.#dispatchIds).padStart(12, "0")}`;
    this.dispatches.set(id, {
      jobName,
      slot,
      attempt,
      kind: attempt === 1 ? "cron" : "retry",
      used: false,
    });
    return id;
  }

  /** Executions holding a lease now. */
  held(): string[] {
    return [...this.leases.values()].flatMap((l) => (l.owner === null ? [] : [l.owner]));
  }

  start(request: StartRequest): Promise<StartOutcome> {
    this.calls.push(`start:${request.jobName}`);
    const found = request.dispatchId === null ? undefined : this.dispatches.get(request.dispatchId);
    const dispatch = found?.jobName === request.jobName ? found : undefined;
    const trigger: Trigger = dispatch?.kind ?? "manual";
    if (trigger === "manual" && !request.allowManual) return Promise.resolve({ status: "refused" });
    const base = {
      trigger,
      slot: dispatch?.slot ?? null,
      attempt: dispatch?.attempt ?? null,
      heldBy: null as string | null,
      budgetMs: null,
    };
    const record = (
      status: ExecutionRecord["status"],
      startedAt: Date,
      errorMessage: string | null,
    ) => {
      this.log.save({
        executionId: request.executionId,
        jobName: request.jobName,
        trigger,
        slot: base.slot,
        attempt: base.attempt,
        status,
        startedAt,
        finishedAt: status === "running" ? null : startedAt,
        errorMessage,
        summary: null,
      });
      if (dispatch) dispatch.used = true;
    };
    if (dispatch?.used) {
      record("duplicate", request.now, "Dispatch already used");
      return Promise.resolve({ ...base, status: "duplicate", startedAt: request.now });
    }
    if (request.unknownJobMessage !== undefined) {
      record("failed", request.now, request.unknownJobMessage);
      return Promise.resolve({ ...base, status: "failed", startedAt: request.now });
    }
    const lease = this.leases.get(request.jobName) ??
      { owner: null, expiresAt: request.now, releasedAt: null };
    this.leases.set(request.jobName, lease);
    if (lease.owner !== null && lease.expiresAt <= request.now) {
      const dead = this.log.rows.get(lease.owner);
      if (dead?.status === "running") {
        this.log.save({ ...dead, status: "timed_out", finishedAt: dead.startedAt });
      }
      lease.owner = null;
    }
    const slotTaken = dispatch !== undefined &&
      this.log.records().some((r) =>
        r.jobName === request.jobName && r.slot === dispatch.slot &&
        (r.status === "running" || r.status === "succeeded")
      );
    if (slotTaken) {
      record("duplicate", request.now, "Slot already has a run");
      return Promise.resolve({ ...base, status: "duplicate", startedAt: request.now });
    }
    if (lease.owner !== null) {
      record("skipped", request.now, `Already running as '${lease.owner}'`);
      return Promise.resolve({
        ...base,
        status: "skipped",
        heldBy: lease.owner,
        startedAt: request.now,
      });
    }
    const startedAt = lease.releasedAt && lease.releasedAt > request.now
      ? lease.releasedAt
      : request.now;
    lease.owner = request.executionId;
    lease.expiresAt = new Date(startedAt.getTime() + request.leaseTtlMs);
    record("running", startedAt, null);
    return Promise.resolve({ ...base, status: "running", startedAt });
  }

  /** Executions an operator asked to cancel (what scheduler_cancel marks). */
  readonly cancelRequested = new Set<string>();

  renew(jobName: string, executionId: string, now: Date, ttlMs: number): Promise<LeaseRenewal> {
    this.calls.push(`renew:${jobName}`);
    const lease = this.leases.get(jobName);
    if (lease?.owner !== executionId || lease.expiresAt <= now) return Promise.resolve("lost");
    lease.expiresAt = new Date(now.getTime() + ttlMs);
    return Promise.resolve(this.cancelRequested.has(executionId) ? "cancel_requested" : "held");
  }

  finish(record: ExecutionRecord, options: { keepLease?: boolean } = {}): Promise<void> {
    this.calls.push(`finish:${record.jobName}`);
    if (this.log.rows.get(record.executionId)?.status === "running") this.log.save(record);
    const lease = this.leases.get(record.jobName);
    if (!options.keepLease && lease?.owner === record.executionId) {
      lease.owner = null;
      lease.releasedAt = record.finishedAt;
    }
    return Promise.resolve();
  }
}

/** A logger that keeps every line as an object, for assertions. */
export class RecordingLogger implements Logger {
  constructor(
    readonly lines: { level: string; event: string; fields: LogFields }[] = [],
    readonly base: LogFields = {},
  ) {}

  info(event: string, fields?: LogFields): void {
    this.lines.push({ level: "info", event, fields: { ...this.base, ...fields } });
  }

  warn(event: string, fields?: LogFields): void {
    this.lines.push({ level: "warn", event, fields: { ...this.base, ...fields } });
  }

  error(event: string, fields?: LogFields): void {
    this.lines.push({ level: "error", event, fields: { ...this.base, ...fields } });
  }

  with(fields: LogFields): Logger {
    return new RecordingLogger(this.lines, { ...this.base, ...fields });
  }
}
