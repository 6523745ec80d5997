/**
 * LOCAL ONLY: the hosted Edge Runtime's limits as the local function host
 * enforces them, read from the environment of `bash local/stack.sh up`.
 * Defaults are the paid plan's (docs: guides/functions/limits).
 */

/** The limits of one worker, and what the host does at each. */
export interface EdgeLimits {
  /** Wall clock per worker: retired at half, beforeunload at 90%, terminated at the limit. */
  readonly wallClockMs: number;
  /** CPU per worker across its requests and waitUntil work: retired at half (the soft limit), beforeunload at 90%, terminated at the limit (the hard limit). */
  readonly cpuTimeMs: number;
  /** Resident memory: beforeunload (and retired) at 90%, terminated at the limit. */
  readonly memoryMb: number;
  /** A request without a response this long is answered 504. */
  readonly requestIdleTimeoutMs: number;
  /** Log events kept per window; the rest are dropped and counted. */
  readonly logEventsPerWindow: number;
  readonly logWindowMs: number;
  /** Longest log message kept, in characters; longer ones are cut. */
  readonly logMessageChars: number;
}

function positive(env: (name: string) => string | undefined, name: string, fallback: number) {
  const raw = env(name);
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer, got '${raw}'`);
  }
  return value;
}

/** Reads EDGE_RUNTIME_* from the environment; unset ones get the hosted paid plan's values. */
export function edgeLimits(env: (name: string) => string | undefined): EdgeLimits {
  return {
    wallClockMs: positive(env, "EDGE_RUNTIME_WALL_CLOCK_MS", 400_000),
    cpuTimeMs: positive(env, "EDGE_RUNTIME_CPU_TIME_MS", 2_000),
    memoryMb: positive(env, "EDGE_RUNTIME_MEMORY_MB", 256),
    requestIdleTimeoutMs: positive(env, "EDGE_RUNTIME_REQUEST_IDLE_TIMEOUT_MS", 150_000),
    logEventsPerWindow: 100,
    logWindowMs: 10_000,
    logMessageChars: 10_000,
  };
}

/** The limit a worker crossed, as the runtime names it in `beforeunload`'s `detail.reason`. */
export type LimitReason = "WallClockTime" | "CPUTime" | "Memory";

/** What the host does to a worker with this usage: nothing, retire it, warn it, or terminate it. */
export function verdict(
  limits: EdgeLimits,
  usage: { ageMs: number; cpuMs: number; rssMb: number },
): { retire: boolean; warn: LimitReason | null; terminate: LimitReason | null } {
  const over = (value: number, limit: number, share: number) => value >= limit * share;
  const terminate: LimitReason | null = over(usage.ageMs, limits.wallClockMs, 1)
    ? "WallClockTime"
    : over(usage.cpuMs, limits.cpuTimeMs, 1)
    ? "CPUTime"
    : over(usage.rssMb, limits.memoryMb, 1)
    ? "Memory"
    : null;
  const warn: LimitReason | null = over(usage.ageMs, limits.wallClockMs, 0.9)
    ? "WallClockTime"
    : over(usage.cpuMs, limits.cpuTimeMs, 0.9)
    ? "CPUTime"
    : over(usage.rssMb, limits.memoryMb, 0.9)
    ? "Memory"
    : null;
  const retire = warn !== null || over(usage.ageMs, limits.wallClockMs, 0.5) ||
    over(usage.cpuMs, limits.cpuTimeMs, 0.5);
  return { retire, warn, terminate };
}
