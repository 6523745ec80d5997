import type { CertificationStatus } from "../../domain/certification_status.ts";

/** One record the portal would not take, and whether trying again later may help. */
export interface PortalRejection {
  readonly certificationId: string;
  /** A short reason fit for the execution log: status codes and error codes, never data or keys. */
  readonly reason: string;
  readonly retryable: boolean;
}

/** What the portal did with a batch; records in neither list were not tried. */
export interface PortalUpsertResult {
  readonly accepted: ReadonlySet<string>;
  readonly rejected: readonly PortalRejection[];
}

/** A member organisation's Dynamics portal, told about peer mentors' certification statuses. */
export interface DynamicsPortalClient {
  /** False for the stand-in used while the sync is switched off: it sends nothing. */
  readonly enabled: boolean;
  /**
   * Creates or updates each record in the portal. Stops starting new records
   * after the first rejection; throws when nothing can be sent (no access
   * token) or when `signal` aborts.
   */
  upsertStatuses(
    records: readonly CertificationStatus[],
    signal: AbortSignal,
  ): Promise<PortalUpsertResult>;
}
