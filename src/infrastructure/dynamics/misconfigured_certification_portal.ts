import type {
  CertificationPortal,
  PortalPushResult,
} from "../../application/ports/certification_portal.ts";
import { InfrastructureError } from "../../domain/errors.ts";

/** Enabled but unusable: every push fails with the reason, so the execution log shows it. */
export class MisconfiguredCertificationPortal implements CertificationPortal {
  readonly enabled = true;
  readonly recordsInFlight = 1;
  readonly #reason: string;

  constructor(reason: string) {
    this.#reason = reason;
  }

  push(): Promise<PortalPushResult> {
    return Promise.reject(
      new InfrastructureError(`Cannot sync with the Dynamics portal: ${this.#reason}`),
    );
  }
}
