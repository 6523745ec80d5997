import type { Sleep } from "../domain/batch_pacer.ts";
import type { Clock } from "../domain/clock.ts";

// Nothing cancels a final write's backoff: it is bounded by its deadline.
const NEVER = new AbortController().signal;

/**
 * Calls `attempt` until it succeeds, backing off from 100 ms (doubling, at
 * most 2 s between tries) while the next try would still come before
 * `deadline()` (read again after every failure, so it may move); then throws
 * the last error. `onRetry` hears about each failure that will be tried again.
 */
export async function retryUntil<T>(
  attempt: () => Promise<T>,
  deadline: () => Date,
  clock: Clock,
  sleep: Sleep,
  onRetry: (error: unknown, waitMs: number) => void = () => {},
): Promise<T> {
  let delay = 100;
  while (true) {
    try {
      return await attempt();
    } catch (error) {
      if (clock.now().getTime() + delay > deadline().getTime()) throw error;
      onRetry(error, delay);
      await sleep(delay, NEVER);
      delay = Math.min(delay * 2, 2_000);
    }
  }
}
