import { z } from "zod";
import { EnvironmentError, parseEnv } from "../env.ts";
import type { DataverseSettings } from "./dataverse_portal_client.ts";
import { Redacted } from "./redacted.ts";

/** The Dynamics sync's settings, or why it is off. */
export type DynamicsConfig =
  | { readonly enabled: false }
  | Omit<DataverseSettings, "backoff"> & {
    readonly enabled: true;
    readonly tokenUrl: string;
    readonly clientId: string;
    readonly clientSecret: Redacted;
    readonly scope: string;
  };

/** The sync is on, but its environment is incomplete or wrong; names the variables, never values. */
export class DynamicsConfigError extends EnvironmentError {}

// The client secret goes only to these; plain http is for the loopback fake in tests.
const secureUrl = z.url().refine((value) => {
  const url = new URL(value);
  return url.protocol === "https:" || ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
});
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,99}$/);

const schema = z.object({
  HLF_DYNAMICS_TENANT_ID: z.string().regex(/^[A-Za-z0-9.-]{1,100}$/),
  HLF_DYNAMICS_CLIENT_ID: z.string().min(1),
  HLF_DYNAMICS_CLIENT_SECRET: z.string().min(1),
  HLF_DYNAMICS_BASE_URL: secureUrl,
  HLF_DYNAMICS_SCOPE: z.string().min(1).optional(),
  HLF_DYNAMICS_TOKEN_URL: secureUrl.optional(),
  HLF_DYNAMICS_ENTITY_SET: identifier.default("hlf_peermentorcertifications"),
  HLF_DYNAMICS_ALTERNATE_KEY: identifier.default("hlf_certificationid"),
  HLF_DYNAMICS_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(4),
  HLF_DYNAMICS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(5),
  HLF_DYNAMICS_MAX_RETRY_AFTER_MS: z.coerce.number().int().min(0).max(120_000).default(30_000),
  HLF_DYNAMICS_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(120_000).default(30_000),
});

/**
 * Reads the sync's settings. Off unless `HLF_DYNAMICS_SYNC_ENABLED` is exactly
 * `true`; when on, a bad or missing variable throws DynamicsConfigError.
 */
export function loadDynamicsConfig(env: (name: string) => string | undefined): DynamicsConfig {
  if (env("HLF_DYNAMICS_SYNC_ENABLED") !== "true") return { enabled: false };
  let c: z.infer<typeof schema>;
  try {
    c = parseEnv(schema, env);
  } catch (error) {
    if (error instanceof EnvironmentError) throw new DynamicsConfigError(error.variables);
    throw error;
  }
  const origin = new URL(c.HLF_DYNAMICS_BASE_URL).origin;
  return {
    enabled: true,
    tokenUrl: c.HLF_DYNAMICS_TOKEN_URL ??
      `https://login.microsoftonline.com/${c.HLF_DYNAMICS_TENANT_ID}/oauth2/v2.0/token`,
    clientId: c.HLF_DYNAMICS_CLIENT_ID,
    clientSecret: new Redacted(c.HLF_DYNAMICS_CLIENT_SECRET),
    scope: c.HLF_DYNAMICS_SCOPE ?? `${origin}/.default`,
    apiUrl: `${origin}/api/data/v9.2/`,
    entitySet: c.HLF_DYNAMICS_ENTITY_SET,
    alternateKey: c.HLF_DYNAMICS_ALTERNATE_KEY,
    concurrency: c.HLF_DYNAMICS_CONCURRENCY,
    maxAttempts: c.HLF_DYNAMICS_MAX_ATTEMPTS,
    maxRetryAfterMs: c.HLF_DYNAMICS_MAX_RETRY_AFTER_MS,
    requestTimeoutMs: c.HLF_DYNAMICS_REQUEST_TIMEOUT_MS,
  };
}
