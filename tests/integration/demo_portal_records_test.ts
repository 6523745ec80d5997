// The demo Dynamics portal (local/demo_dataverse.ts) keeps what it was sent
// across a restart, as the real portal does, so a night run after the stack
// came back (test.sh brings the demo stack back) still finds every record.
import assert from "node:assert/strict";
import { FAKE_APP } from "../../local/fake_dataverse.ts";
import { platform } from "../../local/platform.ts";
import { poll } from "../support/nightly.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BASE = `http://127.0.0.1:${platform.DEMO_PORTAL_PORT}`;
// Not the demo's own file (.local/demo_dataverse_records.json): this test's alone.
const RECORDS = `${ROOT}.local/run/demo_portal_records_test.json`;

function startPortal(): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      `--allow-write=${ROOT}.local`,
      "--allow-env",
      `${ROOT}local/demo_dataverse.ts`,
    ],
    env: { DEMO_DATAVERSE_RECORDS: RECORDS },
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function statuses(): Promise<Record<string, string> | undefined> {
  const response = await fetch(`${BASE}/_demo/statuses`).catch(() => null);
  return response?.ok ? await response.json() : undefined;
}

async function stop(portal: Deno.ChildProcess): Promise<void> {
  portal.kill("SIGTERM");
  const { code } = await portal.status;
  await portal.stderr.cancel();
  assert.equal(code, 0, "the portal saves its records and exits on SIGTERM");
}

async function removeRecords(): Promise<void> {
  await new Deno.Command("rm", { args: ["-f", RECORDS] }).output();
}

Deno.test("the demo portal keeps its records across a restart (SIGTERM, as stack.sh down stops it)", async () => {
  assert.equal(await statuses(), undefined, "no demo portal runs (this test starts its own)");
  await removeRecords();
  let portal = startPortal();
  try {
    await poll("the demo portal to listen", 20_000, statuses);
    const token = await fetch(`${BASE}/${FAKE_APP.tenantId}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: FAKE_APP.clientId,
        client_secret: FAKE_APP.clientSecret,
        scope: FAKE_APP.scope,
      }),
    }).then((r) => r.json());
    const upsert = await fetch(
      `${BASE}/api/data/v9.2/${FAKE_APP.entitySet}(${FAKE_APP.alternateKey}='kept-1')`,
      {
        method: "PATCH",
        headers: {
          authorization: `Bearer ${token.access_token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ hlf_status: "expired" }),
      },
    );
    await upsert.body?.cancel();
    assert.equal(upsert.status, 204);
    await stop(portal);

    portal = startPortal();
    const held = await poll("the restarted demo portal to listen", 20_000, statuses);
    assert.deepEqual(held, { "kept-1": "expired" });
  } finally {
    await stop(portal).catch(() => {});
    await removeRecords();
  }
});
