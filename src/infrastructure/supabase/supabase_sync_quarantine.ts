import type { SupabaseClient } from "@supabase/supabase-js";
import type {
  QuarantineEntry,
  QuarantineOwner,
  SyncQuarantine,
} from "../../application/ports/sync_quarantine.ts";
import type { CertificationStatus } from "../../domain/certification_status.ts";
import {
  certificationStatusFromRow,
  type CertificationStatusRow,
} from "./certification_status_row.ts";
import { infrastructureError } from "./postgrest_error.ts";

/** The quarantine of migration 20261128000401, through its three functions. */
export class SupabaseSyncQuarantine implements SyncQuarantine {
  readonly #client: SupabaseClient;

  constructor(client: SupabaseClient) {
    this.#client = client;
  }

  async hold(
    owner: QuarantineOwner,
    entries: readonly QuarantineEntry[],
    now: Date,
  ): Promise<void> {
    if (entries.length === 0) return;
    const { error } = await this.#client.rpc("scheduler_sync_quarantine_hold", {
      p_sync_name: owner.syncName,
      p_job_name: owner.jobName,
      p_entries: entries.map((e) => ({
        certification_id: e.certificationId,
        portal_status: e.portalStatus,
        error_message: e.errorMessage,
      })),
      p_now: now.toISOString(),
    });
    if (error) throw infrastructureError(`quarantine records of sync '${owner.syncName}'`, error);
  }

  async due(syncName: string, now: Date, limit: number): Promise<CertificationStatus[]> {
    const { data, error } = await this.#client.rpc("scheduler_sync_quarantine_due", {
      p_sync_name: syncName,
      p_now: now.toISOString(),
      p_limit: limit,
    });
    if (error) throw infrastructureError(`read the quarantine of sync '${syncName}'`, error);
    return ((data ?? []) as CertificationStatusRow[]).map(certificationStatusFromRow);
  }

  async release(syncName: string, certificationIds: readonly string[]): Promise<number> {
    if (certificationIds.length === 0) return 0;
    const { data, error } = await this.#client.rpc("scheduler_sync_quarantine_release", {
      p_sync_name: syncName,
      p_certification_ids: certificationIds,
    });
    if (error) throw infrastructureError(`release quarantined records of '${syncName}'`, error);
    return data as number;
  }
}
