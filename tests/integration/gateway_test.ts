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
