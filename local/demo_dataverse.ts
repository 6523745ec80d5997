// LOCAL ONLY: a stand-in for HLF's Dynamics portal, so that `scripts/nightly.sh`
// shows hlf_dynamics_sync doing real work without the real portal. It is the
// fake the integration tests use (token endpoint + entity set), on a fixed port.
// On start it writes .local/demo_dataverse.env with the HLF_DYNAMICS_* settings
// that point the function at it (demo values, not secrets).
//   GET /_demo/stats -> {"rows": n, "upserts": n, "tokens": n}
import { FAKE_APP, FakeDataverse } from "./fake_dataverse.ts";
import { platform } from "./platform.ts";

const PORT = platform.DEMO_PORTAL_PORT;
const ENV_FILE = new URL("../.local/demo_dataverse.env", import.meta.url);

const portal = new FakeDataverse();
let upserts = 0;
const base = portal.serve(PORT, async (request) => {
  if (new URL(request.url).pathname === "/_demo/stats") {
    return Response.json({ rows: portal.rows.size, upserts, tokens: portal.tokensIssued });
  }
  const response = await portal.handle(request);
  if (request.method === "PATCH") upserts++;
  // A long-lived demo keeps its rows, not every request it ever saw.
  portal.requests.length = 0;
  return response;
});

await Deno.writeTextFile(
  ENV_FILE,
  [
    "HLF_DYNAMICS_SYNC_ENABLED=true",
    `HLF_DYNAMICS_BASE_URL=${base}`,
    `HLF_DYNAMICS_TOKEN_URL=${base}/${FAKE_APP.tenantId}/oauth2/v2.0/token`,
    `HLF_DYNAMICS_TENANT_ID=${FAKE_APP.tenantId}`,
    `HLF_DYNAMICS_CLIENT_ID=${FAKE_APP.clientId}`,
    `HLF_DYNAMICS_CLIENT_SECRET=${FAKE_APP.clientSecret}`,
    `HLF_DYNAMICS_SCOPE=${FAKE_APP.scope}`,
    "",
  ].join("\n"),
  { mode: 0o600 },
);
console.log(JSON.stringify({ time: new Date().toISOString(), event: "listening", base }));
