import type {
  CertificationPortal,
  PortalPushResult,
} from "../../application/ports/certification_portal.ts";

/** The portal while `HLF_DYNAMICS_SYNC_ENABLED` is not `true`: sends nothing, accepts nothing. */
export class DisabledCertificationPortal implements CertificationPortal {
  readonly enabled = false;
  readonly recordsInFlight = 1;

  push(): Promise<PortalPushResult> {
    return Promise.resolve({ accepted: new Set(), rejected: [] });
  }
}
