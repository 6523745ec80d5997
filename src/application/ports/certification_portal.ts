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
 * An organisation's portal (HLF's is Dynamics/Dataverse), told about changes
 * to its peer mentors' certifications.
 */
export interface CertificationPortal {
  /** False for the stand-in used while the sync is switched off: it sends nothing. */
  readonly enabled: boolean;
  /**
   * Creates or updates each record in the portal. A refused record does not
   * stop the others; after a retryable failure no new records are started.
   * Throws when nothing can be sent (no access token, wrong target) or when
   * `signal` aborts.
   */
  push(records: readonly CertificationStatus[], signal: AbortSignal): Promise<PortalPushResult>;
}
