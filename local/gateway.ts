/**
 * LOCAL ONLY: the API gateway hosted Supabase puts in front of its services.
 * Routes /rest/v1/* to PostgREST (prefix stripped) and
 * /functions/v1/nightly-scheduler[/...] to the function process (prefix
 * /functions/v1 stripped, as hosted), passing method, headers and body
 * through. Bodies are buffered both ways, as nginx under Kong does.
 *
 * It cannot be knocked over by one client: a body over the cap is refused (413)
 * before a byte of it is read, a slow head or body is cut off (408), a
 * malformed request target, framing or header value is a 400, idle connections
 * close after a few seconds and are closed sooner to make room for new ones
 * (gateway_connections.ts), and every failure is answered or closes only its
 * own connection.
 */
import { ConnectionPool, type Tracked } from "./gateway_connections.ts";
import { ConnReader, headerValues, HttpError, type Limits, writeResponse } from "./gateway_http.ts";
import { platform } from "./platform.ts";

const PORT = platform.API_PORT;
const POSTGREST = `http://127.0.0.1:${platform.REST_PORT}`;
const FUNCTION = `http://127.0.0.1:${platform.FN_PORT}`;
const FUNCTION_PREFIX = "/functions/v1/nightly-scheduler";
// Every local client is 127.0.0.1, so the per-client cap must leave room for
// pg_net's batch of 200 kept-alive connections.
const POOL = new ConnectionPool({ maxConnections: 512, maxIdlePerClient: 256 });
const LIMITS: Limits = {
  maxHeadBytes: 32 * 1024,
  maxBodyBytes: 8 * 1024 * 1024,
  headTimeoutMs: 5_000,
  bodyTimeoutMs: 10_000,
  // Between requests: long enough for a client's next call, short enough that idling holds nothing.
  idleTimeoutMs: 5_000,
};
// Hop-by-hop fields, and the framing the gateway sets itself.
const HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
  "content-length",
]);

function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
}

const json = (body: Record<string, unknown>) => new TextEncoder().encode(JSON.stringify(body));
const jsonHeaders = () => new Headers({ "content-type": "application/json" });

/** Maps a gateway path to its upstream URL, or null when nothing serves it. */
function upstreamFor(target: string): string | null {
  const q = target.indexOf("?");
  const pathname = q < 0 ? target : target.slice(0, q);
  const search = q < 0 ? "" : target.slice(q);
  if (pathname === "/rest/v1" || pathname.startsWith("/rest/v1/")) {
    return `${POSTGREST}${pathname.slice("/rest/v1".length) || "/"}${search}`;
  }
  if (pathname === FUNCTION_PREFIX || pathname.startsWith(`${FUNCTION_PREFIX}/`)) {
    // Like hosted Kong: strip /functions/v1, so the function sees /nightly-scheduler[/...].
    return `${FUNCTION}${pathname.slice("/functions/v1".length)}${search}`;
  }
  return null;
}

/** Forwards one request; answers 502 when the upstream does not. */
async function forward(
  method: string,
  target: string,
  fields: [string, string][],
  body: Uint8Array | null,
): Promise<{ status: number; headers: Headers; body: Uint8Array }> {
  const url = upstreamFor(target);
  if (url === null) {
    return {
      status: 404,
      headers: jsonHeaders(),
      body: json({ error: "not_found", message: "No route for this path" }),
    };
  }
  const headers = new Headers();
  for (const [name, value] of fields) {
    if (!HOP.has(name.toLowerCase())) headers.append(name, value);
  }
  try {
    const upstream = await fetch(url, {
      method,
      headers,
      body: body ?? undefined,
      redirect: "manual",
    });
    const reply = new Uint8Array(await upstream.arrayBuffer());
    const out = new Headers();
    for (const [name, value] of upstream.headers) {
      if (!HOP.has(name)) out.append(name, value);
    }
    // fetch() has already decoded a compressed body: drop what describes the encoded one.
    out.delete("content-encoding");
    return { status: upstream.status, headers: out, body: reply };
  } catch (err) {
    log("upstream_unavailable", { target: new URL(url).origin, error: String(err) });
    return {
      status: 502,
      headers: jsonHeaders(),
      body: json({ error: "bad_gateway", message: "Upstream service is not answering" }),
    };
  }
}

/** Serves requests on one connection until it closes, idles out, is evicted or goes wrong. */
async function serveConnection(tracked: Tracked): Promise<void> {
  const conn = tracked.conn;
  const reader = new ConnReader(conn);
  try {
    for (;;) {
      let keepAlive = false;
      POOL.idle(tracked);
      if (!await reader.waitForRequest(LIMITS)) return;
      POOL.busy(tracked);
      try {
        const head = await reader.readHead(LIMITS);
        if (head === null) return;
        const connection = headerValues(head, "connection").join(",").toLowerCase();
        keepAlive = head.version === "HTTP/1.1"
          ? !connection.includes("close")
          : connection.includes("keep-alive");
        const body = await reader.readBody(head, LIMITS);
        const reply = await forward(head.method, head.target, head.headers, body);
        await writeResponse(conn, reply.status, reply.headers, reply.body, keepAlive);
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        // After a refused request the stream's framing is unknown: answer and close.
        await writeResponse(
          conn,
          err.status,
          jsonHeaders(),
          json({ error: err.code, message: err.message }),
          false,
        );
        return;
      }
      if (!keepAlive) return;
    }
  } catch (err) {
    // A client that vanished mid-write, a connection closed to make room, or
    // anything unforeseen: this connection only.
    const expected = tracked.evicted || err instanceof Deno.errors.BrokenPipe ||
      err instanceof Deno.errors.ConnectionReset;
    if (!expected) {
      log("connection_failed", { error: String(err) });
    }
  } finally {
    POOL.release(tracked);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

/** Answers a connection there is no room for (every open one is busy) and closes it. */
async function refuse(conn: Deno.Conn): Promise<void> {
  try {
    const body = json({ error: "service_unavailable", message: "The gateway is at capacity" });
    await writeResponse(conn, 503, jsonHeaders(), body, false);
  } catch {
    // the client went away first
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: PORT });
log("listening", { hostname: "127.0.0.1", port: PORT });
for await (const conn of listener) {
  const tracked = POOL.admit(conn);
  if (tracked === null) void refuse(conn);
  else void serveConnection(tracked);
}
