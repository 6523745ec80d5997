import type {
  CertificationChange,
  CertificationChangeFeed,
  ChangeCursor,
} from "../application/ports/certification_change_feed.ts";
import type {
  CertificationPortal,
  PortalPushResult,
  PortalPushSignals,
} from "../application/ports/certification_portal.ts";
import type { SyncQuarantine } from "../application/ports/sync_quarantine.ts";
import { BatchPacer, type StopReason } from "../domain/batch_pacer.ts";
import { DomainError, PartialRunError } from "../domain/errors.ts";
import { type JobContext, type JobHandler, WorkRemains } from "../domain/job.ts";
import { WorkerStoppingError } from "../domain/worker_stop.ts";
import { ChangePages } from "./change_pages.ts";

/** The ports the sync works through. */
export interface HlfDynamicsSyncPorts {
  readonly portal: CertificationPortal;
  readonly feed: CertificationChangeFeed;
  readonly quarantine: SyncQuarantine;
}

/** Which organisation and cursor the sync uses, and how it paces itself. */
export interface HlfDynamicsSyncOptions {
  readonly organisationCode: string;
  /** The cursor's name; tests use their own so they never move the production cursor. */
  readonly syncName: string;
  /** Changes per feed read (at most 1,000); the portal adapter splits them into its batches. */
  readonly pageSize: number;
  /** No page starts that could end within this long of the deadline. */
  readonly safetyMarginMs: number;
  /** Quarantined records retried per run, at the start of it. */
  readonly quarantineRetries: number;
}

/** Production settings: HLF's certifications, 1,000 changes a page. */
export const HLF_DYNAMICS_SYNC_DEFAULTS: HlfDynamicsSyncOptions = {
  organisationCode: "hlf",
  syncName: "hlf_dynamics_sync",
  pageSize: 1_000,
  safetyMarginMs: 10_000,
  quarantineRetries: 1_000,
};

/** The portal could not take a record for now; the cursor stays before it, so the next run retries it. */
export class PortalRejectedError extends DomainError {
  constructor(message: string) {
    super("portal_rejected", message);
  }
}

/**
 * `hlf_dynamics_sync`: sends HLF's changed certification statuses to its
 * portal page by page. Pages are read ahead and pushed while earlier ones are
 * still uploading, as many as keep the portal's request slots full; each page
 * is settled (quarantine, cursor) in feed order once it and every page before
 * it have answered, while later pages upload. The cursor moves past records
 * the portal accepted and past records it refused for good (those go to the
 * quarantine, retried on later nights), never past one that failed for now or
 * one not yet answered. A crash therefore loses nothing and re-sends at most
 * the pages in flight (upserts are idempotent). A run that runs short of time
 * starts no new page, settles those under way, and ends as a part
 * (WorkRemains); one that fails still reports what it sent.
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
    const owner = { syncName: options.syncName, jobName: context.jobName };
    const pacer = new BatchPacer(context, options.safetyMarginMs);
    const counts = { sent: 0, quarantined: 0, retried: 0, released: 0 };
    let cursor: ChangeCursor | null = null;
    let stopped: StopReason | null = null;
    const summary = (complete: boolean) => ({
      enabled: true,
      ...counts,
      batches: pacer.batches,
      cursor,
      complete,
      ...(stopped ? { stopped } : {}),
    });
    // Pages pushed at once: enough to keep every request slot busy across a page boundary.
    const depth = pagesInFlight(ports.portal.recordsInFlight, options.pageSize);
    const inFlight: { changes: CertificationChange[]; push: Promise<PortalPushResult> }[] = [];
    // Ended once a page fails, so the pages behind it start no new request or wait.
    const halt = new AbortController();
    // Portal waits (Retry-After, backoff) end where the margin begins: the part ends, not fails.
    // Requests already sent run on under the run's own signal, so their answers still count.
    const soft = pacer.softStop();
    const signals = {
      signal: context.signal,
      waitSignal: AbortSignal.any([soft.signal, halt.signal]),
    };
    // Certifications this run quarantined: accepting one later in the run releases it.
    const heldNow = new Set<string>();
    const settle = async (changes: CertificationChange[], result: PortalPushResult) => {
      const passed = passablePrefix(changes, result);
      const refused = result.rejected.filter((r) =>
        !r.retryable && changes.findIndex((c) => c.status.certificationId === r.certificationId) <
          passed
      );
      // Held before the cursor passes them, so a crash in between loses none.
      await ports.quarantine.hold(owner, refused.map(quarantineEntry), context.clock.now());
      refused.forEach((r) => heldNow.add(r.certificationId));
      const accepted = changes.slice(0, passed).filter((c) =>
        result.accepted.has(c.status.certificationId)
      );
      // Only what a quarantine holds is released: most pages need no call at all.
      const releasable = accepted.filter((c) =>
        c.quarantined || heldNow.has(c.status.certificationId)
      ).map((c) => c.status.certificationId);
      counts.released += await ports.quarantine.release(options.syncName, releasable);
      if (passed > 0) {
        cursor = changes[passed - 1].cursor;
        await ports.feed.advance(options.syncName, cursor, context.clock.now());
      }
      counts.sent += accepted.length;
      counts.quarantined += refused.length;
      context.logger.info("hlf_dynamics_sync.batch", {
        size: changes.length,
        accepted: accepted.length,
        quarantined: refused.length,
        cursor,
      });
      if (passed < changes.length) throw rejection(changes, passed, result, cursor);
    };
    try {
      cursor = await ports.feed.position(options.syncName);
      await retryQuarantined(ports, options, context, signals, counts);
      const pages = new ChangePages(
        ports.feed,
        options.organisationCode,
        cursor,
        options.pageSize,
        depth,
      );
      let drained = false;
      while (true) {
        while (!drained && inFlight.length < depth) {
          stopped = pacer.stopReason();
          if (stopped !== null) break;
          const changes = await pages.next();
          if (changes.length === 0) {
            drained = true;
            break;
          }
          const push = pacer.run(() => ports.portal.push(changes.map((c) => c.status), signals))
            .then(({ result }) => result);
          inFlight.push({ changes, push: guarded(push) });
          if (changes.length < options.pageSize) drained = true;
        }
        const page = inFlight.shift();
        if (page === undefined) break;
        await settle(page.changes, await page.push);
      }
      if (stopped !== null) {
        context.logger.info("hlf_dynamics_sync.stopped", { reason: stopped, cursor, ...counts });
        // Out of time with changes left: the next part of the night carries on from the cursor.
        return pacer.workRemains(stopped) ? new WorkRemains(summary(false)) : summary(false);
      }
      return summary(true);
    } catch (error) {
      // Pages behind the failed one start nothing new; their requests in flight are let finish.
      halt.abort(new Error("An earlier page failed"));
      await Promise.allSettled(inFlight.map((p) => p.push));
      if (context.signal.reason instanceof WorkerStoppingError) {
        // The platform stops the worker mid-page: the cursor did not move past the pages under
        // way, so the next part (in a fresh worker) resends at most those; upserts are idempotent.
        stopped = "worker_stopping";
        context.logger.info("hlf_dynamics_sync.stopped", { reason: stopped, cursor, ...counts });
        return new WorkRemains(summary(false));
      }
      if (soft.signal.aborted && !context.signal.aborted) {
        // The portal asked for a longer wait than this part has left: the next part waits on.
        stopped = "deadline";
        context.logger.info("hlf_dynamics_sync.stopped", {
          reason: "portal_wait",
          cursor,
          ...counts,
        });
        return new WorkRemains(summary(false));
      }
      context.logger.warn("hlf_dynamics_sync.failed", { cursor, ...counts });
      throw new PartialRunError(summary(false), error);
    } finally {
      soft.dispose();
    }
  };
}

/** Pages pushed at once: one more than fills the portal's slots, so a page boundary leaves none idle. */
function pagesInFlight(recordsInFlight: number, pageSize: number): number {
  return recordsInFlight <= 1 ? 1 : Math.ceil(recordsInFlight / pageSize) + 1;
}

