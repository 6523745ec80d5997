import type { CertificationStatus } from "../../domain/certification_status.ts";

/** One record the portal did not take, and whether trying again later may help. */
export interface PortalRejection {
  readonly certificationId: string;
  /** The portal's HTTP status, or null when no answer came (network error, timeout). */
  readonly status: number | null;
  /** A short reason fit for the execution log: status and error codes, never data or keys. */
  readonly reason: string;
  /** The portal's own error text with values masked; empty when it gave none. */
  readonly detail: string;
  /** True for failures that may pass on their own (throttling, server errors); false for a refused record. */
  readonly retryable: boolean;
}

/** What the portal did with the records; records in neither list were not tried. */
export interface PortalPushResult {
  readonly accepted: ReadonlySet<string>;
  readonly rejected: readonly PortalRejection[];
}

/**
 * The two ways a push is cut short. `signal` is the run's own (hard) signal:
 * it aborts requests in flight. `waitSignal` ends the waits between requests
 * (Retry-After pacing, retry backoff) and keeps new requests from starting,
 * but never aborts a request already sent: its answer (tens of milliseconds
 * away) decides whether the records count as sent, and dropping it makes the
 * next part send them again. A job passes its pacer's soft stop here.
 */
export interface PortalPushSignals {
  readonly signal: AbortSignal;
  readonly waitSignal: AbortSignal;
}

/**
 * An organisation's portal (HLF's is Dynamics/Dataverse), told about changes
 * to its peer mentors' certifications.
 */
export interface CertificationPortal {
  /** False for the stand-in used while the sync is switched off: it sends nothing. */
  readonly enabled: boolean;
  /**
   * How many records the portal keeps in flight at most, over every push under
   * way; a caller with more to send pushes that much at once so none of its
   * request slots waits for the next page.
   */
  readonly recordsInFlight: number;
  /**
   * Creates or updates each record in the portal. A refused record does not
   * stop the others; after a retryable failure no new records are started.
   * Several pushes may be under way at once; together they stay within
   * `recordsInFlight`, the earlier push's requests going first.
   * Throws when nothing can be sent (no access token, wrong target), when
   * `signal` aborts, or when `waitSignal` ends a wait or comes before a request.
   */
  push(
    records: readonly CertificationStatus[],
    signals: PortalPushSignals,
  ): Promise<PortalPushResult>;
}
