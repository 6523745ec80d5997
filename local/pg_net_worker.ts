/**
 * LOCAL STAND-IN for pg_net's background worker. Never runs in production.
 *
 * Like the real worker: woken by NOTIFY at the caller's COMMIT (net.wake()),
 * with a 1 s poll as a fallback; takes up to 200 queued requests at a time
 * (deleting them atomically), sends them concurrently, each with its own
 * timeout, writes exactly one net._http_response row per request id, never
 * retries, and deletes responses older than 6 hours.
 * Logs one JSON object per line to stdout; headers and bodies are never logged
 * (they carry secrets).
 */
import postgres from "postgres";

const DB_URL = Deno.env.get("PG_NET_DB_URL") ?? "postgresql://postgres@127.0.0.1:54322/postgres";
const BATCH_SIZE = 200; // pg_net.batch_size
const TTL = "6 hours"; // pg_net.ttl
const POLL_MS = 1000;
const PURGE_EVERY_MS = 60_000;

type QueuedRequest = {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string> | null;
  body: Uint8Array | null;
  timeout_milliseconds: number;
};

type Outcome = {
  status_code: number | null;
  content_type: string | null;
  headers: Record<string, string> | null;
  content: string | null;
  timed_out: boolean;
  error_msg: string | null;
};

function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
}

const sql = postgres(DB_URL, {
  max: 1,
  onnotice: () => {},
  connection: { application_name: "pg_net worker" },
});

let dbChain: Promise<unknown> = Promise.resolve();

/**
 * Runs one statement at a time. Under Deno 2.1's node compat, postgres.js crashes
 * the process ("May not write null values to stream", denoland/deno#29262) when
 * it pipelines concurrent queries on a connection; 200 responses at once did.
 */
function serially<T>(work: () => Promise<T>): Promise<T> {
  const run = dbChain.then(work, work);
  dbChain = run.catch(() => {});
  return run;
}

let inFlight = 0;
let draining = false;
let wakeAgain = false;

/** Sends one request; every failure becomes an outcome, never an exception. */
async function send(req: QueuedRequest): Promise<Outcome> {
  const signal = AbortSignal.timeout(req.timeout_milliseconds);
  try {
    const res = await fetch(req.url, {
      method: req.method.toUpperCase(),
      headers: req.headers ?? {},
      body: req.body ?? undefined,
      signal,
      redirect: "follow",
    });
    const content = await res.text(); // the timeout covers the body too
    return {
      status_code: res.status,
      content_type: res.headers.get("content-type"),
      headers: Object.fromEntries(res.headers),
      content,
      timed_out: false,
      error_msg: null,
    };
  } catch (err) {
    const timedOut = signal.aborted;
    return {
      status_code: null,
      content_type: null,
      headers: null,
      content: null,
      timed_out: timedOut,
      error_msg: timedOut
        ? `Timeout of ${req.timeout_milliseconds} ms reached`
        : (err instanceof Error ? err.message : String(err)),
    };
  }
}

async function handle(req: QueuedRequest): Promise<void> {
  const started = performance.now();
  const out = await send(req);
  try {
    await serially(() =>
      sql`
      insert into net._http_response
        (id, status_code, content_type, headers, content, timed_out, error_msg)
      values (${req.id}, ${out.status_code}, ${out.content_type},
              ${out.headers === null ? null : sql.json(out.headers)}, ${out.content},
              ${out.timed_out}, ${out.error_msg})`
    );
  } catch (err) {
    log("response_write_failed", { id: req.id, error: String(err) });
  }
  const url = new URL(req.url);
  log("request_done", {
    id: req.id,
    method: req.method,
    url: `${url.origin}${url.pathname}`, // no query string: it may carry tokens
    status_code: out.status_code,
    timed_out: out.timed_out,
    error_msg: out.error_msg,
    duration_ms: Math.round(performance.now() - started),
  });
}

/** Takes queued rows (up to BATCH_SIZE in flight) until the queue is empty. */
async function drain(): Promise<void> {
  if (draining) {
    wakeAgain = true;
    return;
  }
  draining = true;
  try {
    do {
      wakeAgain = false;
      const room = BATCH_SIZE - inFlight;
      if (room <= 0) break; // a finishing request calls drain() again
      const rows = await serially(() =>
        sql<QueuedRequest[]>`
          delete from net.http_request_queue
          where id in (select id from net.http_request_queue order by id limit ${room}
                       for update skip locked)
          returning id, method, url, headers, body, timeout_milliseconds`
      );
      for (const row of rows) {
        inFlight++;
        handle(row).finally(() => {
          inFlight--;
          void drain();
        });
      }
      if (rows.length === room) wakeAgain = true;
    } while (wakeAgain);
  } catch (err) {
    log("drain_failed", { error: String(err) });
  } finally {
    draining = false;
  }
}

async function purgeOld(): Promise<void> {
  try {
    const res = await serially(() =>
      sql`delete from net._http_response where created < now() - ${TTL}::interval`
    );
    if (res.count > 0) log("responses_purged", { count: res.count });
  } catch (err) {
    log("purge_failed", { error: String(err) });
  }
}

await sql.listen("pg_net_wake", () => void drain(), () => log("listening"));
setInterval(() => void drain(), POLL_MS);
setInterval(() => void purgeOld(), PURGE_EVERY_MS);
log("worker_started", { batch_size: BATCH_SIZE, ttl: TTL });
await purgeOld();
await drain();

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    log("worker_stopping", { in_flight: inFlight });
    await sql.end({ timeout: 2 });
    Deno.exit(0);
  });
}
