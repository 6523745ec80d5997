import type {
  DynamicsPortalClient,
  PortalUpsertResult,
} from "../../application/ports/dynamics_portal_client.ts";
import { InfrastructureError } from "../../domain/errors.ts";
import {
  ClientCredentialsTokenProvider,
  type HttpDependencies,
} from "./client_credentials_token_provider.ts";
import { DataversePortalClient } from "./dataverse_portal_client.ts";
import { DisabledPortalClient } from "./disabled_portal_client.ts";
import { DynamicsConfigError, loadDynamicsConfig } from "./dynamics_config.ts";

const BACKOFF = { baseMs: 500, maxMs: 8_000 };

/**
 * The portal client the environment asks for: the no-op one unless
 * `HLF_DYNAMICS_SYNC_ENABLED=true`, else the Dataverse one. A bad configuration
 * does not stop the function: only the sync fails, naming the variables.
 */
export function createDynamicsPortalClient(
  env: (name: string) => string | undefined,
  deps: HttpDependencies,
): DynamicsPortalClient {
  let config;
  try {
    config = loadDynamicsConfig(env);
  } catch (error) {
    if (error instanceof DynamicsConfigError) return new MisconfiguredPortalClient(error.message);
    throw error;
  }
  if (!config.enabled) return new DisabledPortalClient();
  const tokens = new ClientCredentialsTokenProvider({
    tokenUrl: config.tokenUrl,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    scope: config.scope,
    refreshMarginMs: 5 * 60_000,
    maxAttempts: 3,
    backoff: BACKOFF,
  }, deps);
  return new DataversePortalClient({ ...config, backoff: BACKOFF }, tokens, deps);
}

/** Enabled but unusable: every batch fails with the reason, so the execution log shows it. */
class MisconfiguredPortalClient implements DynamicsPortalClient {
  readonly enabled = true;
  readonly #reason: string;

  constructor(reason: string) {
    this.#reason = reason;
  }

  upsertStatuses(): Promise<PortalUpsertResult> {
    return Promise.reject(
      new InfrastructureError(`Cannot sync with the Dynamics portal: ${this.#reason}`),
    );
  }
}
