/**
 * LOCAL ONLY: the API gateway hosted Supabase puts in front of its services.
 * Routes /rest/v1/* to PostgREST (prefix stripped) and
 * /functions/v1/nightly-scheduler[/...] to the function process (prefix
 * /functions/v1 stripped, as hosted), passing method, headers and body
 * through. Bodies are buffered both ways, as nginx under Kong does.
 */

const PORT = 54321;
const POSTGREST = "http://127.0.0.1:54330";
const FUNCTION = "http://127.0.0.1:54340";
const FUNCTION_PREFIX = "/functions/v1/nightly-scheduler";

function json(status: number, body: Record<string, unknown>): Response {
  return Response.json(body, { status });
}

/** Maps a gateway path to its upstream URL, or null when nothing serves it. */
function upstreamFor(url: URL): string | null {
  const { pathname, search } = url;
  if (pathname === "/rest/v1" || pathname.startsWith("/rest/v1/")) {
    return `${POSTGREST}${pathname.slice("/rest/v1".length) || "/"}${search}`;
  }
  if (pathname === FUNCTION_PREFIX || pathname.startsWith(`${FUNCTION_PREFIX}/`)) {
    // Like hosted Kong: strip /functions/v1, so the function sees /nightly-scheduler[/...].
    return `${FUNCTION}${pathname.slice("/functions/v1".length)}${search}`;
  }
  return null;
}

async function handler(req: Request): Promise<Response> {
  const target = upstreamFor(new URL(req.url));
  if (target === null) return json(404, { error: "not_found", message: "No route for this path" });
  const headers = new Headers(req.headers);
  headers.delete("host");
  // Buffered, as Kong does: a streamed request body goes out as headers and
  // body in separate writes, and delayed ACKs then add ~40 ms to every call.
  const body = req.body === null ? undefined : await req.arrayBuffer();
  let upstream: Response;
  try {
    upstream = await fetch(target, {
      method: req.method,
      headers,
      body,
      redirect: "manual",
      signal: req.signal,
    });
  } catch (err) {
    console.log(JSON.stringify({
      time: new Date().toISOString(),
      event: "upstream_unavailable",
      target: new URL(target).origin,
      error: String(err),
    }));
    return json(502, { error: "bad_gateway", message: "Upstream service is not answering" });
  }
  // fetch() has already decoded a compressed body: drop headers that describe the encoded one.
  const out = new Headers(upstream.headers);
  if (out.has("content-encoding")) {
    out.delete("content-encoding");
    out.delete("content-length");
  }
  // Buffered too (nginx, under Kong, buffers by default): a streamed reply goes
  // out as headers and body in separate writes, which stalls keep-alive clients.
  const reply = upstream.body === null ? null : await upstream.arrayBuffer();
  out.delete("transfer-encoding");
  return new Response(reply, { status: upstream.status, headers: out });
}

Deno.serve({
  hostname: "127.0.0.1",
  port: PORT,
  onListen: ({ hostname, port }) =>
    console.log(
      JSON.stringify({ time: new Date().toISOString(), event: "listening", hostname, port }),
    ),
}, handler);
