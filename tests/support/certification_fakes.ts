// An in-memory CertificationExpiryStore with the SQL functions' rules, and
// builders for certifications and job contexts.
import type {
  CertificationExpiryStore,
  ExpireBatchResult,
  ExpiryCursor,
  NoticeCursor,
  QueueNoticesResult,
} from "../../src/application/ports/certification_expiry_store.ts";
import type { Clock } from "../../src/domain/clock.ts";
import type { JobContext } from "../../src/domain/job.ts";
import { ManualClock, RecordingLogger } from "./fakes.ts";

/** A certification as the fake store keeps it. */
export interface FakeCertification {
  id: string;
  peerMentorId: string;
  expiresAt: Date;
  status: "active" | "expired" | "revoked";
  expiredAt: Date | null;
}

const DAY_MS = 86_400_000;

/** A certification expiring `days` (may be fractional or negative) after `from`. */
export function certification(
  n: number,
  days: number,
  from: Date,
  status: FakeCertification["status"] = "active",
): FakeCertification {
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
  const expiresAt = new Date(from.getTime() + days * DAY_MS);
  return { id, peerMentorId: `mentor-${n}`, expiresAt, status, expiredAt: null };
}

/** Certifications and notices in memory; every batch is recorded in `calls`. */
export class InMemoryCertificationExpiryStore implements CertificationExpiryStore {
  readonly notices = new Map<string, { windowDays: number; createdAt: Date }>();
  readonly calls: string[] = [];
  /** Runs after every batch, e.g. to abort the job's signal or move the clock. */
  afterBatch: (batch: number) => void = () => {};

  constructor(readonly certifications: FakeCertification[]) {}

  /** Walks the list in its order (the table's physical order), like the SQL function. */
  expireBatch(now: Date, limit: number, after: ExpiryCursor | null): Promise<ExpireBatchResult> {
    this.calls.push(`expire:${limit}:${after ?? "start"}`);
    const from = after === null ? 0 : Number(after) + 1;
    const due = this.certifications
      .map((c, position) => ({ c, position }))
      .filter(({ c, position }) => position >= from && c.status === "active" && c.expiresAt <= now)
      .slice(0, limit + 1);
    const batch = due.slice(0, limit);
    for (const { c } of batch) {
      c.status = "expired";
      c.expiredAt = now;
    }
    this.afterBatch(this.calls.length);
    const next = due.length > limit ? String(batch[limit - 1].position) as ExpiryCursor : null;
    return Promise.resolve({ expired: batch.length, next });
  }

  queueNoticesBatch(
    now: Date,
    windowDays: number,
    limit: number,
    after: NoticeCursor | null,
  ): Promise<QueueNoticesResult> {
    this.calls.push(`notice:${windowDays}:${limit}:${after ?? "start"}`);
    const end = now.getTime() + windowDays * DAY_MS;
    const candidates = this.#active()
      .filter((c) => c.expiresAt > now && c.expiresAt.getTime() <= end)
      .filter((c) => after === null || key(c) > after)
      .slice(0, limit + 1);
    const batch = candidates.slice(0, limit);
    let queued = 0;
    for (const c of batch) {
      const noticeKey = `${c.id}/${windowDays}`;
      if (this.notices.has(noticeKey)) continue;
      this.notices.set(noticeKey, { windowDays, createdAt: now });
      queued++;
    }
    // Like the SQL function: one row read past the batch says whether another follows.
    const more = candidates.length > limit;
    this.afterBatch(this.calls.length);
    return Promise.resolve({ queued, next: more ? key(batch[limit - 1]) : null });
  }

  /** Notices per window, e.g. `{30: 3, 7: 1}`. */
  noticeCounts(): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const { windowDays } of this.notices.values()) {
      counts[windowDays] = (counts[windowDays] ?? 0) + 1;
    }
    return counts;
  }

  /** How many certifications are in each status. */
  statusCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const c of this.certifications) counts[c.status] = (counts[c.status] ?? 0) + 1;
    return counts;
  }

  #active(): FakeCertification[] {
    return this.certifications.filter((c) => c.status === "active").sort((a, b) =>
      key(a) < key(b) ? -1 : 1
    );
  }
}

// ISO timestamps sort as text, so (expires_at, id) order is string order here.
function key(c: FakeCertification): NoticeCursor {
  return `${c.expiresAt.toISOString()}|${c.id}` as NoticeCursor;
}

/** A job context for certification_expiry_check with its parts exposed. */
export function expiryContext(options: {
  clock?: Clock;
  deadline?: Date;
  signal?: AbortSignal;
} = {}) {
  const clock = options.clock ?? new ManualClock();
  const logger = new RecordingLogger();
  const context: JobContext = {
    executionId: "00000000-0000-4000-8000-00000000e001",
    jobName: "certification_expiry_check",
    trigger: "cron",
    signal: options.signal ?? new AbortController().signal,
    deadline: options.deadline ?? new Date(clock.now().getTime() + 120_000),
    clock,
    logger,
  };
  return { context, logger, clock };
}

export { ManualClock };
