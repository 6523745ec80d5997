/** Waits `ms` milliseconds; injected so tests need not wait. */
export type Sleep = (ms: number) => Promise<void>;

/**
 * Calls `attempt` until it succeeds, backing off from 100 ms (doubling, at
 * most 2 s between tries) for at most `windowMs` in all; then throws the last
 * error. `onRetry` hears about each failure that will be tried again.
 */
export async function retryWithin<T>(
  attempt: () => Promise<T>,
  windowMs: number,
  sleep: Sleep,
  onRetry: (error: unknown, waitMs: number) => void = () => {},
): Promise<T> {
  let waited = 0;
  let delay = 100;
  while (true) {
    try {
      return await attempt();
    } catch (error) {
      if (waited + delay > windowMs) throw error;
      onRetry(error, delay);
      await sleep(delay);
      waited += delay;
      delay = Math.min(delay * 2, 2_000);
    }
  }
}
