import type { SupabaseClient } from "@supabase/supabase-js";
import type { JobLock, Lease, LockOutcome } from "../../application/ports/job_lock.ts";
import { InfrastructureError } from "../../domain/errors.ts";
import { infrastructureError } from "./postgrest_error.ts";

interface AcquireRow {
  acquired: boolean;
  held_by: string;
  held_until: string;
}

/**
 * A lease row per job in `scheduler_job_lease`, taken atomically by
 * `scheduler_acquire_lease()`. Unlike an advisory lock it is safe on PostgREST's
 * pooled connections, and a run whose isolate died lets go when the lease lapses.
 */
export class SupabaseJobLock implements JobLock {
  readonly #client: SupabaseClient;

  constructor(client: SupabaseClient) {
    this.#client = client;
  }

  async acquire(lease: Lease, now: Date): Promise<LockOutcome> {
    const { data, error } = await this.#client.rpc("scheduler_acquire_lease", {
      p_job_name: lease.jobName,
      p_owner: lease.owner,
      p_now: now.toISOString(),
      p_expires_at: lease.expiresAt.toISOString(),
    }).single<AcquireRow>();
    if (error) throw infrastructureError(`take the lease on job '${lease.jobName}'`, error);
    if (data === null) {
      throw new InfrastructureError(`Cannot take the lease on job '${lease.jobName}': no answer`);
    }
    return data.acquired
      ? { acquired: true }
      : { acquired: false, heldBy: data.held_by, heldUntil: new Date(data.held_until) };
  }

  async release(lease: Lease): Promise<void> {
    const { error } = await this.#client.rpc("scheduler_release_lease", {
      p_job_name: lease.jobName,
      p_owner: lease.owner,
    });
    if (error) throw infrastructureError(`release the lease on job '${lease.jobName}'`, error);
  }
}
