import { z } from "zod";
import { EnvironmentError, parseEnv } from "./env.ts";
import { supabaseSecretKey } from "./supabase_secret_key.ts";

/** Where the function runs; production refuses manual triggers. */
export type Environment = "local" | "development" | "staging" | "production";

/** Everything the function reads from its environment, validated once at start-up. */
export interface SchedulerConfig {
  readonly supabaseUrl: string;
  /** The server-side API key: SUPABASE_SECRET_KEYS' default key, or the legacy service_role key. */
  readonly serviceRoleKey: string;
  readonly environment: Environment;
  readonly jobBudgetMs: number;
  readonly leaseGraceMs: number;
  readonly leaseTtlMs: number;
  readonly finalWriteRetryMs: number;
  readonly abortGraceMs: number;
  readonly secretCacheMs: number;
  readonly port: number | undefined;
  /** The Edge Runtime worker's limits (the plan's), which runs plan with. */
  readonly workerLimits: { readonly wallClockMs: number; readonly cpuTimeMs: number };
}

const schema = z.object({
  SUPABASE_URL: z.url(),
  SCHEDULER_ENVIRONMENT: z.enum(["local", "development", "staging", "production"]).default(
    "production",
  ),
  // Hosted wall clock is 150 s (free) / 400 s (paid); leave room to write the log.
  SCHEDULER_JOB_BUDGET_MS: z.coerce.number().int().min(1_000).max(390_000).default(120_000),
  SCHEDULER_ABORT_GRACE_MS: z.coerce.number().int().min(0).max(30_000).default(2_000),
  SCHEDULER_LEASE_GRACE_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  // Heartbeats every third of it: a dead isolate's job is free again within it.
  SCHEDULER_LEASE_TTL_MS: z.coerce.number().int().min(3_000).max(600_000).default(30_000),
  SCHEDULER_FINAL_WRITE_RETRY_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
  SCHEDULER_SECRET_CACHE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  PORT: z.coerce.number().int().min(1).max(65_535).optional(),
  // The worker's limits on the paid plan (docs: functions/limits); the local host sets its own.
  EDGE_RUNTIME_WALL_CLOCK_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(400_000),
  EDGE_RUNTIME_CPU_TIME_MS: z.coerce.number().int().min(100).max(600_000).default(2_000),
});

/**
 * Reads the configuration from an environment lookup. Unset environment means
 * production, so a forgotten variable fails closed (no manual triggers). Errors
 * name the variable, never its value.
 */
export function loadConfig(env: (name: string) => string | undefined): SchedulerConfig {
  // Both reads run, so one error names every bad variable.
  const parsed = attempt(() => parseEnv(schema, env));
  const key = attempt(() => supabaseSecretKey(env));
  const bad = [...parsed.variables, ...key.variables];
  if (bad.length > 0) throw new EnvironmentError(bad);
  const c = parsed.value!;
  // The lease must outlive the wait for a job to stop, or a second run could start beside it.
  if (c.SCHEDULER_LEASE_GRACE_MS < c.SCHEDULER_ABORT_GRACE_MS + 10_000) {
    throw new Error(
      "SCHEDULER_LEASE_GRACE_MS must be at least SCHEDULER_ABORT_GRACE_MS + 10000",
    );
  }
  return {
    supabaseUrl: c.SUPABASE_URL,
    serviceRoleKey: key.value!,
    environment: c.SCHEDULER_ENVIRONMENT,
    jobBudgetMs: c.SCHEDULER_JOB_BUDGET_MS,
    leaseGraceMs: c.SCHEDULER_LEASE_GRACE_MS,
    leaseTtlMs: c.SCHEDULER_LEASE_TTL_MS,
    finalWriteRetryMs: c.SCHEDULER_FINAL_WRITE_RETRY_MS,
    abortGraceMs: c.SCHEDULER_ABORT_GRACE_MS,
    secretCacheMs: c.SCHEDULER_SECRET_CACHE_MS,
    port: c.PORT,
    workerLimits: {
      wallClockMs: c.EDGE_RUNTIME_WALL_CLOCK_MS,
      cpuTimeMs: c.EDGE_RUNTIME_CPU_TIME_MS,
    },
  };
}

/** Runs `read`, turning an EnvironmentError into the variables it names (for one combined error). */
function attempt<T>(read: () => T): { value?: T; variables: string[] } {
  try {
    return { value: read(), variables: [] };
  } catch (error) {
    if (!(error instanceof EnvironmentError)) throw error;
    return { variables: error.variables };
  }
}
