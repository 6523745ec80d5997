// LOCAL ONLY: a stand-in for HLF's Dynamics portal, so that `scripts/nightly.sh`
// shows hlf_dynamics_sync doing real work without the real portal. It is the
// fake the integration tests use (token endpoint, single upserts, UpsertMultiple
// and Dataverse's service protection limits), on a fixed port. On start it
// writes .local/demo_dataverse.env with the HLF_DYNAMICS_* settings that point
// the function at it (demo values, not secrets). With DEMO_DATAVERSE_RECORDS=<file>
// (the demo stack sets it) it keeps its records in that file across restarts,
// as the real portal keeps them: loaded on start, saved a second after a change
// and on SIGTERM/SIGINT.
//   DEMO_DATAVERSE_LATENCY_MS=50     time each upsert request takes (default 0)
//   DEMO_DATAVERSE_BATCH_FORM=false  answer UpsertMultiple with 404, as a portal without it
//   GET /_demo/stats -> {"rows", "upserts", "upsert_multiples", "records_sent", "throttled",
//     "tokens", "latency_ms"}
//   GET /_demo/statuses -> {"<certification id>": "<hlf_status>", ...} (what the portal holds)
//   GET /_demo/resent -> {"<certification id>": <times sent>, ...} for records sent more than once
//     (every request counts, throttled or refused ones too)
//   PUT /_demo/latency {"latency_ms": n} -> sets the latency of later upserts (a test's condition)
import { FAKE_APP, FakeDataverse } from "./fake_dataverse.ts";
import { platform } from "./platform.ts";
import { openRecords, writeAtomic } from "./demo_records.ts";

const PORT = platform.DEMO_PORTAL_PORT;
const ENV_FILE = new URL("../.local/demo_dataverse.env", import.meta.url);

const portal = new FakeDataverse();
portal.latencyMs = Number(Deno.env.get("DEMO_DATAVERSE_LATENCY_MS") ?? 0);
portal.batchForm = Deno.env.get("DEMO_DATAVERSE_BATCH_FORM") !== "false";
const records = await openRecords(portal, Deno.env.get("DEMO_DATAVERSE_RECORDS") || null);
const counts = { upserts: 0, upsert_multiples: 0, records_sent: 0 };
// Times each record arrived, by either form: what "sent twice" is measured against.
const sends = new Map<string, number>();

/** Answers the demo's own paths (/_demo/...), or null for the portal's. */
async function demoRoute(request: Request): Promise<Response | null> {
  const path = new URL(request.url).pathname;
  if (path === "/_demo/stats") {
    return Response.json({
      rows: portal.rows.size,
      ...counts,
      throttled: portal.throttled,
      tokens: portal.tokensIssued,
      latency_ms: portal.latencyMs,
    });
  }
  if (path === "/_demo/statuses") {
    return Response.json(
      Object.fromEntries([...portal.rows].map(([id, row]) => [id, row.hlf_status ?? null])),
    );
  }
  if (path === "/_demo/resent") {
    return Response.json(Object.fromEntries([...sends].filter(([, times]) => times > 1)));
  }
  if (path === "/_demo/latency" && request.method === "PUT") {
    const ms = (await request.json().catch(() => null))?.latency_ms;
    if (!Number.isInteger(ms) || ms < 0 || ms > 60_000) {
      return Response.json({ error: "latency_ms must be an integer from 0 to 60000" }, {
        status: 400,
      });
    }
    portal.latencyMs = ms;
    return Response.json({ latency_ms: portal.latencyMs });
  }
  return null;
}

const base = portal.serve(PORT, async (request) => {
  const own = await demoRoute(request);
  if (own) return own;
  const response = await portal.handle(request);
  if (request.method === "PATCH" || request.method === "POST") records.changed();
  if (request.method === "PATCH") counts.upserts++;
  if (request.method === "POST" && request.url.endsWith("UpsertMultiple")) {
    counts.upsert_multiples++;
  }
  // Every request seen since the last answer (this one and any still in flight) is
  // counted once here, then dropped: a long-lived demo keeps its rows and counts,
  // not every request it ever saw.
  for (const key of portal.sentKeys()) {
    sends.set(key, (sends.get(key) ?? 0) + 1);
    counts.records_sent++;
  }
  portal.requests.length = 0;
  return response;
});

// Atomic: stack.sh reads it as soon as it exists.
await writeAtomic(
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
);
console.log(JSON.stringify({ time: new Date().toISOString(), event: "listening", base }));
