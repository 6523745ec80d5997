import type { PortalPushSignals } from "../../application/ports/certification_portal.ts";
import type { AccessTokenSource } from "./access_token_source.ts";
import { dataverseError } from "./dataverse_error.ts";
import type { HttpDependencies } from "./http_dependencies.ts";
import { backoffMs, isTransientStatus, retryAfterMs, type RetryPolicy } from "./retry_policy.ts";

/** One Web API request, built afresh for each send. */
export interface DataverseRequest {
  readonly method: "PATCH" | "POST";
  readonly url: string;
  readonly body: string;
}

/** How a request ended after the retry policy was spent. */
export type SendOutcome =
  | { readonly ok: true }
  | {
    readonly ok: false;
    readonly status: number | null;
    readonly reason: string;
    readonly detail: string;
    readonly retryable: boolean;
  };

/**
 * Sends Web API requests with a bearer token under the shared retry policy.
 * A 401 fetches a new token once; a 429 pauses every request of this sender
 * for its `Retry-After` (Dataverse lengthens the penalty for a client that
 * keeps sending while throttled) and is pacing, not a failed attempt.
 * The request itself is bounded by the run's `signal` and the request
 * timeout only; `waitSignal` ends the pauses and stops new sends, so an
 * answer already on its way is never thrown away.
 * Throws only on abort or when no token can be had.
 */
export class DataverseSender {
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #tokens: AccessTokenSource;
  readonly #deps: HttpDependencies;
  #resumeAt = 0;

  constructor(
    timeoutMs: number,
    retry: RetryPolicy,
    tokens: AccessTokenSource,
    deps: HttpDependencies,
  ) {
    this.#timeoutMs = timeoutMs;
    this.#retry = retry;
    this.#tokens = tokens;
    this.#deps = deps;
  }

  /** Sends until the portal answers 2xx, refuses, or the policy is spent. */
  async send(request: DataverseRequest, signals: PortalPushSignals): Promise<SendOutcome> {
    const { signal } = signals;
    // Every pause (and the token, fetched before anything is sent) ends at either signal.
    const waits = AbortSignal.any([signal, signals.waitSignal]);
    const { maxAttempts, maxRetryAfterMs, maxThrottledSends } = this.#retry;
    const fail = (status: number | null, reason: string, retryable: boolean, detail = "") => ({
      ok: false as const,
      status,
      reason,
      detail,
      retryable,
    });
    let refreshed = false;
    let throttled = 0;
    let last: { status: number | null; reason: string; detail: string } = {
      status: null,
      reason: "",
      detail: "",
    };
    for (let attempt = 1; attempt <= maxAttempts;) {
      await this.#waitWhileThrottled(waits);
      const token = await this.#tokens.token(waits);
      let response: Response;
      try {
        response = await this.#deps.fetch(request.url, {
          method: request.method,
          headers: headers(token),
          body: request.body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]),
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const name = error instanceof Error ? error.name : "error";
        last = { status: null, reason: `the request failed (${name})`, detail: "" };
        if (attempt < maxAttempts) await this.#deps.sleep(backoffMs(attempt, this.#retry), waits);
        attempt++;
        continue;
      }
      const error = await dataverseError(response);
      if (response.ok) return { ok: true };
      last = { status: response.status, reason: `HTTP ${response.status}${error.code}`, ...error };
      if (response.status === 401 && !refreshed) {
        // An expired or revoked token: fetch a new one once, and resend without counting it.
        this.#tokens.invalidate(token);
        refreshed = true;
        continue;
      }
      if (response.status === 429) {
        const waitMs = retryAfterMs(response.headers.get("retry-after"), this.#deps.clock.now()) ??
          backoffMs(throttled + 1, this.#retry);
        if (waitMs > maxRetryAfterMs || ++throttled > maxThrottledSends) {
          const why = waitMs > maxRetryAfterMs
            ? `asked to wait ${waitMs} ms (cap ${maxRetryAfterMs} ms)`
            : `still throttled after ${maxThrottledSends} waits`;
          return fail(429, `${last.reason}, ${why}`, true, last.detail);
        }
        this.#resumeAt = Math.max(this.#resumeAt, this.#deps.clock.now().getTime() + waitMs);
        continue;
      }
      if (!isTransientStatus(response.status)) {
        return fail(response.status, last.reason, response.status === 401, last.detail);
      }
      if (attempt < maxAttempts) await this.#deps.sleep(backoffMs(attempt, this.#retry), waits);
      attempt++;
    }
    return fail(last.status, `${last.reason} after ${maxAttempts} attempts`, true, last.detail);
  }

  async #waitWhileThrottled(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const waitMs = this.#resumeAt - this.#deps.clock.now().getTime();
    if (waitMs > 0) await this.#deps.sleep(waitMs, signal);
  }
}

function headers(token: string): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    accept: "application/json",
    "content-type": "application/json; charset=utf-8",
    "odata-version": "4.0",
    "odata-maxversion": "4.0",
  };
}
