/**
 * How every request to the Dynamics side (token and upserts alike) retries:
 * transient failures with exponential backoff up to `maxAttempts` sends, and
 * throttling (429) as pacing for as long as each `Retry-After` stays under its cap.
 */
export interface RetryPolicy {
  /** Sends per request for transient failures, not counting throttled sends or a token refresh. */
  readonly maxAttempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
  /** The longest `Retry-After` honoured; a longer one fails the request rather than overrun the run. */
  readonly maxRetryAfterMs: number;
  /** Throttled sends per request before giving up, so a portal that never lets go cannot hold a run. */
  readonly maxThrottledSends: number;
}

/** The policy the function uses; tests pass their own with shorter pauses. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseMs: 500,
  maxMs: 8_000,
  // Dataverse's request-count penalty can last the rest of its 5-minute window; the
  // job's soft stop ends a part whose wait runs past its time, and the next part waits on.
  maxRetryAfterMs: 300_000,
  maxThrottledSends: 20,
};

/** Exponential backoff for attempt 1, 2, 3...: base, 2x base, 4x base, never above max. */
export function backoffMs(attempt: number, policy: Pick<RetryPolicy, "baseMs" | "maxMs">): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
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
