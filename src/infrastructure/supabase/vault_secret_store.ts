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
  /** The last answer; `value: null` means Vault had no secret, remembered as briefly as a fresh read. */
  #cached: { value: string | null; readAt: number } | null = null;
  #inflight: Promise<string | null> | null = null;

  constructor(client: SupabaseClient, clock: Clock, ttlMs = 10_000) {
    this.#client = client;
    this.#clock = clock;
    this.#ttlMs = ttlMs;
  }

  async current(options?: { fresh?: boolean }): Promise<string> {
    const now = this.#clock.now().getTime();
    const cached = this.#cached;
    const maxAge = options?.fresh || cached?.value === null
      ? MIN_FRESH_READ_INTERVAL_MS
      : this.#ttlMs;
    const value = cached && now - cached.readAt < maxAge
      ? cached.value
      // Concurrent requests after a rotation share one Vault read.
      : await (this.#inflight ??= this.#read().finally(() => (this.#inflight = null)));
    if (value === null) throw new SecretNotConfiguredError(SCHEDULER_SECRET_NAME);
    return value;
  }

  async #read(): Promise<string | null> {
    const { data, error } = await this.#client.rpc("scheduler_current_secret");
    if (error) throw infrastructureError("read the scheduler secret from Vault", error);
    const value = typeof data === "string" && data !== "" ? data : null;
    this.#cached = { value, readAt: this.#clock.now().getTime() };
    return value;
  }
}
