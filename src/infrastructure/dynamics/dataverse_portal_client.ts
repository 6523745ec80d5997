import type {
  DynamicsPortalClient,
  PortalRejection,
  PortalUpsertResult,
} from "../../application/ports/dynamics_portal_client.ts";
import type { CertificationStatus } from "../../domain/certification_status.ts";
import type { AccessTokenSource } from "./access_token_source.ts";
import type { HttpDependencies } from "./client_credentials_token_provider.ts";
import { backoffMs, type BackoffSettings, isTransientStatus, retryAfterMs } from "./http_retry.ts";
import { dataverseRow, upsertUrl } from "./dataverse_row.ts";

/** Where the entity set lives and how hard to push. */
export interface DataverseSettings {
  /** The Web API root, ending in `/`: `https://<org>.crm.dynamics.com/api/data/v9.2/`. */
  readonly apiUrl: string;
  readonly entitySet: string;
  readonly alternateKey: string;
  readonly concurrency: number;
  /** Sends per record, not counting the one resend after a token refresh. */
  readonly maxAttempts: number;
  /** The longest `Retry-After` honoured; a longer one fails the record rather than overrun the run. */
  readonly maxRetryAfterMs: number;
  readonly requestTimeoutMs: number;
  readonly backoff: BackoffSettings;
}

/**
 * Upserts certification statuses into a Dataverse entity set by alternate key
 * (`PATCH <set>(<key>='<id>')` without `If-Match`, so Dataverse creates or
 * updates). A 429 pauses every worker for its `Retry-After`, because Dataverse
 * lengthens the penalty for a client that keeps sending while throttled.
 */
export class DataversePortalClient implements DynamicsPortalClient {
  readonly enabled = true;
  readonly #settings: DataverseSettings;
  readonly #tokens: AccessTokenSource;
  readonly #deps: HttpDependencies;
  #resumeAt = 0;

  constructor(settings: DataverseSettings, tokens: AccessTokenSource, deps: HttpDependencies) {
    this.#settings = settings;
    this.#tokens = tokens;
    this.#deps = deps;
  }

  async upsertStatuses(
    records: readonly CertificationStatus[],
    signal: AbortSignal,
  ): Promise<PortalUpsertResult> {
    const accepted = new Set<string>();
    const rejected: PortalRejection[] = [];
    let next = 0;
    let failure: { error: unknown } | null = null;
    const worker = async () => {
      while (next < records.length && rejected.length === 0 && failure === null) {
        const record = records[next++];
        try {
          const outcome = await this.#upsert(record, signal);
          if (outcome === null) accepted.add(record.certificationId);
          else rejected.push(outcome);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    const workers = Math.max(1, Math.min(this.#settings.concurrency, records.length));
    await Promise.all(Array.from({ length: workers }, worker));
    if (failure !== null) throw (failure as { error: unknown }).error;
    return { accepted, rejected };
  }

  /** Null when the portal took the record; a rejection when it would not. Throws on abort. */
  async #upsert(record: CertificationStatus, signal: AbortSignal): Promise<PortalRejection | null> {
    const { maxAttempts, maxRetryAfterMs, backoff, requestTimeoutMs } = this.#settings;
    const url = upsertUrl(this.#settings, record.certificationId);
    const body = JSON.stringify(dataverseRow(record));
    const reject = (reason: string, retryable: boolean) => ({
      certificationId: record.certificationId,
      reason,
      retryable,
    });
    let refreshed = false;
    let last = "";
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      await this.#waitWhileThrottled(signal);
      const token = await this.#tokens.token(signal);
      let response: Response;
      try {
        response = await this.#deps.fetch(url, {
          method: "PATCH",
          headers: headers(token),
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeoutMs)]),
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        last = `the request failed (${error instanceof Error ? error.name : "error"})`;
        await this.#deps.sleep(backoffMs(attempt, backoff), signal);
        continue;
      }
      const code = await dataverseErrorCode(response);
      if (response.ok) return null;
      last = `HTTP ${response.status}${code}`;
      if (response.status === 401 && !refreshed) {
        // An expired or revoked token: fetch a new one once, and resend without counting it.
        this.#tokens.invalidate(token);
        refreshed = true;
        attempt--;
        continue;
      }
      if (response.status === 429) {
        const waitMs = retryAfterMs(response.headers.get("retry-after"), this.#deps.clock.now()) ??
          backoffMs(attempt, backoff);
        if (waitMs > maxRetryAfterMs) {
          return reject(`${last}, asked to wait ${waitMs} ms (cap ${maxRetryAfterMs} ms)`, true);
        }
        this.#resumeAt = Math.max(this.#resumeAt, this.#deps.clock.now().getTime() + waitMs);
        continue;
      }
      if (isTransientStatus(response.status)) {
        if (attempt < maxAttempts) await this.#deps.sleep(backoffMs(attempt, backoff), signal);
        continue;
      }
      return reject(last, false);
    }
    return reject(`${last} after ${maxAttempts} attempts`, true);
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

/** Dataverse's `error.code` (for example `0x80040203`), never its message, which may echo data. */
async function dataverseErrorCode(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  if (response.ok || text === "") return "";
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } })?.error?.code;
    return typeof code === "string" && /^[\w.-]{1,40}$/.test(code) ? ` ('${code}')` : "";
  } catch {
    return "";
  }
}
