import type {
  CertificationExpiryStore,
  ExpireBatchResult,
  ExpiryCursor,
  NoticeCursor,
  QueueNoticesResult,
} from "../application/ports/certification_expiry_store.ts";
import { PartialRunError } from "../domain/errors.ts";
import { type JobContext, type JobHandler, WorkRemains } from "../domain/job.ts";
import { BatchPacer, type StopReason } from "../domain/batch_pacer.ts";
import { type ExpiryPlan, parseExpiryPayload } from "../domain/certification_expiry_payload.ts";

/** Tuning for certification_expiry_check; every field has a default. */
export interface CertificationExpiryCheckOptions {
  /** Warning windows in days (default 30 and 7). */
  readonly windowsDays?: readonly number[];
  /** Certifications per batch, so per transaction (default 25,000; see BENCHMARKS.md). */
  readonly batchSize?: number;
  /** No batch starts that could end within this long of the deadline (default 10 s). */
  readonly safetyMarginMs?: number;
}

/** Default warning windows in days. */
export const DEFAULT_WINDOWS_DAYS: readonly number[] = [30, 7];
/** Default certifications per batch. */
export const DEFAULT_BATCH_SIZE = 25_000;
/** Default time kept free before the deadline. */
export const DEFAULT_SAFETY_MARGIN_MS = 10_000;

/** Counts a run keeps while it goes, and returns as its summary. */
interface Progress {
  expired: number;
  notices: Record<string, number>;
}

/**
 * `certification_expiry_check`: expires every active certification past its
 * expires_at, then queues one notice per warning window for those expiring
 * soon. Works in bounded batches (each its own transaction) at one instant read
 * once from the clock, and stops between batches when aborted or short of time;
 * short of time it ends as a part (WorkRemains), and the next part picks up
 * where this one stopped; a repeat run changes nothing.
 */
export function certificationExpiryCheck(
  store: CertificationExpiryStore,
  options: CertificationExpiryCheckOptions = {},
): JobHandler {
  const defaults: ExpiryPlan = {
    windowsDays: options.windowsDays ?? DEFAULT_WINDOWS_DAYS,
    batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
  };
  const marginMs = options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
  return async (payload, context) => {
    const plan = parseExpiryPayload(payload, defaults, context.jobName);
    const now = context.clock.now();
    const pacer = new BatchPacer(context, marginMs);
    const progress: Progress = {
      expired: 0,
      notices: Object.fromEntries(plan.windowsDays.map((days) => [String(days), 0])),
    };
    let stoppedBy: StopReason | null = null;
    const summary = () => ({
      as_of: now.toISOString(),
      expired: progress.expired,
      notices: progress.notices,
      batches: pacer.batches,
      longest_batch_ms: pacer.longestMs,
      complete: stoppedBy === null,
      stopped_by: stoppedBy,
    });
    try {
      // Expire first, so nothing past its date is warned about as "expiring soon".
      stoppedBy = await expireAll(store, plan, now, pacer, progress, context);
      for (const days of plan.windowsDays) {
        if (stoppedBy !== null) break;
        stoppedBy = await queueWindow(store, plan, days, now, pacer, progress, context);
      }
    } catch (error) {
      context.logger.warn("certification_expiry.failed", { ...progress, batches: pacer.batches });
      // The batches already committed stay done; the log keeps how far the run got.
      throw new PartialRunError({ ...summary(), complete: false }, error);
    }
    if (stoppedBy !== null) {
      context.logger.warn("certification_expiry.stopped", { reason: stoppedBy, ...progress });
    }
    // Out of time with rows left: the next part of the night picks up where this one stopped.
    return pacer.workRemains(stoppedBy) ? new WorkRemains(summary()) : summary();
  };
}

async function expireAll(
  store: CertificationExpiryStore,
  plan: ExpiryPlan,
  now: Date,
  pacer: BatchPacer,
  progress: Progress,
  context: JobContext,
): Promise<StopReason | null> {
  let after: ExpiryCursor | null = null;
  do {
    const stop = pacer.stopReason();
    if (stop !== null) return stop;
    const from: ExpiryCursor | null = after;
    const batch = (): Promise<ExpireBatchResult> => store.expireBatch(now, plan.batchSize, from);
    const { result, durationMs } = await pacer.run(batch);
    progress.expired += result.expired;
    after = result.next;
    context.logger.info("certification_expiry.batch", {
      step: "expire",
      batch: pacer.batches,
      rows: result.expired,
      duration_ms: durationMs,
    });
  } while (after !== null);
  return null;
}

async function queueWindow(
  store: CertificationExpiryStore,
  plan: ExpiryPlan,
  days: number,
  now: Date,
  pacer: BatchPacer,
  progress: Progress,
  context: JobContext,
): Promise<StopReason | null> {
  let after: NoticeCursor | null = null;
  do {
    const stop = pacer.stopReason();
    if (stop !== null) return stop;
    const cursor = after;
    const batch = (): Promise<QueueNoticesResult> =>
      store.queueNoticesBatch(now, days, plan.batchSize, cursor);
    const { result, durationMs } = await pacer.run(batch);
    progress.notices[String(days)] += result.queued;
    after = result.next;
    context.logger.info("certification_expiry.batch", {
      step: "notice",
      window_days: days,
      batch: pacer.batches,
      rows: result.queued,
      duration_ms: durationMs,
    });
  } while (after !== null);
  return null;
}
