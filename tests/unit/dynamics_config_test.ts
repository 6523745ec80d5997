import assert from "node:assert/strict";
import { DisabledPortalClient } from "../../src/infrastructure/dynamics/disabled_portal_client.ts";
import { createDynamicsPortalClient } from "../../src/infrastructure/dynamics/create_dynamics_portal_client.ts";
import { DataversePortalClient } from "../../src/infrastructure/dynamics/dataverse_portal_client.ts";
import {
  DynamicsConfigError,
  loadDynamicsConfig,
} from "../../src/infrastructure/dynamics/dynamics_config.ts";
import { timerSleep } from "../../src/infrastructure/dynamics/http_retry.ts";
import { SteppingClock } from "../support/fakes.ts";

const SECRET = "very-secret-value~123";
const ENABLED: Record<string, string> = {
  HLF_DYNAMICS_SYNC_ENABLED: "true",
  HLF_DYNAMICS_TENANT_ID: "contoso.onmicrosoft.com",
  HLF_DYNAMICS_CLIENT_ID: "app-id",
  HLF_DYNAMICS_CLIENT_SECRET: SECRET,
  HLF_DYNAMICS_BASE_URL: "https://hlf.crm4.dynamics.com/",
};
const env = (vars: Record<string, string>) => (name: string) => vars[name];
const deps = { fetch, clock: new SteppingClock(), sleep: timerSleep };

for (const value of [undefined, "", "false", "TRUE", "1", "yes", " true"]) {
  Deno.test(`loadDynamicsConfig() is disabled when HLF_DYNAMICS_SYNC_ENABLED is '${value}'`, () => {
    const vars = { ...ENABLED } as Record<string, string>;
    if (value === undefined) delete vars.HLF_DYNAMICS_SYNC_ENABLED;
    else vars.HLF_DYNAMICS_SYNC_ENABLED = value;
    assert.deepEqual(loadDynamicsConfig(env(vars)), { enabled: false });
    assert.ok(createDynamicsPortalClient(env(vars), deps) instanceof DisabledPortalClient);
  });
}

Deno.test("loadDynamicsConfig() derives the token URL, scope and API root from tenant and base URL", () => {
  const config = loadDynamicsConfig(env(ENABLED));
  assert.ok(config.enabled);
  assert.equal(
    config.tokenUrl,
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
  );
  assert.equal(config.scope, "https://hlf.crm4.dynamics.com/.default");
  assert.equal(config.apiUrl, "https://hlf.crm4.dynamics.com/api/data/v9.2/");
  assert.equal(config.entitySet, "hlf_peermentorcertifications");
  assert.equal(config.alternateKey, "hlf_certificationid");
  assert.equal(config.concurrency, 4);
  assert.equal(config.clientSecret.reveal(), SECRET);
  assert.doesNotMatch(
    JSON.stringify(config) + Deno.inspect(config) + String(config.clientSecret),
    /very-secret/,
  );
  assert.ok(createDynamicsPortalClient(env(ENABLED), deps) instanceof DataversePortalClient);
});

Deno.test("loadDynamicsConfig() names missing or invalid variables and never their values", () => {
  const vars = {
    ...ENABLED,
    HLF_DYNAMICS_BASE_URL: "http://hlf.crm4.dynamics.com",
    HLF_DYNAMICS_CONCURRENCY: "99",
  };
  delete (vars as Record<string, string>).HLF_DYNAMICS_CLIENT_ID;
  assert.throws(() => loadDynamicsConfig(env(vars)), (error: Error) => {
    assert.ok(error instanceof DynamicsConfigError);
    assert.equal(
      error.message,
      "Invalid or missing environment variables: HLF_DYNAMICS_CLIENT_ID, HLF_DYNAMICS_BASE_URL, HLF_DYNAMICS_CONCURRENCY",
    );
    return true;
  });
});

Deno.test("createDynamicsPortalClient() when misconfigured fails the sync, not the function, naming the variables", async () => {
  const vars = { ...ENABLED, HLF_DYNAMICS_CLIENT_SECRET: "" };
  const portal = createDynamicsPortalClient(env(vars), deps);
  assert.equal(portal.enabled, true);
  await assert.rejects(
    portal.upsertStatuses([], new AbortController().signal),
    /Cannot sync with the Dynamics portal: Invalid or missing environment variables: HLF_DYNAMICS_CLIENT_SECRET/,
  );
});
