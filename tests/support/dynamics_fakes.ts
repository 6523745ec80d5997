// Hand-written fakes and builders for hlf_dynamics_sync's ports.
import { ManualClock } from "./fakes.ts";
import type {
  CertificationChange,
  CertificationChangeFeed,
  ChangeCursor,
} from "../../src/application/ports/certification_change_feed.ts";
import type {
  DynamicsPortalClient,
  PortalRejection,
  PortalUpsertResult,
} from "../../src/application/ports/dynamics_portal_client.ts";
import type { CertificationStatus } from "../../src/domain/certification_status.ts";
import type { JobContext } from "../../src/domain/job.ts";
import { ClientCredentialsTokenProvider } from "../../src/infrastructure/dynamics/client_credentials_token_provider.ts";
import {
  DataversePortalClient,
  type DataverseSettings,
} from "../../src/infrastructure/dynamics/dataverse_portal_client.ts";
import type { Sleep } from "../../src/infrastructure/dynamics/http_retry.ts";
import { Redacted } from "../../src/infrastructure/dynamics/redacted.ts";
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
      out.push({ cursor: `pos:${i + 1}`, status: change.status });
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
export class ScriptedPortalClient implements DynamicsPortalClient {
  readonly batches: string[][] = [];
  readonly rejectIds = new Map<string, PortalRejection>();
  failWith: Error | null = null;
  /** Called after each batch, so a test can abort or move the clock between batches. */
  afterBatch: (batch: number) => void = () => {};

  constructor(readonly enabled = true) {}

  /** Rejects this certification id on every call. */
  reject(certificationId: string, reason = "HTTP 400 ('0x80040203')", retryable = false): this {
    this.rejectIds.set(certificationId, { certificationId, reason, retryable });
    return this;
  }

  upsertStatuses(records: readonly CertificationStatus[]): Promise<PortalUpsertResult> {
    this.batches.push(records.map((r) => r.certificationId));
    if (this.failWith) return Promise.reject(this.failWith);
    const accepted = new Set<string>();
    const rejected: PortalRejection[] = [];
    for (const record of records) {
      const rejection = this.rejectIds.get(record.certificationId);
      if (rejection) rejected.push(rejection);
      else accepted.add(record.certificationId);
    }
    this.afterBatch(this.batches.length);
    return Promise.resolve({ accepted, rejected });
  }

  /** Every certification id sent, in order, across batches. */
  sentIds(): string[] {
    return this.batches.flat();
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

/** A Dataverse client and token provider wired to a FakeDataverse, with fast retries. */
export function aDataverseClient(options: {
  baseUrl: string;
  fetch: typeof fetch;
  settings?: Partial<DataverseSettings>;
  tokenLifetimeMarginMs?: number;
}) {
  const clock = new ManualClock();
  const sleeper = new RecordingSleep(clock);
  const deps = { fetch: options.fetch, clock, sleep: sleeper.sleep };
  const backoff = { baseMs: 100, maxMs: 1_000 };
  const tokens = new ClientCredentialsTokenProvider({
    tokenUrl: `${options.baseUrl}/${FAKE_APP.tenantId}/oauth2/v2.0/token`,
    clientId: FAKE_APP.clientId,
    clientSecret: new Redacted(FAKE_APP.clientSecret),
    scope: FAKE_APP.scope,
    refreshMarginMs: options.tokenLifetimeMarginMs ?? 60_000,
    maxAttempts: 3,
    backoff,
  }, deps);
  const client = new DataversePortalClient(
    {
      apiUrl: `${options.baseUrl}/api/data/v9.2/`,
      entitySet: FAKE_APP.entitySet,
      alternateKey: FAKE_APP.alternateKey,
      concurrency: 4,
      maxAttempts: 4,
      maxRetryAfterMs: 10_000,
      requestTimeoutMs: 5_000,
      backoff,
      ...options.settings,
    },
    tokens,
    deps,
  );
  return { client, tokens, clock, sleeper };
}

export { ManualClock };
