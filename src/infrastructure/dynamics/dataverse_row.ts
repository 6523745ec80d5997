import type { CertificationStatus } from "../../domain/certification_status.ts";

/**
 * The columns of HLF's portal table. Only what the portal needs to show a
 * mentor's standing: ids and dates, no names or contact details.
 */
export function dataverseRow(record: CertificationStatus): Record<string, string | null> {
  return {
    hlf_peermentorid: record.peerMentorId,
    hlf_certificationtype: record.certificationType,
    hlf_status: record.state,
    hlf_issuedon: record.issuedAt.toISOString(),
    hlf_expireson: record.expiresAt.toISOString(),
    hlf_expiredon: record.expiredAt?.toISOString() ?? null,
  };
}

/** `<api>/<set>(<key>='<value>')`: the record addressed by its alternate key, quotes doubled as OData asks. */
export function upsertUrl(
  target: { apiUrl: string; entitySet: string; alternateKey: string },
  keyValue: string,
): string {
  const literal = encodeURIComponent(keyValue.replaceAll("'", "''"));
  return `${target.apiUrl}${target.entitySet}(${target.alternateKey}='${literal}')`;
}

/** `<api>/<set>/Microsoft.Dynamics.CRM.UpsertMultiple`: the bulk upsert action bound to the table. */
export function upsertMultipleUrl(target: { apiUrl: string; entitySet: string }): string {
  return `${target.apiUrl}${target.entitySet}/Microsoft.Dynamics.CRM.UpsertMultiple`;
}
