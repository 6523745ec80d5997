// Hand-written fakes and builders for hlf_dynamics_sync's ports.
import { ManualClock } from "./fakes.ts";
import type {
  CertificationChange,
  CertificationChangeFeed,
  ChangeCursor,
} from "../../src/application/ports/certification_change_feed.ts";
import type {
  CertificationPortal,
  PortalPushResult,
  PortalPushSignals,
  PortalRejection,
} from "../../src/application/ports/certification_portal.ts";
import type {
  QuarantineEntry,
  QuarantineOwner,
  SyncQuarantine,
} from "../../src/application/ports/sync_quarantine.ts";
import type { Sleep } from "../../src/domain/batch_pacer.ts";
import type { CertificationStatus } from "../../src/domain/certification_status.ts";
import type { JobContext } from "../../src/domain/job.ts";
import { ClientCredentialsTokenProvider } from "../../src/infrastructure/dynamics/client_credentials_token_provider.ts";
import { DataverseCertificationPortal } from "../../src/infrastructure/dynamics/dataverse_certification_portal.ts";
import type { DataverseSettings } from "../../src/infrastructure/dynamics/dynamics_settings.ts";
import { Redacted } from "../../src/infrastructure/dynamics/redacted.ts";
import type { RetryPolicy } from "../../src/infrastructure/dynamics/retry_policy.ts";
import { FAKE_APP } from "../../local/fake_dataverse.ts";
import { RecordingLogger, SteppingClock } from "./fakes.ts";

