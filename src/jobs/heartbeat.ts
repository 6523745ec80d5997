import { InvalidPayloadError } from "../domain/errors.ts";
import type { JobHandler } from "../domain/job.ts";
import { type Sleep, timerSleep } from "../domain/batch_pacer.ts";

/** The longest a heartbeat may hold its lock, so a typo cannot park the job for hours. */
export const MAX_HOLD_MS = 60_000;

/**
 * `heartbeat`: touches no data and proves the whole path (trigger, auth, lock,
 * log) works. `{"hold_ms": n}` keeps the run (and its lock) open for n ms, which
 * operators use to check overlap protection and long-run logging.
 */
export function heartbeat(sleep: Sleep = timerSleep): JobHandler {
  return async (payload, context) => {
    const holdMs = parseHoldMs(payload.hold_ms, context.jobName);
    if (holdMs > 0) await sleep(holdMs, context.signal);
    const now = context.clock.now();
    context.logger.info("heartbeat.beat", { held_ms: holdMs });
    return { beat_at: now.toISOString(), held_ms: holdMs, trigger: context.trigger };
  };
}

function parseHoldMs(value: unknown, jobName: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_HOLD_MS) {
    throw new InvalidPayloadError(
      jobName,
      `'hold_ms' must be an integer from 0 to ${MAX_HOLD_MS}, got '${String(value)}'`,
    );
  }
  return value;
}
