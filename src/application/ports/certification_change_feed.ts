import type { CertificationStatus } from "../../domain/certification_status.ts";

/** An opaque position in the change feed; only the feed that issued it reads it. */
export type ChangeCursor = string;

/** One changed certification and the feed position just past it. */
export interface CertificationChange {
  readonly cursor: ChangeCursor;
  readonly status: CertificationStatus;
  /** Whether a sync's quarantine held the certification when it was read (so accepting it releases it). */
  readonly quarantined: boolean;
}

/** Certification changes in a stable order, and a named cursor per consumer that only moves forward. */
export interface CertificationChangeFeed {
  /** Where the named sync stands; null before its first advance (start of the feed). */
  position(syncName: string): Promise<ChangeCursor | null>;
  /** Up to `limit` changes to certifications of the organisation, in feed order, after `after`. */
  read(
    organisationCode: string,
    after: ChangeCursor | null,
    limit: number,
  ): Promise<CertificationChange[]>;
  /** Moves the named sync's cursor to `to`; a cursor never moves backwards. */
  advance(syncName: string, to: ChangeCursor, now: Date): Promise<void>;
}
