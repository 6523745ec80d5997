import type { WorkerLifecycle, WorkerWatch } from "../../application/ports/worker_lifecycle.ts";
import { WorkerStoppingError, type WorkerStopReason } from "../../domain/worker_stop.ts";
import type { WorkerUsage } from "./worker_usage.ts";

/** The limits of the worker the function runs in (hosted paid plan: 400 s, 2 s CPU). */
export interface WorkerLimits {
  readonly wallClockMs: number;
  readonly cpuTimeMs: number;
}

/** What the lifecycle reads from its surroundings; tests pass fakes. */
export interface EdgeRuntimeLifecycleOptions {
  readonly limits: WorkerLimits;
  readonly usage: WorkerUsage;
  /** Epoch ms when the worker started (its wall clock counts from then). */
  readonly startedAt: number;
  readonly now: () => number;
  /** Where `beforeunload` is dispatched: the worker's global. */
  readonly events: EventTarget;
  /** How often a watch compares usage with the limits. */
  readonly pollMs?: number;
}

const REASONS: Record<string, WorkerStopReason> = {
  WallClockTime: "wall_clock",
  CPUTime: "cpu_time",
  Memory: "memory",
};

/**
 * The Edge Runtime's worker, as a run sees it. The runtime announces a
 * worker's end with `beforeunload` (reason in `event.detail.reason`) at about
 * 90% of a limit; the run also keeps its own account, so it stops before the
 * runtime has to say so: at 90% of the wall clock, and with max(200 ms, 20%)
 * of the CPU time still left for writing its end (its CPU account is an estimate).
 */
export class EdgeRuntimeLifecycle implements WorkerLifecycle {
  readonly #options: EdgeRuntimeLifecycleOptions;
  readonly #baselineCpuMs: number;
  #stopped: WorkerStopReason | null = null;
  readonly #watchers = new Set<(reason: WorkerStopReason) => void>();

  constructor(options: EdgeRuntimeLifecycleOptions) {
    this.#options = options;
    // CPU spent booting is not the worker's to spend (the host counts from ready, too).
    this.#baselineCpuMs = options.usage.cpuMs();
    options.events.addEventListener("beforeunload", (event) => {
      const raw = (event as CustomEvent<{ reason?: string } | null>).detail?.reason;
      this.#stop(REASONS[raw ?? ""] ?? "shutdown");
    });
  }

  /** Wall-clock ms until the point the worker's runs must have stopped by. */
  wallClockLeftMs(): number {
    const { limits, startedAt, now } = this.#options;
    return Math.max(0, startedAt + limits.wallClockMs * 0.9 - now());
  }

  /** CPU ms left before the reserve for writing a run's end, by the function's own account. */
  cpuLeftMs(): number {
    const used = this.#cpuUsedMs();
    const { cpuTimeMs } = this.#options.limits;
    return Math.max(0, cpuTimeMs - Math.max(200, cpuTimeMs * 0.2) - used);
  }

  watch(): WorkerWatch {
    this.#options.usage.measure(true);
    const controller = new AbortController();
    const startCpu = this.#cpuUsedMs();
    let peakRss = this.#options.usage.rssMb();
    let reason: WorkerStopReason | null = null;
    const abort = (why: WorkerStopReason) => {
      reason ??= why;
      if (!controller.signal.aborted) controller.abort(new WorkerStoppingError(why));
    };
    const check = () => {
      const rss = this.#options.usage.rssMb();
      if (rss !== null) peakRss = Math.max(peakRss ?? 0, rss);
      if (this.wallClockLeftMs() <= 0) abort("wall_clock");
      else if (this.cpuLeftMs() === 0) abort("cpu_time");
    };
    this.#watchers.add(abort);
    if (this.#stopped !== null) abort(this.#stopped);
    check();
    const timer = setInterval(check, this.#options.pollMs ?? 100);
    return {
      signal: controller.signal,
      wallClockLeftMs: () => this.wallClockLeftMs(),
      cpuLeftMs: () => this.cpuLeftMs(),
      cost: () => {
        const cpu = this.#cpuUsedMs();
        return {
          cpuMs: cpu - startCpu,
          peakRssMb: peakRss,
          stopReason: reason,
        };
      },
      dispose: () => {
        if (!this.#watchers.delete(abort)) return;
        clearInterval(timer);
        this.#options.usage.measure(false);
      },
    };
  }

  #cpuUsedMs(): number {
    return this.#options.usage.cpuMs() - this.#baselineCpuMs;
  }

  #stop(reason: WorkerStopReason): void {
    this.#stopped ??= reason;
    for (const abort of this.#watchers) abort(reason);
  }
}
