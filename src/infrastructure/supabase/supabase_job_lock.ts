import type { SupabaseClient } from "@supabase/supabase-js";
import type {
  JobLock,
  LeaseRenewal,
  StartOutcome,
  StartRequest,
} from "../../application/ports/job_lock.ts";
import { InfrastructureError } from "../../domain/errors.ts";
import type { ExecutionRecord, Trigger } from "../../domain/execution_record.ts";
import { infrastructureError } from "./postgrest_error.ts";

interface StartRow {
  status: "running" | "skipped" | "duplicate" | "failed" | "refused";
  trigger: Trigger;
  slot: string | null;
  attempt: number | null;
  started_at: string;
  held_by: string | null;
  budget_ms: number | null;
}

/**
 * The execution log and the per-job lease in `scheduler_execution_log` and
 * `scheduler_job_lease`, through three RPCs: `scheduler_start_run` (dispatch
 * check + lease + row), `scheduler_heartbeat`, `scheduler_finish_run` (row +
 * release). A lease row per job is safe on PostgREST's pooled connections,
 * unlike an advisory lock, and a dead isolate's lease lapses by itself.
 */
export class SupabaseJobLock implements JobLock {
  readonly #client: SupabaseClient;

  constructor(client: SupabaseClient) {
    this.#client = client;
  }

  async start(request: StartRequest): Promise<StartOutcome> {
    const { data, error } = await this.#client.rpc("scheduler_start_run", {
      p_execution_id: request.executionId,
      p_job_name: request.jobName,
      p_dispatch_id: request.dispatchId,
      p_now: request.now.toISOString(),
      p_lease_ttl_ms: request.leaseTtlMs,
      p_allow_manual: request.allowManual,
      p_unknown_job_message: request.unknownJobMessage ?? null,
    }).single<StartRow>();
    if (error) throw infrastructureError(`start a run of job '${request.jobName}'`, error);
    if (data === null) {
      throw new InfrastructureError(`Cannot start a run of job '${request.jobName}': no answer`);
    }
    if (data.status === "refused") return { status: "refused" };
    return {
      status: data.status,
      trigger: data.trigger,
      slot: data.slot,
      attempt: data.attempt,
      startedAt: new Date(data.started_at),
      heldBy: data.held_by,
      budgetMs: data.budget_ms,
    };
  }

  async renew(
    jobName: string,
    executionId: string,
    now: Date,
    ttlMs: number,
  ): Promise<LeaseRenewal> {
    const { data, error } = await this.#client.rpc("scheduler_heartbeat", {
      p_execution_id: executionId,
      p_job_name: jobName,
      p_now: now.toISOString(),
      p_lease_ttl_ms: ttlMs,
    });
    if (error) throw infrastructureError(`renew the lease on job '${jobName}'`, error);
    return data === "held" || data === "cancel_requested" ? data : "lost";
  }

  async finish(record: ExecutionRecord, options: { keepLease?: boolean } = {}): Promise<void> {
    if (record.finishedAt === null || record.status === "running") {
      throw new InfrastructureError(`Cannot finish execution '${record.executionId}': it is open`);
    }
    const { error } = await this.#client.rpc("scheduler_finish_run", {
      p_execution_id: record.executionId,
      p_job_name: record.jobName,
      p_status: record.status,
      p_finished_at: record.finishedAt.toISOString(),
      p_error_message: record.errorMessage,
      p_summary: record.summary,
      p_keep_lease: options.keepLease ?? false,
      p_cost: record.cost
        ? {
          cpu_ms: record.cost.cpuMs,
          peak_rss_mb: record.cost.peakRssMb,
          stop_reason: record.cost.stopReason,
        }
        : null,
    });
    if (error) {
      throw infrastructureError(
        `record the end of execution '${record.executionId}' of '${record.jobName}'`,
        error,
      );
    }
  }
}
