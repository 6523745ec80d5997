import { z } from "zod";
import { EnvironmentError, parseEnv } from "../env.ts";
import type { ClientCredentialsSettings } from "./client_credentials_token_provider.ts";
import { Redacted } from "./redacted.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry_policy.ts";

/** Where the portal's table lives and how hard to push. */
export interface DataverseSettings {
  /** The Web API root, ending in `/`: `https://<org>.crm.dynamics.com/api/data/v9.2/`. */
  readonly apiUrl: string;
  readonly entitySet: string;
  /** The table's logical name, for the `@odata.type` of each UpsertMultiple target. */
  readonly entityName: string;
  readonly alternateKey: string;
  /** Requests in flight at once (Dataverse allows 52 per user). */
  readonly concurrency: number;
  /** Records per UpsertMultiple request; 1 sends one PATCH per record. */
  readonly batchSize: number;
  readonly requestTimeoutMs: number;
}

/** Every setting of the Dynamics sync, parsed once from the environment. */
export interface DynamicsSettings {
  readonly token: ClientCredentialsSettings;
  readonly dataverse: DataverseSettings;
  /** Shared by token requests and upserts. */
  readonly retry: RetryPolicy;
}

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
  HLF_DYNAMICS_ENTITY_NAME: identifier.default("hlf_peermentorcertification"),
  HLF_DYNAMICS_ALTERNATE_KEY: identifier.default("hlf_certificationid"),
  HLF_DYNAMICS_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(16),
  // Dataverse advises 100 to 1,000 records per bulk request; large ones risk its 2-minute limit.
  HLF_DYNAMICS_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  HLF_DYNAMICS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10)
    .default(DEFAULT_RETRY_POLICY.maxAttempts),
  HLF_DYNAMICS_MAX_RETRY_AFTER_MS: z.coerce.number().int().min(0).max(300_000)
    .default(DEFAULT_RETRY_POLICY.maxRetryAfterMs),
  HLF_DYNAMICS_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(120_000).default(30_000),
});

/**
 * Reads the sync's settings: null (off) unless `HLF_DYNAMICS_SYNC_ENABLED` is
 * exactly `true`; when on, a bad or missing variable throws DynamicsConfigError.
 */
export function loadDynamicsSettings(
  env: (name: string) => string | undefined,
): DynamicsSettings | null {
  if (env("HLF_DYNAMICS_SYNC_ENABLED") !== "true") return null;
  let c: z.infer<typeof schema>;
  try {
    c = parseEnv(schema, env);
  } catch (error) {
    if (error instanceof EnvironmentError) throw new DynamicsConfigError(error.variables);
    throw error;
  }
  const origin = new URL(c.HLF_DYNAMICS_BASE_URL).origin;
  return {
    token: {
      tokenUrl: c.HLF_DYNAMICS_TOKEN_URL ??
        `https://login.microsoftonline.com/${c.HLF_DYNAMICS_TENANT_ID}/oauth2/v2.0/token`,
      clientId: c.HLF_DYNAMICS_CLIENT_ID,
      clientSecret: new Redacted(c.HLF_DYNAMICS_CLIENT_SECRET),
      scope: c.HLF_DYNAMICS_SCOPE ?? `${origin}/.default`,
      refreshMarginMs: 5 * 60_000,
    },
    dataverse: {
      apiUrl: `${origin}/api/data/v9.2/`,
      entitySet: c.HLF_DYNAMICS_ENTITY_SET,
      entityName: c.HLF_DYNAMICS_ENTITY_NAME,
      alternateKey: c.HLF_DYNAMICS_ALTERNATE_KEY,
      concurrency: c.HLF_DYNAMICS_CONCURRENCY,
      batchSize: c.HLF_DYNAMICS_BATCH_SIZE,
      requestTimeoutMs: c.HLF_DYNAMICS_REQUEST_TIMEOUT_MS,
    },
    retry: {
      ...DEFAULT_RETRY_POLICY,
      maxAttempts: c.HLF_DYNAMICS_MAX_ATTEMPTS,
      maxRetryAfterMs: c.HLF_DYNAMICS_MAX_RETRY_AFTER_MS,
    },
  };
}
