import type { SupabaseClient } from "@supabase/supabase-js";
import type {
  CertificationChange,
  CertificationChangeFeed,
  ChangeCursor,
} from "../../application/ports/certification_change_feed.ts";
import { InfrastructureError } from "../../domain/errors.ts";
import {
  certificationStatusFromRow,
  type CertificationStatusRow,
} from "./certification_status_row.ts";
import { infrastructureError } from "./postgrest_error.ts";

interface ChangeRow extends CertificationStatusRow {
  change_xid: string;
  quarantined: boolean;
}

/**
 * The certification change feed of migration 20261127000700: rows stamped with
 * their writer's transaction id, read in (change_xid, id) order below the
 * reader's snapshot horizon. The cursor travels as `<change_xid>:<id>`.
 */
export class SupabaseCertificationChangeFeed implements CertificationChangeFeed {
  readonly #client: SupabaseClient;

  constructor(client: SupabaseClient) {
    this.#client = client;
  }

  async position(syncName: string): Promise<ChangeCursor | null> {
    const { data, error } = await this.#client
      .rpc("scheduler_sync_cursor_position", { p_sync_name: syncName })
      .maybeSingle<{ change_xid: string; certification_id: string }>();
    if (error) throw infrastructureError(`read the cursor of sync '${syncName}'`, error);
    return data === null ? null : `${data.change_xid}:${data.certification_id}`;
  }

  async read(
    organisationCode: string,
    after: ChangeCursor | null,
    limit: number,
  ): Promise<CertificationChange[]> {
    const from = after === null ? null : parseCursor(after);
    const { data, error } = await this.#client.rpc("scheduler_certification_changes", {
      p_organisation_code: organisationCode,
      p_after_change_xid: from?.changeXid ?? null,
      p_after_certification_id: from?.certificationId ?? null,
      p_limit: limit,
    });
    if (error) {
      throw infrastructureError(`read certification changes of '${organisationCode}'`, error);
    }
    return ((data ?? []) as ChangeRow[]).map(toChange);
  }

  async advance(syncName: string, to: ChangeCursor, now: Date): Promise<void> {
    const { changeXid, certificationId } = parseCursor(to);
    const { error } = await this.#client.rpc("scheduler_sync_cursor_advance", {
      p_sync_name: syncName,
      p_change_xid: changeXid,
      p_certification_id: certificationId,
      p_now: now.toISOString(),
    });
    if (error) {
      throw infrastructureError(`advance the cursor of sync '${syncName}' to '${to}'`, error);
    }
  }
}

function parseCursor(cursor: ChangeCursor): { changeXid: string; certificationId: string } {
  const match = /^(\d{1,20}):([0-9a-f-]{36})$/i.exec(cursor);
  if (!match) throw new InfrastructureError(`Cannot read change cursor '${cursor}'`);
  return { changeXid: match[1], certificationId: match[2] };
}

function toChange(row: ChangeRow): CertificationChange {
  return {
    cursor: `${row.change_xid}:${row.certification_id}`,
    status: certificationStatusFromRow(row),
    quarantined: row.quarantined,
  };
}
