import type { RetentionStore } from "../application/ports/retention_store.ts";
import { InvalidPayloadError, PartialRunError } from "../domain/errors.ts";
import { type JobHandler, type JobPayload, WorkRemains } from "../domain/job.ts";
import { BatchPacer, type StopReason } from "../domain/batch_pacer.ts";

/** Rows deleted per batch, so per transaction, unless the payload says otherwise. */
export const DEFAULT_PURGE_BATCH_SIZE = 5_000;
/** The largest batch a payload may ask for (the SQL function refuses more). */
export const MAX_PURGE_BATCH_SIZE = 50_000;
/** Time kept free before the deadline for the log write. */
const SAFETY_MARGIN_MS = 10_000;

/**
 * `scheduler_retention`: deletes the scheduler's history past its period (the
 * periods live in `scheduler_retention_policy`), target by target, in bounded
 * batches at one instant read once from the clock. It stops between batches
 * when aborted or short of time; the next night carries on where it stopped.
 */
export function schedulerRetention(store: RetentionStore): JobHandler {
  return async (payload, context) => {
    const batchSize = parseBatchSize(payload, context.jobName);
    const now = context.clock.now();
    const pacer = new BatchPacer(context, SAFETY_MARGIN_MS);
    const deleted: Record<string, number> = {};
    let stoppedBy: StopReason | null = null;
    const summary = () => ({
      as_of: now.toISOString(),
      deleted,
      batches: pacer.batches,
      complete: stoppedBy === null,
      stopped_by: stoppedBy,
    });
    try {
      for (const { target, keepDays } of await store.targets()) {
        deleted[target] = 0;
        for (let more = true; more && stoppedBy === null;) {
          stoppedBy = pacer.stopReason();
          if (stoppedBy !== null) break;
          const { result } = await pacer.run(() => store.purgeBatch(target, now, batchSize));
          deleted[target] += result;
          more = result === batchSize;
        }
        context.logger.info("retention.target", {
          target,
          keep_days: keepDays,
          deleted: deleted[target],
        });
        if (stoppedBy !== null) break;
      }
    } catch (error) {
      throw new PartialRunError({ ...summary(), complete: false }, error);
    }
    // Out of time with rows left: the next part of the night purges on.
    return pacer.workRemains(stoppedBy) ? new WorkRemains(summary()) : summary();
  };
}

function parseBatchSize(payload: JobPayload, jobName: string): number {
  const unknown = Object.keys(payload).filter((key) => key !== "batch_size");
  if (unknown.length > 0) {
    throw new InvalidPayloadError(jobName, `unknown payload field '${unknown[0]}'`);
  }
  const value = payload.batch_size ?? DEFAULT_PURGE_BATCH_SIZE;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 1 ||
    value > MAX_PURGE_BATCH_SIZE
  ) {
    throw new InvalidPayloadError(
      jobName,
      `'batch_size' must be an integer from 1 to ${MAX_PURGE_BATCH_SIZE}, got '${
        JSON.stringify(value)
      }'`,
    );
  }
  return value;
}
