import type { Clock } from "../domain/clock.ts";
import type { JobLock } from "./ports/job_lock.ts";
import type { Logger } from "./ports/logger.ts";

/** A running heartbeat; `stop()` ends it and waits for a renewal in flight. */
export interface Heartbeat {
  stop(): Promise<void>;
  /** When the lease lapses unless renewed again: the last confirmed renewal (or the start) plus the TTL. */
  expiresAt(): Date;
}

/**
 * Renews a run's lease every `ttlMs / 3`, so a live run keeps its job for as
 * long as it runs while a dead isolate's lease lapses within `ttlMs`. A failed
 * renewal is logged and tried again at the next beat (two more before the
 * lease lapses); a lease taken over is logged once and no longer renewed. A
 * beat that learns of an operator's cancel calls `onCancel` once and goes on
 * renewing: the lease stays the run's until the job has stopped. `heldSince`
 * is when the lease was taken (its first expiry counts from there).
 */
export function startHeartbeat(
  lock: JobLock,
  lease: { jobName: string; executionId: string; ttlMs: number; heldSince: Date },
  clock: Clock,
  logger: Logger,
  onCancel: () => void = () => undefined,
): Heartbeat {
  let cancelled = false;
  let stopped = false;
  let timer: number | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let expiresAt = lease.heldSince.getTime() + lease.ttlMs;
  const beat = () => {
    const now = clock.now();
    inFlight = lock.renew(lease.jobName, lease.executionId, now, lease.ttlMs).then(
      (renewal) => {
        if (renewal === "cancel_requested" && !cancelled) {
          cancelled = true;
          logger.warn("job.cancel_requested", {});
          onCancel();
        }
        if (renewal !== "lost") {
          // The database counts the new expiry from the `now` it was given.
          expiresAt = Math.max(expiresAt, now.getTime() + lease.ttlMs);
          return schedule();
        }
        // A renewal that crossed the run's own release is not a lost lease.
        if (stopped) return;
        stopped = true;
        logger.error("job.lease_lost", {});
      },
      (error) => {
        logger.warn("job.heartbeat_failed", {
          error: error instanceof Error ? error.message : String(error),
        });
        schedule();
      },
    );
  };
  const schedule = () => {
    if (!stopped) timer = setTimeout(beat, Math.max(1, Math.floor(lease.ttlMs / 3)));
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
    expiresAt: () => new Date(expiresAt),
  };
}
