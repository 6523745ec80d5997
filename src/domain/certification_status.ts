/** The lifecycle states of a certification, as the certification table stores them. */
export type CertificationState = "active" | "expired" | "revoked";

/** A peer mentor's certification as an organisation's portal needs to know it. */
export interface CertificationStatus {
  readonly certificationId: string;
  readonly peerMentorId: string;
  readonly certificationType: string;
  readonly state: CertificationState;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** When the certification was marked expired; null unless `state` is `expired`. */
  readonly expiredAt: Date | null;
}
