// Hand-written fakes for the ports; unit tests and the dispatch benchmark use them.
import assert from "node:assert/strict";
import type { ExecutionLogRepository } from "../../src/application/ports/execution_log_repository.ts";
import type { JobLock, Lease, LockOutcome } from "../../src/application/ports/job_lock.ts";
import type { LogFields, Logger } from "../../src/application/ports/logger.ts";
import type { SecretStore } from "../../src/application/ports/secret_store.ts";
import type { Clock } from "../../src/domain/clock.ts";
import type { ExecutionRecord } from "../../src/domain/execution_record.ts";

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
export class InMemoryExecutionLog implements ExecutionLogRepository {
  readonly saves: ExecutionRecord[] = [];
  readonly rows = new Map<string, ExecutionRecord>();

  save(record: ExecutionRecord): Promise<void> {
    this.saves.push(record);
    this.rows.set(record.executionId, record);
    return Promise.resolve();
  }

  /** The final state of every run, in insertion order. */
  records(): ExecutionRecord[] {
    return [...this.rows.values()];
  }

  assertNothingSaved(): void {
    assert.deepEqual(this.saves, [], "expected no execution log writes");
  }
}

/** Leases in memory with the same rules as scheduler_acquire_lease(). */
export class InMemoryJobLock implements JobLock {
  readonly leases = new Map<string, Lease>();
  readonly calls: string[] = [];

  acquire(lease: Lease, now: Date): Promise<LockOutcome> {
    this.calls.push(`acquire:${lease.jobName}`);
    const held = this.leases.get(lease.jobName);
    if (held && held.expiresAt > now) {
      return Promise.resolve({ acquired: false, heldBy: held.owner, heldUntil: held.expiresAt });
    }
    this.leases.set(lease.jobName, lease);
    return Promise.resolve({ acquired: true });
  }

  release(lease: Lease): Promise<void> {
    this.calls.push(`release:${lease.jobName}`);
    if (this.leases.get(lease.jobName)?.owner === lease.owner) this.leases.delete(lease.jobName);
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
