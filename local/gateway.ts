/**
 * LOCAL ONLY: the API gateway hosted Supabase puts in front of its services.
 * Routes /rest/v1/* to PostgREST (prefix stripped) and
 * /functions/v1/nightly-scheduler[/...] to the function process (prefix
 * /functions/v1 stripped, as hosted), passing method, headers and body
 * through. Bodies are buffered both ways, as nginx under Kong does.
 *
 * It cannot be knocked over by one client: a body over the cap is refused (413)
 * before a byte of it is read, a slow head or body is cut off (408), a
 * malformed request target or framing is a 400, connections are capped, and
 * every failure is answered or closes only its own connection.
 */
import { ConnReader, headerValues, HttpError, type Limits, writeResponse } from "./gateway_http.ts";
import { platform } from "./platform.ts";

const PORT = platform.API_PORT;
const POSTGREST = `http://127.0.0.1:${platform.REST_PORT}`;
const FUNCTION = `http://127.0.0.1:${platform.FN_PORT}`;
const FUNCTION_PREFIX = "/functions/v1/nightly-scheduler";
const MAX_CONNECTIONS = 512;
const LIMITS: Limits = {
  maxHeadBytes: 32 * 1024,
  maxBodyBytes: 8 * 1024 * 1024,
  headTimeoutMs: 5_000,
  bodyTimeoutMs: 10_000,
  idleTimeoutMs: 75_000,
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

/** Serves requests on one connection until it closes, idles out or goes wrong. */
async function serveConnection(conn: Deno.Conn): Promise<void> {
  const reader = new ConnReader(conn);
  try {
    for (;;) {
      let keepAlive = false;
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
    // A client that vanished mid-write, or anything unforeseen: this connection only.
    if (!(err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.ConnectionReset)) {
      log("connection_failed", { error: String(err) });
    }
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
let open = 0;
for await (const conn of listener) {
  if (open >= MAX_CONNECTIONS) {
    conn.close();
    continue;
  }
  open++;
  serveConnection(conn).finally(() => open--);
}
