/**
 * LOCAL STAND-IN for pg_net 0.20's background worker. Never runs in production.
 *
 * Reproduces the real worker's transaction, not only its results:
 * - it acts when woken: net.wake() (every http_* call) sends a NOTIFY that
 *   arrives when the caller COMMITs; after a batch that took requests it keeps
 *   reading the queue for about a second (as the real one does), then waits
 *   for the next wake-up; there is no other poll;
 * - its sessions carry the real worker's application_name, `pg_net 0.20.0`
 *   (a client session cannot carry its backend_type, `pg_net 0.20.0 worker`);
 * - it takes up to `pg_net.batch_size` (200) queued requests in ONE
 *   transaction, which gets a transaction id by deleting them from the queue,
 *   and keeps that transaction open until every request of the batch has
 *   answered or timed out; the deletions and every net._http_response row
 *   become visible together at COMMIT, all with `created` = the batch's start;
 * - requests queued meanwhile wait for the running batch (head-of-line);
 * - a timeout leaves status_code null, timed_out true and an error text; no retries;
 * - responses older than `pg_net.ttl` (6 hours) are deleted in each batch.
 * Logs one JSON object per line to stdout; headers and bodies are never logged.
 */
import postgres from "postgres";
import { type QueuedRequest, sendRequest } from "./pg_net_send.ts";
import { platform } from "./platform.ts";

// Like the real worker, it connects as the cluster's superuser (pg_net.username unset).
const DB_URL = Deno.env.get("PG_NET_DB_URL") ??
  `postgresql://supabase_admin@127.0.0.1:${platform.PG_PORT}/postgres`;
const APPLICATION_NAME = "pg_net 0.20.0";
// How long the worker keeps reading the queue after a batch, and how often meanwhile.
const DRAIN_MS = 1_000;
const DRAIN_POLL_MS = 100;

function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
}

// One connection for batches (one statement at a time: Deno 2.1's node compat
// crashes postgres.js when it pipelines, denoland/deno#29262); listen() opens
// its own, so wake-ups arrive while a batch holds the first one.
const sql = postgres(DB_URL, {
  max: 1,
  onnotice: () => {},
  connection: { application_name: APPLICATION_NAME },
});

let woken = true; // a fresh worker looks at the queue once, as the real one does at start
let wake: (() => void) | null = null;
let stopping = false;
let drainUntil = 0; // after a batch, the queue is read again until then without a wake-up

function onWake(): void {
  woken = true;
  wake?.();
}

/** Resolves at the next wake-up, or at the next look at the queue while draining. */
function nextWake(): Promise<void> {
  if (woken || stopping) return Promise.resolve();
  const draining = drainUntil - Date.now();
  return new Promise((resolve) => {
    let timer: number | undefined;
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
    if (draining > 0) {
      timer = setTimeout(() => {
        woken = true;
        resolve();
      }, Math.min(DRAIN_POLL_MS, draining));
    }
  });
}

/** Runs one batch in one transaction; returns how many requests it took. */
async function runBatch(): Promise<{ taken: number; batchSize: number }> {
  return await sql.begin(async (tx) => {
    const [settings] = await tx`
      select coalesce(nullif(current_setting('pg_net.batch_size', true), '')::int, 200) as batch_size,
             coalesce(nullif(current_setting('pg_net.ttl', true), ''), '6 hours')::interval as ttl`;
    const rows = await tx<QueuedRequest[]>`
      delete from net.http_request_queue
      where id in (select id from net.http_request_queue order by id
                   limit ${settings.batch_size} for update skip locked)
      returning id, method, url, headers, body, timeout_milliseconds`;
    await tx`delete from net._http_response where created < now() - ${settings.ttl}::interval`;
    if (rows.length === 0) return { taken: 0, batchSize: settings.batch_size };
    const started = performance.now();
    const outcomes = await Promise.all(rows.map(sendRequest));
    await tx`
      insert into net._http_response
        (id, status_code, content_type, headers, content, timed_out, error_msg)
      select id, status_code, content_type, headers, content, timed_out, error_msg
      from jsonb_to_recordset(${
      tx.json(outcomes as unknown as postgres.JSONValue)
    }) as r(id bigint, status_code int,
        content_type text, headers jsonb, content text, timed_out bool, error_msg text)`;
    log("batch_done", {
      requests: rows.length,
      timed_out: outcomes.filter((o) => o.timed_out).length,
      failed: outcomes.filter((o) => o.error_msg !== null && !o.timed_out).length,
      held_ms: Math.round(performance.now() - started),
    });
    return { taken: rows.length, batchSize: settings.batch_size };
  });
}

async function work(): Promise<void> {
  while (!stopping) {
    await nextWake();
    if (stopping) break;
    woken = false;
    wake = null;
    try {
      const { taken, batchSize } = await runBatch();
      if (taken > 0) drainUntil = Date.now() + DRAIN_MS;
      // A full batch may have left requests whose wake-up came before it began.
      if (taken === batchSize) woken = true;
    } catch (err) {
      log("batch_failed", { error: String(err) });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      woken = true;
    }
  }
}

await sql.listen("pg_net_wake", onWake, () => log("listening"));
await sql.listen("pg_net_restart", () => {
  log("restart_requested");
  onWake();
});
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    log("worker_stopping");
    stopping = true;
    wake?.();
    await sql.end({ timeout: 2 });
    Deno.exit(0);
  });
}
log("worker_started");
await work();