/** Tries tonight's due quarantined records once: accepted ones leave, refused ones count an attempt. */
async function retryQuarantined(
  ports: HlfDynamicsSyncPorts,
  options: HlfDynamicsSyncOptions,
  context: JobContext,
  signals: PortalPushSignals,
  counts: { retried: number; released: number },
): Promise<void> {
  if (options.quarantineRetries < 1) return;
  const due = await ports.quarantine.due(
    options.syncName,
    context.clock.now(),
    options.quarantineRetries,
  );
  if (due.length === 0) return;
  const result = await ports.portal.push(due, signals);
  const owner = { syncName: options.syncName, jobName: context.jobName };
  const refused = result.rejected.filter((r) => !r.retryable);
  await ports.quarantine.hold(owner, refused.map(quarantineEntry), context.clock.now());
  counts.retried += due.length;
  counts.released += await ports.quarantine.release(options.syncName, [...result.accepted]);
  context.logger.info("hlf_dynamics_sync.quarantine_retried", {
    due: due.length,
    accepted: result.accepted.size,
    refused: refused.length,
  });
}

/** How many records from the start of the page the cursor may pass: accepted or refused for good. */
function passablePrefix(changes: CertificationChange[], result: PortalPushResult): number {
  const refused = new Set(
    result.rejected.filter((r) => !r.retryable).map((r) => r.certificationId),
  );
  const index = changes.findIndex((change) => {
    const id = change.status.certificationId;
    return !result.accepted.has(id) && !refused.has(id);
  });
  return index === -1 ? changes.length : index;
}

function quarantineEntry(r: PortalPushResult["rejected"][number]) {
  const errorMessage = r.detail === "" ? r.reason : `${r.reason}: ${r.detail}`;
  return { certificationId: r.certificationId, portalStatus: r.status, errorMessage };
}

/** The same promise, marked handled: a page the loop abandons must not crash the isolate. */
function guarded<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function rejection(
  changes: CertificationChange[],
  passed: number,
  result: PortalPushResult,
  cursor: ChangeCursor | null,
): PortalRejectedError {
  const stuck = changes[passed].status.certificationId;
  const first = result.rejected.find((r) => r.certificationId === stuck);
  const why = first
    ? `certification '${first.certificationId}' failed for now: ${first.reason}`
    : `certification '${stuck}' was not confirmed`;
  return new PortalRejectedError(
    `The Dynamics portal did not take the batch: ${why}; ` +
      `${changes.length - passed} of ${changes.length} records are unsent and the cursor ` +
      `stays at '${cursor ?? "start"}'`,
  );
}
