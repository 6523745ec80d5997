/** A pause that ends early (rejecting with the abort reason) when the signal aborts. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** The real timer-based sleep; tests inject one that records and returns at once. */
export const timerSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

/** How long the retry policy waits between attempts. */
export interface BackoffSettings {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Exponential backoff for attempt 1, 2, 3...: base, 2x base, 4x base, never above max. */
export function backoffMs(attempt: number, settings: BackoffSettings): number {
  return Math.min(settings.maxMs, settings.baseMs * 2 ** Math.max(0, attempt - 1));
}

/** `Retry-After` in milliseconds (seconds or an HTTP date), or null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: Date): number | null {
  if (header === null || header.trim() === "") return null;
  const value = header.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}

/** Whether a status is worth retrying with backoff: server errors and request timeouts. */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 408;
}
