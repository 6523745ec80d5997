import type { CertificationStatus } from "../../domain/certification_status.ts";

/** One record the portal refused for good, as the quarantine keeps it. */
export interface QuarantineEntry {
  readonly certificationId: string;
  readonly portalStatus: number | null;
  /** The reason and the portal's masked error text: never record data or keys. */
  readonly errorMessage: string;
}

/** Which sync holds the records, and which job's attempt limit applies to them. */
export interface QuarantineOwner {
  readonly syncName: string;
  readonly jobName: string;
}

/**
 * Records a sync moved past because the portal refused them, kept for later
 * nights and for a person once their attempts are spent.
 */
export interface SyncQuarantine {
  /** Holds the entries, or counts one more refusal for those already held. */
  hold(owner: QuarantineOwner, entries: readonly QuarantineEntry[], now: Date): Promise<void>;
  /** Up to `limit` held records due another try tonight, as the certifications now stand. */
  due(syncName: string, now: Date, limit: number): Promise<CertificationStatus[]>;
  /** Lets the accepted records out; returns how many were held. */
  release(syncName: string, certificationIds: readonly string[]): Promise<number>;
}
