import assert from "node:assert/strict";
import { loadConfig } from "../../src/infrastructure/config.ts";

const base = {
  SUPABASE_URL: "http://127.0.0.1:8000",
  SUPABASE_SERVICE_ROLE_KEY: "service-role-key-value",
};

Deno.test("loadConfig() defaults to production, a 120 s budget and no port", () => {
  const config = loadConfig((name) => base[name as keyof typeof base]);
  assert.equal(config.environment, "production");
  assert.equal(config.jobBudgetMs, 120_000);
  assert.equal(config.port, undefined);
});

Deno.test("loadConfig() reads the environment, budget and port", () => {
  const env: Record<string, string> = {
    ...base,
    SCHEDULER_ENVIRONMENT: "staging",
    SCHEDULER_JOB_BUDGET_MS: "30000",
    PORT: "8081",
  };
  const config = loadConfig((name) => env[name]);
  assert.equal(config.environment, "staging");
  assert.equal(config.jobBudgetMs, 30_000);
  assert.equal(config.port, 8081);
});

Deno.test("loadConfig() names missing or invalid variables without echoing values", () => {
  const env: Record<string, string> = {
    SUPABASE_URL: "not a url",
    SCHEDULER_ENVIRONMENT: "prod-typo-secretvalue",
  };
  assert.throws(() => loadConfig((name) => env[name]), (error: Error) => {
    assert.match(error.message, /SUPABASE_URL/);
    assert.match(error.message, /SUPABASE_SERVICE_ROLE_KEY/);
    assert.match(error.message, /SCHEDULER_ENVIRONMENT/);
    assert.doesNotMatch(error.message, /secretvalue|not a url/);
    return true;
  });
});

Deno.test("loadConfig() refuses a lease grace that does not cover the abort grace", () => {
  const env: Record<string, string> = {
    ...base,
    SCHEDULER_LEASE_GRACE_MS: "5000",
    SCHEDULER_ABORT_GRACE_MS: "2000",
  };
  assert.throws(() => loadConfig((name) => env[name]), /SCHEDULER_LEASE_GRACE_MS must be at least/);
});

Deno.test("loadConfig() gives leases a 30 s heartbeat TTL and the final write 10 s of retries by default, and refuses a TTL under 3 s", () => {
  const config = loadConfig((name) => base[name as keyof typeof base]);
  assert.deepEqual([config.leaseTtlMs, config.finalWriteRetryMs], [30_000, 10_000]);
  const env: Record<string, string> = { ...base, SCHEDULER_LEASE_TTL_MS: "2000" };
  assert.throws(() => loadConfig((name) => env[name]), /SCHEDULER_LEASE_TTL_MS/);
});

Deno.test("loadConfig() takes the default key of SUPABASE_SECRET_KEYS over the legacy key", () => {
  const env: Record<string, string> = {
    ...base,
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: "sb_secret_new", other: "sb_secret_x" }),
  };
  assert.equal(loadConfig((name) => env[name]).serviceRoleKey, "sb_secret_new");
});

Deno.test("loadConfig() works with SUPABASE_SECRET_KEYS alone (no legacy key)", () => {
  const env: Record<string, string> = {
    SUPABASE_URL: base.SUPABASE_URL,
    SUPABASE_SECRET_KEYS: '{"default":"sb_secret_only"}',
  };
  assert.equal(loadConfig((name) => env[name]).serviceRoleKey, "sb_secret_only");
});

Deno.test("loadConfig() falls back to SUPABASE_SERVICE_ROLE_KEY when SUPABASE_SECRET_KEYS is unset or blank", () => {
  for (const keys of [undefined, "", "  "]) {
    const env: Record<string, string | undefined> = { ...base, SUPABASE_SECRET_KEYS: keys };
    assert.equal(loadConfig((name) => env[name]).serviceRoleKey, "service-role-key-value");
  }
});

for (
  const bad of [
    "not json sb_secret_leak",
    "[]",
    '"sb_secret_leak"',
    '{"other":"sb_secret_leak"}',
    '{"default":""}',
    '{"default":42}',
  ]
) {
  Deno.test(`loadConfig() refuses SUPABASE_SECRET_KEYS ${bad} without echoing it`, () => {
    const env: Record<string, string> = { ...base, SUPABASE_SECRET_KEYS: bad };
    assert.throws(() => loadConfig((name) => env[name]), (error: Error) => {
      assert.match(error.message, /SUPABASE_SECRET_KEYS/);
      assert.doesNotMatch(error.message, /leak|SERVICE_ROLE/);
      return true;
    });
  });
}

Deno.test("loadConfig() names both key variables when neither is set, with other bad variables", () => {
  const env: Record<string, string> = { SUPABASE_URL: "nope" };
  assert.throws(() => loadConfig((name) => env[name]), (error: Error) => {
    assert.match(error.message, /SUPABASE_URL/);
    assert.match(error.message, /SUPABASE_SECRET_KEYS, SUPABASE_SERVICE_ROLE_KEY/);
    return true;
  });
});
