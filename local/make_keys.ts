/**
 * LOCAL ONLY: writes the anon and service_role API keys for the local stack.
 * They are HS256 JWTs signed with the per-data-dir JWT secret, shaped like the
 * keys `supabase start` issues. Usage: make_keys.ts <jwt_secret_file> <out_env_file>
 * The keys go to the output file only (mode 0600), never to stdout.
 */

const [secretFile, outFile] = Deno.args;
if (!secretFile || !outFile) {
  console.error("usage: make_keys.ts <jwt_secret_file> <out_env_file>");
  Deno.exit(2);
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/** Signs `payload` as a compact HS256 JWT with WebCrypto. */
async function signJwt(payload: Record<string, unknown>, secret: string): Promise<string> {
  const enc = new TextEncoder();
  const header = base64url(enc.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = base64url(enc.encode(JSON.stringify(payload)));
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = await crypto.subtle.sign("HMAC", key, enc.encode(`${header}.${body}`));
  return `${header}.${body}.${base64url(new Uint8Array(sig))}`;
}

const secret = (await Deno.readTextFile(secretFile)).trim();
const iat = Math.floor(Date.now() / 1000);
const exp = iat + 10 * 365 * 24 * 3600; // far future: local keys never need rotation
const anon = await signJwt({ role: "anon", iss: "supabase-local", iat, exp }, secret);
const service = await signJwt({ role: "service_role", iss: "supabase-local", iat, exp }, secret);
await Deno.writeTextFile(outFile, `ANON_KEY=${anon}\nSERVICE_ROLE_KEY=${service}\n`, {
  mode: 0o600,
});