/** A certification status with readable defaults; `n` makes the ids distinct and sortable. */
export function aCertificationStatus(
  n: number,
  overrides: Partial<CertificationStatus> = {},
): CertificationStatus {
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
  return {
    certificationId: id,
    peerMentorId: `10000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    certificationType: "peer_mentor_basic",
    state: "active",
    issuedAt: new Date("2025-01-01T00:00:00.000Z"),
    expiresAt: new Date("2027-01-01T00:00:00.000Z"),
    expiredAt: null,
    ...overrides,
  };
}

/** A feed over an in-memory list whose cursor is the position in the list, as `pos:<n>`. */
export class InMemoryChangeFeed implements CertificationChangeFeed {
  readonly cursors = new Map<string, ChangeCursor>();
  readonly reads: { organisationCode: string; after: ChangeCursor | null; limit: number }[] = [];
  readonly advances: { syncName: string; to: ChangeCursor }[] = [];
  /** Whether a quarantine holds the certification (the feed's `quarantined` flag). */
  quarantined: (certificationId: string) => boolean = () => false;

  constructor(readonly changes: { organisationCode: string; status: CertificationStatus }[] = []) {}

  /** Adds `count` changes for the organisation, numbered from `from`. */
  add(organisationCode: string, count: number, from = 1): this {
    for (let n = from; n < from + count; n++) {
      this.changes.push({ organisationCode, status: aCertificationStatus(n) });
    }
    return this;
  }

  position(syncName: string): Promise<ChangeCursor | null> {
    return Promise.resolve(this.cursors.get(syncName) ?? null);
  }

  read(organisationCode: string, after: ChangeCursor | null, limit: number) {
    this.reads.push({ organisationCode, after, limit });
    const start = after === null ? 0 : Number(after.slice(4));
    const out: CertificationChange[] = [];
    for (let i = start; i < this.changes.length && out.length < limit; i++) {
      const change = this.changes[i];
      if (change.organisationCode !== organisationCode) continue;
      const quarantined = this.quarantined(change.status.certificationId);
      out.push({ cursor: `pos:${i + 1}`, status: change.status, quarantined });
    }
    return Promise.resolve(out);
  }

  advance(syncName: string, to: ChangeCursor): Promise<void> {
    this.advances.push({ syncName, to });
    this.cursors.set(syncName, to);
    return Promise.resolve();
  }
}

/** A portal that accepts everything unless told to reject an id or to throw. */
export class ScriptedCertificationPortal implements CertificationPortal {
  readonly batches: string[][] = [];
  readonly rejectIds = new Map<string, PortalRejection>();
  failWith: Error | null = null;
  /** When set, every push waits until its wait signal ends, as a portal asking for a long pause. */
  waitsForever = false;
  /** Called after each batch, so a test can abort or move the clock between batches. */
  afterBatch: (batch: number) => void = () => {};

  /** `recordsInFlight` 1 (the default): the sync pushes one page after another. */
  constructor(readonly enabled = true, readonly recordsInFlight = 1) {}

  /** Rejects this certification id on every call: for good (400) unless `retryable` (503). */
  reject(certificationId: string, retryable = false): this {
    const status = retryable ? 503 : 400;
    const reason = retryable ? "HTTP 503 after 5 attempts" : "HTTP 400 ('0x80040203')";
    const detail = retryable ? "" : "Value [value] is not valid for hlf_status";
    this.rejectIds.set(certificationId, { certificationId, status, reason, detail, retryable });
    return this;
  }

  /** Accepts this certification id again. */
  accept(certificationId: string): this {
    this.rejectIds.delete(certificationId);
    return this;
  }

  push(
    records: readonly CertificationStatus[],
    { waitSignal }: PortalPushSignals,
  ): Promise<PortalPushResult> {
    this.batches.push(records.map((r) => r.certificationId));
    if (this.failWith) return Promise.reject(this.failWith);
    if (this.waitsForever) {
      // Like a long Retry-After: only the wait signal (the soft stop, or the run's) ends it.
      return new Promise((_, reject) =>
        waitSignal.addEventListener("abort", () => reject(waitSignal.reason), { once: true })
      );
    }
    const accepted = new Set<string>();
    const rejected: PortalRejection[] = [];
    for (const record of records) {
      const rejection = this.rejectIds.get(record.certificationId);
      if (rejection) rejected.push(rejection);
      else accepted.add(record.certificationId);
      // Like the real adapter: nothing new starts after a failure that may pass.
      if (rejection?.retryable) break;
    }
    this.afterBatch(this.batches.length);
    return Promise.resolve({ accepted, rejected });
  }

  /** Every certification id sent, in order, across batches. */
  sentIds(): string[] {
    return this.batches.flat();
  }
}

/** The quarantine in memory, with the SQL functions' rules: one try a UTC day, up to `maxAttempts`. */
export class InMemorySyncQuarantine implements SyncQuarantine {
  readonly held = new Map<string, QuarantineEntry & { attempts: number; lastAttemptAt: Date }>();

  constructor(
    readonly statuses: (id: string) => CertificationStatus,
    readonly maxAttempts = 5,
  ) {}

  hold(_owner: QuarantineOwner, entries: readonly QuarantineEntry[], now: Date): Promise<void> {
    for (const entry of entries) {
      const attempts = (this.held.get(entry.certificationId)?.attempts ?? 0) + 1;
      this.held.set(entry.certificationId, { ...entry, attempts, lastAttemptAt: now });
    }
    return Promise.resolve();
  }

  due(_syncName: string, now: Date, limit: number): Promise<CertificationStatus[]> {
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const due = [...this.held.entries()]
      .filter(([, e]) => e.attempts < this.maxAttempts && e.lastAttemptAt.getTime() < today)
      .slice(0, limit)
      .map(([id]) => this.statuses(id));
    return Promise.resolve(due);
  }

  /** The ids of each release call, as sent. */
  readonly releases: string[][] = [];

  release(_syncName: string, certificationIds: readonly string[]): Promise<number> {
    if (certificationIds.length > 0) this.releases.push([...certificationIds]);
    return Promise.resolve(certificationIds.filter((id) => this.held.delete(id)).length);
  }
}

/** A job context with a stepping clock, a recording logger and a deadline `budgetMs` away. */
export function aJobContext(options: {
  clock?: SteppingClock;
  budgetMs?: number;
  controller?: AbortController;
} = {}) {
  const clock = options.clock ?? new SteppingClock(undefined, 10);
  const controller = options.controller ?? new AbortController();
  const logger = new RecordingLogger();
  const start = clock.now();
  const context: JobContext = {
    executionId: "00000000-0000-4000-8000-00000000abcd",
    jobName: "hlf_dynamics_sync",
    trigger: "cron",
    signal: controller.signal,
    deadline: new Date(start.getTime() + (options.budgetMs ?? 120_000)),
    clock,
    logger,
  };
  return { context, clock, controller, logger };
}

/** A sleep that returns at once, records the pause and moves the clock by it. */
export class RecordingSleep {
  readonly pauses: number[] = [];

  constructor(readonly clock: ManualClock) {}

  readonly sleep: Sleep = (ms, signal) => {
    if (signal.aborted) return Promise.reject(signal.reason);
    this.pauses.push(ms);
    this.clock.advance(ms);
    return Promise.resolve();
  };
}

/** A retry policy with short pauses, for tests. */
export const TEST_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseMs: 100,
  maxMs: 1_000,
  maxRetryAfterMs: 10_000,
  maxThrottledSends: 20,
};

/** A Dataverse portal and token provider wired to a FakeDataverse, with fast retries. */
export function aDataversePortal(options: {
  baseUrl: string;
  fetch: typeof fetch;
  settings?: Partial<DataverseSettings>;
  retry?: Partial<RetryPolicy>;
  tokenLifetimeMarginMs?: number;
  clock?: ManualClock;
  sleep?: Sleep;
}) {
  const clock = options.clock ?? new ManualClock();
  const sleeper = new RecordingSleep(clock);
  const deps = { fetch: options.fetch, clock, sleep: options.sleep ?? sleeper.sleep };
  const retry = { ...TEST_RETRY_POLICY, ...options.retry };
  const tokens = new ClientCredentialsTokenProvider(
    {
      tokenUrl: `${options.baseUrl}/${FAKE_APP.tenantId}/oauth2/v2.0/token`,
      clientId: FAKE_APP.clientId,
      clientSecret: new Redacted(FAKE_APP.clientSecret),
      scope: FAKE_APP.scope,
      refreshMarginMs: options.tokenLifetimeMarginMs ?? 60_000,
    },
    { ...retry, maxAttempts: 3 },
    deps,
  );
  const portal = new DataverseCertificationPortal(
    {
      apiUrl: `${options.baseUrl}/api/data/v9.2/`,
      entitySet: FAKE_APP.entitySet,
      entityName: FAKE_APP.entityName,
      alternateKey: FAKE_APP.alternateKey,
      concurrency: 4,
      batchSize: 1,
      requestTimeoutMs: 5_000,
      ...options.settings,
    },
    retry,
    tokens,
    deps,
  );
  return { portal, tokens, clock, sleeper };
}

export { ManualClock };
