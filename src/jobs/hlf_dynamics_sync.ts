import type {
  CertificationChange,
  CertificationChangeFeed,
  ChangeCursor,
} from "../application/ports/certification_change_feed.ts";
import type {
  DynamicsPortalClient,
  PortalUpsertResult,
} from "../application/ports/dynamics_portal_client.ts";
import { DomainError } from "../domain/errors.ts";
import type { JobContext, JobHandler } from "../domain/job.ts";

/** The ports the sync works through. */
export interface HlfDynamicsSyncPorts {
  readonly portal: DynamicsPortalClient;
  readonly feed: CertificationChangeFeed;
}

/** Which organisation and cursor the sync uses, and how it paces itself. */
export interface HlfDynamicsSyncOptions {
  readonly organisationCode: string;
  /** The cursor's name; tests use their own so they never move the production cursor. */
  readonly syncName: string;
  readonly batchSize: number;
  /** No new batch starts with less time than this (or twice the last batch) before the deadline. */
  readonly minBatchWindowMs: number;
}

/** Production settings: HLF's certifications, 100 at a time. */
export const HLF_DYNAMICS_SYNC_DEFAULTS: HlfDynamicsSyncOptions = {
  organisationCode: "hlf",
  syncName: "hlf_dynamics_sync",
  batchSize: 100,
  minBatchWindowMs: 10_000,
};

/** The portal refused a record; the cursor stays before it, so the next run retries it. */
export class PortalRejectedError extends DomainError {
  constructor(message: string) {
    super("portal_rejected", message);
  }
}

/**
 * `hlf_dynamics_sync`: sends HLF's changed certification statuses to its
 * Dynamics portal, batch by batch, moving the cursor only past records the
 * portal accepted. A crash or a failed call therefore loses nothing and at
 * most re-sends one batch (upserts are idempotent).
 */
export function hlfDynamicsSync(
  ports: HlfDynamicsSyncPorts,
  options: HlfDynamicsSyncOptions = HLF_DYNAMICS_SYNC_DEFAULTS,
): JobHandler {
  return async (_payload, context) => {
    if (!ports.portal.enabled) {
      context.logger.info("hlf_dynamics_sync.disabled");
      return { enabled: false, sent: 0, batches: 0, cursor: null, complete: false };
    }
    let cursor = await ports.feed.position(options.syncName);
    let sent = 0;
    let batches = 0;
    let lastBatchMs = 0;
    const summary = (complete: boolean, stopped?: string) => ({
      enabled: true,
      sent,
      batches,
      cursor,
      complete,
      ...(stopped ? { stopped } : {}),
    });

    while (true) {
      if (context.signal.aborted) return summary(false, "aborted");
      if (!hasTimeForBatch(context, Math.max(options.minBatchWindowMs, 2 * lastBatchMs))) {
        context.logger.info("hlf_dynamics_sync.stopped_near_deadline", { cursor, sent });
        return summary(false, "deadline");
      }
      const startedAt = context.clock.now().getTime();
      const changes = await ports.feed.read(options.organisationCode, cursor, options.batchSize);
      if (changes.length === 0) return summary(true);

      const result = await ports.portal.upsertStatuses(
        changes.map((change) => change.status),
        context.signal,
      );
      const acceptedCount = acceptedPrefix(changes, result);
      if (acceptedCount > 0) {
        cursor = changes[acceptedCount - 1].cursor;
        await ports.feed.advance(options.syncName, cursor, context.clock.now());
        sent += acceptedCount;
      }
      batches++;
      context.logger.info("hlf_dynamics_sync.batch", {
        size: changes.length,
        accepted: acceptedCount,
        cursor,
      });
      if (acceptedCount < changes.length) throw rejection(changes, acceptedCount, result, cursor);
      if (changes.length < options.batchSize) return summary(true);
      lastBatchMs = context.clock.now().getTime() - startedAt;
    }
  };
}

/** How many records from the start of the batch the portal accepted: the cursor may pass only those. */
function acceptedPrefix(changes: CertificationChange[], result: PortalUpsertResult): number {
  const index = changes.findIndex((change) => !result.accepted.has(change.status.certificationId));
  return index === -1 ? changes.length : index;
}

function hasTimeForBatch(context: JobContext, windowMs: number): boolean {
  return context.deadline.getTime() - context.clock.now().getTime() >= windowMs;
}

function rejection(
  changes: CertificationChange[],
  acceptedCount: number,
  result: PortalUpsertResult,
  cursor: ChangeCursor | null,
): PortalRejectedError {
  const stuck = changes[acceptedCount].status.certificationId;
  const first = result.rejected.find((r) => r.certificationId === stuck) ?? result.rejected[0];
  const why = first
    ? `certification '${first.certificationId}' was rejected: ${first.reason}`
    : `certification '${stuck}' was not confirmed`;
  return new PortalRejectedError(
    `The Dynamics portal did not accept the batch: ${why}; ` +
      `${changes.length - acceptedCount} of ${changes.length} records are unsent and the cursor ` +
      `stays at '${cursor ?? "start"}'`,
  );
}
