import type { SupabaseClient } from "@supabase/supabase-js";
import type { ExecutionLogRepository } from "../../application/ports/execution_log_repository.ts";
import type { ExecutionRecord } from "../../domain/execution_record.ts";
import { infrastructureError } from "./postgrest_error.ts";

/** The execution log in `public.scheduler_execution_log`, written through PostgREST. */
export class SupabaseExecutionLogRepository implements ExecutionLogRepository {
  readonly #client: SupabaseClient;

  constructor(client: SupabaseClient) {
    this.#client = client;
  }

  async save(record: ExecutionRecord): Promise<void> {
    const { error } = await this.#client
      .from("scheduler_execution_log")
      .upsert(toRow(record), { onConflict: "id", ignoreDuplicates: false });
    if (error) {
      throw infrastructureError(
        `record execution '${record.executionId}' of '${record.jobName}'`,
        error,
      );
    }
  }
}

function toRow(record: ExecutionRecord) {
  return {
    id: record.executionId,
    job_name: record.jobName,
    trigger: record.trigger,
    status: record.status,
    started_at: record.startedAt.toISOString(),
    finished_at: record.finishedAt?.toISOString() ?? null,
    error_message: record.errorMessage,
    summary: record.summary,
  };
}
