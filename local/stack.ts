// The shared harness (LOCAL ONLY) of tests, scripts and benchmarks: reads
// .local/stack.env, which `bash local/stack.sh up` writes, and opens direct SQL connections.
import postgres from "postgres";

/** What the running local stack publishes. */
export interface StackEnv {
  API_URL: string;
  DB_URL: string;
  /** The cluster's superuser (supabase_admin), for test tooling only: postgres is not one. */
  ADMIN_DB_URL: string;
  ANON_KEY: string;
  SERVICE_ROLE_KEY: string;
  JWT_SECRET: string;
  SCHEDULER_SECRET: string;
}

const STACK_ENV = new URL("../.local/stack.env", import.meta.url);

/** Reads .local/stack.env, failing with the command to run when the stack is down. */
export function stackEnv(): StackEnv {
  let text: string;
  try {
    text = Deno.readTextFileSync(STACK_ENV);
  } catch {
    throw new Error("The local stack is not running: start it with `deno task stack:up`");
  }
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]] = match[2].replace(/^'(.*)'$/, "$1").replace(/^"(.*)"$/, "$1");
  }
  for (
    const key of [
      "API_URL",
      "DB_URL",
      "ADMIN_DB_URL",
      "ANON_KEY",
      "SERVICE_ROLE_KEY",
      "JWT_SECRET",
      "SCHEDULER_SECRET",
    ]
  ) {
    if (!env[key]) throw new Error(`.local/stack.env has no ${key}; restart the stack`);
  }
  return env as unknown as StackEnv;
}

/** A direct SQL connection as postgres; close it with `await sql.end()`. */
export function connect(env = stackEnv()): postgres.Sql {
  return postgres(env.DB_URL, { max: 4, onnotice: () => {} });
}

/** A direct SQL connection as supabase_admin, the superuser: for test tooling only. */
export function connectAdmin(env = stackEnv()): postgres.Sql {
  return postgres(env.ADMIN_DB_URL, { max: 2, onnotice: () => {} });
}

/** The function's URL behind the local gateway. */
export function functionUrl(env = stackEnv()): string {
  return `${env.API_URL}/functions/v1/nightly-scheduler`;
}

/** POSTs a run request to the function through the gateway, as pg_net or a developer would. */
export async function callScheduler(
  body: unknown,
  options: { secret?: string | null; env?: StackEnv } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const env = options.env ?? stackEnv();
  const secret = options.secret === undefined ? env.SCHEDULER_SECRET : options.secret;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (secret !== null) headers.authorization = `Bearer ${secret}`;
  const response = await fetch(functionUrl(env), {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** An HS256 JWT signed with the stack's JWT secret, as Supabase Auth would issue. */
export async function signJwt(payload: Record<string, unknown>, env = stackEnv()): Promise<string> {
  const encode = (value: unknown) =>
    btoa(typeof value === "string" ? value : JSON.stringify(value))
      .replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const unsigned = `${encode({ alg: "HS256", typ: "JWT" })}.${encode(payload)}`;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(env.JWT_SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(unsigned)),
  );
  return `${unsigned}.${encode(String.fromCharCode(...signature))}`;
}
