import type { CertificationState, CertificationStatus } from "../../domain/certification_status.ts";

/** A certification's columns as the feed and quarantine functions return them. */
export interface CertificationStatusRow {
  certification_id: string;
  peer_mentor_id: string;
  certification_type: string;
  status: CertificationState;
  issued_at: string;
  expires_at: string;
  expired_at: string | null;
}

/** The row as the domain's certification status. */
export function certificationStatusFromRow(row: CertificationStatusRow): CertificationStatus {
  return {
    certificationId: row.certification_id,
    peerMentorId: row.peer_mentor_id,
    certificationType: row.certification_type,
    state: row.status,
    issuedAt: new Date(row.issued_at),
    expiresAt: new Date(row.expires_at),
    expiredAt: row.expired_at === null ? null : new Date(row.expired_at),
  };
}
