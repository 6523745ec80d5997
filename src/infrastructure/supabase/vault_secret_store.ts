import type { SupabaseClient } from "@supabase/supabase-js";
import type { SecretStore } from "../../application/ports/secret_store.ts";
import type { Clock } from "../../domain/clock.ts";
import { SecretNotConfiguredError } from "../../domain/errors.ts";
import { infrastructureError } from "./postgrest_error.ts";

/** The Vault entry that holds the shared secret pg_cron's caller presents. */
export const SCHEDULER_SECRET_NAME = "nightly_scheduler_secret";

/** At most one fresh read per this long: wrong secrets must not turn into a Vault read each. */
export const MIN_FRESH_READ_INTERVAL_MS = 1_000;

/**
 * Reads the shared secret from Supabase Vault through `scheduler_current_secret()`,
 * which only `service_role` may execute. Caches it briefly; AuthorizeCaller asks
 * for a fresh read on a mismatch, so `vault.update_secret` takes effect at once
 * (within a second), while a flood of wrong secrets costs one read a second.
 */
export class VaultSecretStore implements SecretStore {
  readonly #client: SupabaseClient;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  #cached: { value: string; readAt: number } | null = null;
  #inflight: Promise<string> | null = null;

  constructor(client: SupabaseClient, clock: Clock, ttlMs = 10_000) {
    this.#client = client;
    this.#clock = clock;
    this.#ttlMs = ttlMs;
  }

  async current(options?: { fresh?: boolean }): Promise<string> {
    const now = this.#clock.now().getTime();
    const age = this.#cached ? now - this.#cached.readAt : Infinity;
    if (age < (options?.fresh ? MIN_FRESH_READ_INTERVAL_MS : this.#ttlMs)) {
      return this.#cached!.value;
    }
    // Concurrent requests after a rotation share one Vault read.
    this.#inflight ??= this.#read().finally(() => (this.#inflight = null));
    return await this.#inflight;
  }

  async #read(): Promise<string> {
    const { data, error } = await this.#client.rpc("scheduler_current_secret");
    if (error) throw infrastructureError("read the scheduler secret from Vault", error);
    if (typeof data !== "string" || data === "") {
      throw new SecretNotConfiguredError(SCHEDULER_SECRET_NAME);
    }
    this.#cached = { value: data, readAt: this.#clock.now().getTime() };
    return data;
  }
}
