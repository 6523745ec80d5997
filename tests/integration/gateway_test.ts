// The local gateway must behave like hosted Supabase's in the ways the scheduler feels.
import assert from "node:assert/strict";
import { stackEnv } from "../../local/stack.ts";

const env = stackEnv();

Deno.test("the gateway answers with a buffered body (Content-Length, not chunked), as nginx under Kong does", async () => {
  // A streamed reply left keep-alive Deno clients waiting ~40 ms on every call.
  const response = await fetch(`${env.API_URL}/rest/v1/rpc/scheduler_current_secret`, {
    method: "POST",
    headers: {
      apikey: env.SERVICE_ROLE_KEY,
      authorization: `Bearer ${env.SERVICE_ROLE_KEY}`,
      "content-type": "application/json",
    },
    body: "{}",
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("transfer-encoding"), null);
  const body = await response.text();
  assert.equal(
    Number(response.headers.get("content-length")),
    new TextEncoder().encode(body).length,
  );
});

Deno.test("the gateway strips /functions/v1 and routes to the function; unknown paths get 404 JSON", async () => {
  const fn = await fetch(`${env.API_URL}/functions/v1/nightly-scheduler`, { method: "GET" });
  assert.equal(fn.status, 405);
  assert.equal((await fn.json()).error.code, "method_not_allowed");
  const other = await fetch(`${env.API_URL}/functions/v1/some-other-function`, { method: "POST" });
  assert.equal(other.status, 404);
  await other.body?.cancel();
});

const port = Number(new URL(env.API_URL).port);

/** Sends one request on a new connection; its status, or 0 when the gateway closed without one. */
async function send(request: Uint8Array, boundMs = 15_000): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(request);
    const chunks: number[] = [];
    const bound = AbortSignal.timeout(boundMs);
    while (!bound.aborted) {
      const buf = new Uint8Array(4096);
      const n = await Promise.race([
        conn.read(buf).catch(() => null),
        new Promise<"bound">((resolve) => bound.addEventListener("abort", () => resolve("bound"))),
      ]);
      if (n === "bound") throw new Error(`no answer within ${boundMs} ms`);
      if (n === null) break;
      chunks.push(...buf.subarray(0, n));
    }
    const text = new TextDecoder().decode(new Uint8Array(chunks));
    return Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0);
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the gateway
    }
  }
}

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

Deno.test("the gateway answers a new client while 600 idle connections are open, and closes idle ones after a few seconds", async () => {
  const idle = await Promise.all(
    Array.from({ length: 600 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  try {
    const status = await send(
      latin1(
        "GET /functions/v1/nightly-scheduler HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      ),
      2_000,
    );
    assert.equal(status, 405, "the function's answer, through the gateway");
    // The newest idle connection is kept until its idle time runs out.
    let timer: number | undefined;
    const closed = await Promise.race([
      idle.at(-1)!.read(new Uint8Array(1)).catch(() => null),
      new Promise<"open">((resolve) => (timer = setTimeout(() => resolve("open"), 20_000))),
    ]);
    clearTimeout(timer);
    assert.equal(closed, null, "an idle connection is closed by the gateway");
  } finally {
    for (const conn of idle) {
      try {
        conn.close();
      } catch {
        // closed by the gateway
      }
    }
  }
});

Deno.test("the gateway answers a header value that is no ByteString (bytes past ASCII) with 400, as it does a NUL", async () => {
  for (const value of ["Bearer \x80\x81", "Bearer \x00"]) {
    const status = await send(latin1(
      `POST /functions/v1/nightly-scheduler HTTP/1.1\r\nHost: x\r\nAuthorization: ${value}\r\n` +
        "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    ));
    assert.equal(status, 400, JSON.stringify(value));
  }
});
