import type {
  DynamicsPortalClient,
  PortalUpsertResult,
} from "../../application/ports/dynamics_portal_client.ts";

/** The portal while `HLF_DYNAMICS_SYNC_ENABLED` is not `true`: sends nothing, accepts nothing. */
export class DisabledPortalClient implements DynamicsPortalClient {
  readonly enabled = false;

  upsertStatuses(): Promise<PortalUpsertResult> {
    return Promise.resolve({ accepted: new Set(), rejected: [] });
  }
}
