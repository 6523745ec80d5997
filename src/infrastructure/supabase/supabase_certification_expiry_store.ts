import type { SupabaseClient } from "@supabase/supabase-js";
import type {
  CertificationExpiryStore,
  ExpireBatchResult,
  ExpiryCursor,
  NoticeCursor,
  QueueNoticesResult,
} from "../../application/ports/certification_expiry_store.ts";
import { InfrastructureError } from "../../domain/errors.ts";
import { infrastructureError } from "./postgrest_error.ts";

interface ExpireRow {
  expired: number;
  more: boolean;
  last_ctid: string | null;
}

interface NoticeRow {
  queued: number;
  more: boolean;
  last_expires_at: string | null;
  last_id: string | null;
}

/**
 * Certifications through `certification_expire_batch()` and
 * `certification_queue_expiry_notices_batch()`: one RPC, so one transaction, per batch.
 */
export class SupabaseCertificationExpiryStore implements CertificationExpiryStore {
  readonly #client: SupabaseClient;

  constructor(client: SupabaseClient) {
    this.#client = client;
  }

  async expireBatch(
    now: Date,
    limit: number,
    after: ExpiryCursor | null,
  ): Promise<ExpireBatchResult> {
    const operation = `expire a batch of ${limit} certifications as of '${now.toISOString()}'`;
    const { data, error } = await this.#client.rpc("certification_expire_batch", {
      p_now: now.toISOString(),
      p_batch_size: limit,
      p_after: after,
    }).single<ExpireRow>();
    if (error) throw infrastructureError(operation, error);
    if (data === null) throw new InfrastructureError(`Cannot ${operation}: no answer`);
    // The cursor is the batch's last row address ('(block,offset)'), as PostgreSQL wrote it.
    const next = data.more && data.last_ctid !== null ? data.last_ctid as ExpiryCursor : null;
    return { expired: data.expired, next };
  }

  async queueNoticesBatch(
    now: Date,
    windowDays: number,
    limit: number,
    after: NoticeCursor | null,
  ): Promise<QueueNoticesResult> {
    const operation = `queue ${windowDays}-day expiry notices as of '${now.toISOString()}'`;
    const key = after === null ? null : decode(after);
    const { data, error } = await this.#client.rpc("certification_queue_expiry_notices_batch", {
      p_now: now.toISOString(),
      p_window_days: windowDays,
      p_batch_size: limit,
      p_after_expires_at: key?.expiresAt ?? null,
      p_after_id: key?.id ?? null,
    }).single<NoticeRow>();
    if (error) throw infrastructureError(operation, error);
    if (data === null) throw new InfrastructureError(`Cannot ${operation}: no answer`);
    const next = data.more && data.last_expires_at !== null && data.last_id !== null
      ? encode(data.last_expires_at, data.last_id)
      : null;
    return { queued: data.queued, next };
  }
}

// The timestamp stays the text PostgREST sent: a JS Date would drop the
// microseconds, and the next batch would then start before its true key.
function encode(expiresAt: string, id: string): NoticeCursor {
  return JSON.stringify([expiresAt, id]) as NoticeCursor;
}

function decode(cursor: NoticeCursor): { expiresAt: string; id: string } {
  const [expiresAt, id] = JSON.parse(cursor) as [string, string];
  return { expiresAt, id };
}
