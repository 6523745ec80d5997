import assert from "node:assert/strict";
import { timerSleep } from "../../src/domain/batch_pacer.ts";
import { createCertificationPortal } from "../../src/infrastructure/dynamics/create_certification_portal.ts";
import { DataverseCertificationPortal } from "../../src/infrastructure/dynamics/dataverse_certification_portal.ts";
import { DisabledCertificationPortal } from "../../src/infrastructure/dynamics/disabled_certification_portal.ts";
import {
  DynamicsConfigError,
  loadDynamicsSettings,
} from "../../src/infrastructure/dynamics/dynamics_settings.ts";
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
  Deno.test(`loadDynamicsSettings() is off when HLF_DYNAMICS_SYNC_ENABLED is '${value}'`, () => {
    const vars = { ...ENABLED } as Record<string, string>;
    if (value === undefined) delete vars.HLF_DYNAMICS_SYNC_ENABLED;
    else vars.HLF_DYNAMICS_SYNC_ENABLED = value;
    assert.equal(loadDynamicsSettings(env(vars)), null);
    assert.ok(createCertificationPortal(env(vars), deps) instanceof DisabledCertificationPortal);
  });
}

Deno.test("loadDynamicsSettings() derives the token URL, scope and API root from tenant and base URL", () => {
  const settings = loadDynamicsSettings(env(ENABLED));
  assert.ok(settings);
  const { token, dataverse, retry } = settings;
  assert.equal(
    token.tokenUrl,
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
  );
  assert.equal(token.scope, "https://hlf.crm4.dynamics.com/.default");
  assert.equal(dataverse.apiUrl, "https://hlf.crm4.dynamics.com/api/data/v9.2/");
  assert.equal(dataverse.entitySet, "hlf_peermentorcertifications");
  assert.equal(dataverse.entityName, "hlf_peermentorcertification");
  assert.equal(dataverse.alternateKey, "hlf_certificationid");
  assert.equal(dataverse.concurrency, 16);
  assert.equal(dataverse.batchSize, 100);
  assert.equal(retry.maxAttempts, 5);
  assert.equal(token.clientSecret.reveal(), SECRET);
  assert.doesNotMatch(
    JSON.stringify(settings) + Deno.inspect(settings) + String(token.clientSecret),
    /very-secret/,
  );
  assert.ok(
    createCertificationPortal(env(ENABLED), deps) instanceof DataverseCertificationPortal,
  );
});

Deno.test("loadDynamicsSettings() reads the batch size and the shared retry policy", () => {
  const settings = loadDynamicsSettings(env({
    ...ENABLED,
    HLF_DYNAMICS_BATCH_SIZE: "1",
    HLF_DYNAMICS_MAX_ATTEMPTS: "2",
  }));
  assert.equal(settings?.dataverse.batchSize, 1);
  assert.equal(settings?.retry.maxAttempts, 2);
});

Deno.test("loadDynamicsSettings() names missing or invalid variables and never their values", () => {
  const vars = {
    ...ENABLED,
    HLF_DYNAMICS_BASE_URL: "http://hlf.crm4.dynamics.com",
    HLF_DYNAMICS_CONCURRENCY: "99",
    HLF_DYNAMICS_BATCH_SIZE: "1001",
  };
  delete (vars as Record<string, string>).HLF_DYNAMICS_CLIENT_ID;
  assert.throws(() => loadDynamicsSettings(env(vars)), (error: Error) => {
    assert.ok(error instanceof DynamicsConfigError);
    assert.equal(
      error.message,
      "Invalid or missing environment variables: HLF_DYNAMICS_CLIENT_ID, HLF_DYNAMICS_BASE_URL, HLF_DYNAMICS_CONCURRENCY, HLF_DYNAMICS_BATCH_SIZE",
    );
    return true;
  });
});

Deno.test("createCertificationPortal() when misconfigured fails the sync, not the function, naming the variables", async () => {
  const vars = { ...ENABLED, HLF_DYNAMICS_CLIENT_SECRET: "" };
  const portal = createCertificationPortal(env(vars), deps);
  assert.equal(portal.enabled, true);
  await assert.rejects(
    portal.push([], {
      signal: new AbortController().signal,
      waitSignal: new AbortController().signal,
    }),
    /Cannot sync with the Dynamics portal: Invalid or missing environment variables: HLF_DYNAMICS_CLIENT_SECRET/,
  );
});
