import type { CertificationPortal } from "../../application/ports/certification_portal.ts";
import { ClientCredentialsTokenProvider } from "./client_credentials_token_provider.ts";
import { DataverseCertificationPortal } from "./dataverse_certification_portal.ts";
import { DisabledCertificationPortal } from "./disabled_certification_portal.ts";
import { DynamicsConfigError, loadDynamicsSettings } from "./dynamics_settings.ts";
import type { HttpDependencies } from "./http_dependencies.ts";
import { MisconfiguredCertificationPortal } from "./misconfigured_certification_portal.ts";

/**
 * The portal the environment asks for: the no-op one unless
 * `HLF_DYNAMICS_SYNC_ENABLED=true`, else the Dataverse one. A bad configuration
 * does not stop the function: only the sync fails, naming the variables.
 */
export function createCertificationPortal(
  env: (name: string) => string | undefined,
  deps: HttpDependencies,
): CertificationPortal {
  let settings;
  try {
    settings = loadDynamicsSettings(env);
  } catch (error) {
    if (error instanceof DynamicsConfigError) {
      return new MisconfiguredCertificationPortal(error.message);
    }
    throw error;
  }
  if (settings === null) return new DisabledCertificationPortal();
  const tokens = new ClientCredentialsTokenProvider(settings.token, settings.retry, deps);
  return new DataverseCertificationPortal(settings.dataverse, settings.retry, tokens, deps);
}
