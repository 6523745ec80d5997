import type { SupabaseClient } from "@supabase/supabase-js";
import type { RetentionStore, RetentionTarget } from "../../application/ports/retention_store.ts";
import { InfrastructureError } from "../../domain/errors.ts";
import { infrastructureError } from "./postgrest_error.ts";

/** Retention through `scheduler_retention_targets()` and `scheduler_purge_batch()` (one transaction per batch). */
export class SupabaseRetentionStore implements RetentionStore {
  readonly #client: SupabaseClient;

  constructor(client: SupabaseClient) {
    this.#client = client;
  }

  async targets(): Promise<RetentionTarget[]> {
    const { data, error } = await this.#client.rpc("scheduler_retention_targets");
    if (error) throw infrastructureError("read the retention policy", error);
    const rows = (data ?? []) as { target: string; keep_days: number }[];
    return rows.map((row) => ({ target: row.target, keepDays: row.keep_days }));
  }

  async purgeBatch(target: string, now: Date, limit: number): Promise<number> {
    const operation = `purge a batch of ${limit} rows of '${target}' as of '${now.toISOString()}'`;
    const { data, error } = await this.#client.rpc("scheduler_purge_batch", {
      p_target: target,
      p_now: now.toISOString(),
      p_batch_size: limit,
    });
    if (error) throw infrastructureError(operation, error);
    if (typeof data !== "number") throw new InfrastructureError(`Cannot ${operation}: no answer`);
    return data;
  }
}
