import type { CertificationChangeFeed } from "../application/ports/certification_change_feed.ts";
import type { CertificationExpiryStore } from "../application/ports/certification_expiry_store.ts";
import type { CertificationPortal } from "../application/ports/certification_portal.ts";
import type { SyncQuarantine } from "../application/ports/sync_quarantine.ts";
import type { RetentionStore } from "../application/ports/retention_store.ts";
import type { JobHandler, JobRegistry } from "../domain/job.ts";
import { certificationExpiryCheck } from "./certification_expiry_check.ts";
import { heartbeat } from "./heartbeat.ts";
import { hlfDynamicsSync } from "./hlf_dynamics_sync.ts";
import { lazyJob } from "./lazy_job.ts";
import { schedulerRetention } from "./scheduler_retention.ts";

/**
 * The ports jobs need, bound here so a handler gets only its own and never a
 * database client or key. A new job that needs data access adds its port here.
 */
export interface JobPorts {
  readonly certificationExpiryStore: CertificationExpiryStore;
  readonly certificationChangeFeed: CertificationChangeFeed;
  /** Made on the sync's first run, so the portal's modules load only then. */
  readonly certificationPortal: () => Promise<CertificationPortal>;
  readonly syncQuarantine: SyncQuarantine;
  readonly retentionStore: RetentionStore;
}

/** Every job the scheduler can run. Adding a job: one file in src/jobs/ and one line here. */
export function createJobRegistry(ports: JobPorts): JobRegistry {
  return new Map<string, JobHandler>([
    ["heartbeat", heartbeat()],
    ["certification_expiry_check", certificationExpiryCheck(ports.certificationExpiryStore)],
    [
      "hlf_dynamics_sync",
      lazyJob(async () =>
        hlfDynamicsSync({
          portal: await ports.certificationPortal(),
          feed: ports.certificationChangeFeed,
          quarantine: ports.syncQuarantine,
        })
      ),
    ],
    ["scheduler_retention", schedulerRetention(ports.retentionStore)],
  ]);
}
