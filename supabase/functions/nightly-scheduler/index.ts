// Composition root of the nightly-scheduler Edge Function: registers every
// service by token (no decorator metadata), then serves. No logic lives here.
// supabase-js and the Dynamics wing are imported on first use (lazyPort,
// dynamic import), so a cold start loads only what its first answer needs
// (BENCHMARKS.md, cold start).
import "reflect-metadata";
import { container, type DependencyContainer } from "tsyringe";
import { AuthorizeCaller } from "../../../src/application/authorize_caller.ts";
import { RunJob } from "../../../src/application/run_job.ts";
import { systemClock } from "../../../src/domain/clock.ts";
import { loadConfig } from "../../../src/infrastructure/config.ts";
import { edgeRuntimeKeepAlive } from "../../../src/infrastructure/edge_runtime/edge_runtime_keep_alive.ts";
import { EdgeRuntimeLifecycle } from "../../../src/infrastructure/edge_runtime/edge_runtime_lifecycle.ts";
import { eventLoopUsage } from "../../../src/infrastructure/edge_runtime/worker_usage.ts";
import { timerSleep } from "../../../src/domain/batch_pacer.ts";
import { createSchedulerHandler } from "../../../src/infrastructure/http/scheduler_handler.ts";
import { lazyPort, once } from "../../../src/infrastructure/lazy_port.ts";
import { JsonLogger } from "../../../src/infrastructure/logging/json_logger.ts";
import { SupabaseCertificationChangeFeed } from "../../../src/infrastructure/supabase/supabase_certification_change_feed.ts";
import { SupabaseCertificationExpiryStore } from "../../../src/infrastructure/supabase/supabase_certification_expiry_store.ts";
import { SupabaseJobLock } from "../../../src/infrastructure/supabase/supabase_job_lock.ts";
import { SupabaseSyncQuarantine } from "../../../src/infrastructure/supabase/supabase_sync_quarantine.ts";
import { SupabaseRetentionStore } from "../../../src/infrastructure/supabase/supabase_retention_store.ts";
import { VaultSecretStore } from "../../../src/infrastructure/supabase/vault_secret_store.ts";
import { TOKENS } from "../../../src/infrastructure/tokens.ts";
import { createJobRegistry } from "../../../src/jobs/registry.ts";

const c: DependencyContainer = container;
const config = loadConfig((name) => Deno.env.get(name));
c.register(TOKENS.Clock, { useValue: systemClock });
c.register(TOKENS.Logger, { useValue: new JsonLogger({ service: "nightly-scheduler" }) });
const client = once(() =>
  import("../../../src/infrastructure/supabase/supabase_client.ts").then((m) =>
    m.createServiceClient(config.supabaseUrl, config.serviceRoleKey)
  )
);
c.register(TOKENS.SecretStore, {
  useFactory: (d) =>
    lazyPort(
      async () =>
        new VaultSecretStore(await client(), d.resolve(TOKENS.Clock), config.secretCacheMs),
      { current: true },
    ),
});
c.register(TOKENS.JobLock, {
  useFactory: () =>
    lazyPort(async () => new SupabaseJobLock(await client()), {
      start: true,
      renew: true,
      finish: true,
    }),
});
c.register(TOKENS.CertificationExpiryStore, {
  useFactory: () =>
    lazyPort(async () => new SupabaseCertificationExpiryStore(await client()), {
      expireBatch: true,
      queueNoticesBatch: true,
    }),
});
c.register(TOKENS.CertificationChangeFeed, {
  useFactory: () =>
    lazyPort(async () => new SupabaseCertificationChangeFeed(await client()), {
      position: true,
      read: true,
      advance: true,
    }),
});
c.register(TOKENS.RetentionStore, {
  useFactory: () =>
    lazyPort(async () => new SupabaseRetentionStore(await client()), {
      targets: true,
      purgeBatch: true,
    }),
});
c.register(TOKENS.SyncQuarantine, {
  useFactory: () =>
    lazyPort(async () => new SupabaseSyncQuarantine(await client()), {
      hold: true,
      due: true,
      release: true,
    }),
});
// The no-op portal unless HLF_DYNAMICS_SYNC_ENABLED=true; see dynamics_settings.ts.
c.register(TOKENS.CertificationPortal, {
  useFactory: (d) =>
    once(() =>
      import("../../../src/infrastructure/dynamics/create_certification_portal.ts").then((m) =>
        m.createCertificationPortal((name) => Deno.env.get(name), {
          fetch: (input, init) => fetch(input, init),
          clock: d.resolve(TOKENS.Clock),
          sleep: timerSleep,
        })
      )
    ),
});
// The worker's wall clock counts from its start (performance.timeOrigin).
c.register(TOKENS.WorkerLifecycle, {
  useValue: new EdgeRuntimeLifecycle({
    limits: config.workerLimits,
    usage: eventLoopUsage(),
    startedAt: performance.timeOrigin,
    now: () => Date.now(),
    events: globalThis,
  }),
});
c.register(TOKENS.JobRegistry, {
  useFactory: (d) =>
    createJobRegistry({
      certificationExpiryStore: d.resolve(TOKENS.CertificationExpiryStore),
      certificationChangeFeed: d.resolve(TOKENS.CertificationChangeFeed),
      certificationPortal: d.resolve(TOKENS.CertificationPortal),
      syncQuarantine: d.resolve(TOKENS.SyncQuarantine),
      retentionStore: d.resolve(TOKENS.RetentionStore),
    }),
});
c.register(TOKENS.AuthorizeCaller, {
  useFactory: (d) => new AuthorizeCaller(d.resolve(TOKENS.SecretStore)),
});
c.register(TOKENS.RunJob, {
  useFactory: (d) =>
    new RunJob({
      registry: d.resolve(TOKENS.JobRegistry),
      lock: d.resolve(TOKENS.JobLock),
      clock: d.resolve(TOKENS.Clock),
      logger: d.resolve(TOKENS.Logger),
      sleep: timerSleep,
      newExecutionId: () => crypto.randomUUID(),
      lifecycle: d.resolve(TOKENS.WorkerLifecycle),
      settings: {
        budgetMs: config.jobBudgetMs,
        leaseGraceMs: config.leaseGraceMs,
        leaseTtlMs: config.leaseTtlMs,
        finalWriteRetryMs: config.finalWriteRetryMs,
        abortGraceMs: config.abortGraceMs,
        allowManualTriggers: config.environment !== "production",
      },
    }),
});

const handler = createSchedulerHandler({
  authorizeCaller: c.resolve<AuthorizeCaller>(TOKENS.AuthorizeCaller),
  runJob: c.resolve<RunJob>(TOKENS.RunJob),
  logger: c.resolve<JsonLogger>(TOKENS.Logger),
  clock: c.resolve(TOKENS.Clock),
  keepAlive: edgeRuntimeKeepAlive(),
});

Deno.serve(config.port ? { port: config.port, hostname: "127.0.0.1" } : {}, handler);
