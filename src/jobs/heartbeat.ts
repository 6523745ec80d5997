import { InvalidPayloadError } from "../domain/errors.ts";
import type { JobHandler } from "../domain/job.ts";
import { type Sleep, timerSleep } from "../domain/batch_pacer.ts";

/** The longest a heartbeat may hold its lock, so a typo cannot park the job for hours. */
export const MAX_HOLD_MS = 60_000;
/** The most CPU a heartbeat may burn: enough to cross any worker's CPU limit on purpose. */
export const MAX_CPU_MS = 10_000;
/** CPU burnt between two looks at the signal, so a stop is seen within a few of these. */
export const CPU_SLICE_MS = 20;

/** What the heartbeat needs besides its payload; the defaults are the real timer and event loop. */
export interface HeartbeatOptions {
  readonly sleep?: Sleep;
  /** Lets other work (timers, the signal) run between slices. */
  readonly yieldNow?: () => Promise<void>;
}

/**
 * `heartbeat`: touches no data and proves the whole path (trigger, auth, lock,
 * log) works. `{"hold_ms": n}` keeps the run (and its lock) open for n ms, which
 * operators use to check overlap protection and long-run logging;
 * `{"cpu_ms": n}` burns n ms of CPU in slices, looking at its signal between
 * them, so the platform's CPU limit can be proven end to end.
 */
export function heartbeat(options: HeartbeatOptions = {}): JobHandler {
  const sleep = options.sleep ?? timerSleep;
  const yieldNow = options.yieldNow ?? (() => new Promise<void>((r) => setTimeout(r, 0)));
  return async (payload, context) => {
    const holdMs = parseMs(payload.hold_ms, "hold_ms", MAX_HOLD_MS, context.jobName);
    const cpuMs = parseMs(payload.cpu_ms, "cpu_ms", MAX_CPU_MS, context.jobName);
    if (holdMs > 0) await sleep(holdMs, context.signal);
    // Busy time by the clock: CPU time on a core of its own (a function cannot read its CPU).
    const wall = () => context.clock.now().getTime();
    let burnt = 0;
    while (burnt < cpuMs) {
      if (context.signal.aborted) throw context.signal.reason;
      const start = wall();
      const sliceEnd = start + Math.min(CPU_SLICE_MS, cpuMs - burnt);
      while (wall() < sliceEnd) spin();
      burnt += Math.max(1, wall() - start);
      await yieldNow();
    }
    const now = context.clock.now();
    context.logger.info("heartbeat.beat", { held_ms: holdMs, cpu_ms: burnt });
    return {
      beat_at: now.toISOString(),
      held_ms: holdMs,
      ...(cpuMs > 0 ? { cpu_ms: burnt } : {}),
      trigger: context.trigger,
    };
  };
}

let sink = 0;
/** A little arithmetic the engine cannot drop. */
function spin(): void {
  for (let i = 0; i < 1_000; i++) sink = (sink * 31 + i) % 1_000_003;
}

function parseMs(value: unknown, field: string, max: number, jobName: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidPayloadError(
      jobName,
      `'${field}' must be an integer from 0 to ${max}, got '${String(value)}'`,
    );
  }
  return value;
}
