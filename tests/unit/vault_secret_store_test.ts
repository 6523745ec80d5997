import assert from "node:assert/strict";
import type { SupabaseClient } from "@supabase/supabase-js";
import { SecretNotConfiguredError } from "../../src/domain/errors.ts";
import {
  MIN_FRESH_READ_INTERVAL_MS,
  VaultSecretStore,
} from "../../src/infrastructure/supabase/vault_secret_store.ts";
import { ManualClock } from "../support/fakes.ts";

/** A stand-in for supabase-js that answers `rpc('scheduler_current_secret')`. */
function fakeClient(answer: () => { data: unknown; error: unknown }) {
  const calls: string[] = [];
  const client = {
    rpc: (name: string) => {
      calls.push(name);
      return Promise.resolve(answer());
    },
  } as unknown as SupabaseClient;
  return { client, calls };
}

Deno.test("VaultSecretStore caches the secret for its TTL", async () => {
  const { client, calls } = fakeClient(() => ({ data: "s1", error: null }));
  const clock = new ManualClock();
  const store = new VaultSecretStore(client, clock, 10_000);
  assert.equal(await store.current(), "s1");
  clock.advance(9_999);
  assert.equal(await store.current(), "s1");
  assert.equal(calls.length, 1);
  clock.advance(1);
  await store.current();
  assert.equal(calls.length, 2);
});

Deno.test("VaultSecretStore makes at most one fresh read a second, however many mismatches arrive", async () => {
  let secret = "old";
  const { client, calls } = fakeClient(() => ({ data: secret, error: null }));
  const clock = new ManualClock();
  const store = new VaultSecretStore(client, clock, 10_000);
  await store.current();
  secret = "new";
  clock.advance(MIN_FRESH_READ_INTERVAL_MS);
  assert.equal(await store.current({ fresh: true }), "new");
  for (let i = 0; i < 50; i++) await store.current({ fresh: true });
  assert.equal(calls.length, 2, "fifty mismatches within a second cost no Vault read");
  clock.advance(MIN_FRESH_READ_INTERVAL_MS);
  await store.current({ fresh: true });
  assert.equal(calls.length, 3);
});

Deno.test("VaultSecretStore says the secret is not configured when Vault has none", async () => {
  const { client } = fakeClient(() => ({ data: null, error: null }));
  await assert.rejects(
    new VaultSecretStore(client, new ManualClock()).current(),
    SecretNotConfiguredError,
  );
});

Deno.test("VaultSecretStore remembers that Vault has no secret for a second, then reads again", async () => {
  let secret: string | null = null;
  const { client, calls } = fakeClient(() => ({ data: secret, error: null }));
  const clock = new ManualClock();
  const store = new VaultSecretStore(client, clock, 10_000);
  for (let i = 0; i < 600; i++) {
    await assert.rejects(store.current({ fresh: i % 2 === 1 }), SecretNotConfiguredError);
  }
  assert.equal(calls.length, 1, "600 calls within a second cost one Vault read");

  secret = "created";
  clock.advance(MIN_FRESH_READ_INTERVAL_MS - 1);
  await assert.rejects(store.current(), SecretNotConfiguredError);
  clock.advance(1);
  assert.equal(await store.current(), "created");
  assert.equal(calls.length, 2);
});

Deno.test("VaultSecretStore wraps a PostgREST error without the request", async () => {
  const { client } = fakeClient(() => ({
    data: null,
    error: { message: "permission denied for function", code: "42501" },
  }));
  await assert.rejects(
    new VaultSecretStore(client, new ManualClock()).current(),
    /^InfrastructureError: Cannot read the scheduler secret from Vault: permission denied for function \(42501\)$/,
  );
});
