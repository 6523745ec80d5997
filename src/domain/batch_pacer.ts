import type { Clock } from "./clock.ts";
import { WorkerStoppingError } from "./worker_stop.ts";

/**
 * Why a batched job stopped before its work was done: its signal aborted, its
 * deadline came, or the platform is stopping its worker (work left for a fresh one).
 */
export type StopReason = "aborted" | "deadline" | "worker_stopping";

/** A pause that ends early (rejecting with the abort reason) when the signal aborts. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** The one real timer-based sleep of the code base; tests inject one that moves a fake clock. */
export const timerSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

/** What the pacer reads: the run's signal and deadline, and the clock that measures batches. */
export interface PacedRun {
  readonly signal: AbortSignal;
  readonly deadline: Date;
  readonly clock: Clock;
}

/**
 * The one rule every batched job uses for "is there time for another batch":
 * not once the signal has aborted, and not when a batch as long as the longest
 * so far would end inside the safety margin before the deadline (the margin is
 * for writing the log and answering before the platform's wall clock cuts the
 * isolate off). The margin is at most a quarter of the time left at the first
 * question, so a short budget (10 s parts) still gets its batches.
 */
export class BatchPacer {
  readonly #run: PacedRun;
  readonly #maxMarginMs: number;
  #marginMs: number | null = null;
  #batches = 0;
  #longestMs = 0;

  constructor(run: PacedRun, marginMs: number) {
    this.#run = run;
    this.#maxMarginMs = marginMs;
  }

  /** Batches run so far. */
  get batches(): number {
    return this.#batches;
  }

  /** The longest batch so far, by the run's clock. */
  get longestMs(): number {
    return this.#longestMs;
  }

  /** Null when another batch may start, otherwise why not. */
  stopReason(): StopReason | null {
    const { signal, deadline, clock } = this.#run;
    if (signal.aborted) {
      return signal.reason instanceof WorkerStoppingError ? "worker_stopping" : "aborted";
    }
    const now = clock.now().getTime();
    const latestStart = deadline.getTime() - this.#margin(now) - this.#longestMs;
    return now > latestStart ? "deadline" : null;
  }

  /**
   * A signal that aborts when the margin before the deadline begins, or with
   * the run's: for waits inside a batch (a portal's `Retry-After`) that must
   * not eat into the margin. `dispose()` clears its timer.
   */
  softStop(): { signal: AbortSignal; dispose(): void } {
    const { signal, deadline, clock } = this.#run;
    const now = clock.now().getTime();
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error("The run's time is nearly up")),
      Math.max(0, deadline.getTime() - this.#margin(now) - now),
    );
    return {
      signal: AbortSignal.any([signal, controller.signal]),
      dispose: () => clearTimeout(timer),
    };
  }

  #margin(now: number): number {
    const left = Math.max(0, this.#run.deadline.getTime() - now);
    return this.#marginMs ??= Math.min(this.#maxMarginMs, left / 4);
  }

  /**
   * Whether stopping now leaves work for a next part: the deadline stopped it
   * after some progress, or the worker is being stopped (the next part gets a
   * fresh one; the job's part cap bounds a worker that never gets far).
   */
  workRemains(stop: StopReason | null): boolean {
    return (stop === "deadline" && this.#batches > 0) || stop === "worker_stopping";
  }

  /** Runs one batch and times it. */
  async run<T>(batch: () => Promise<T>): Promise<{ result: T; durationMs: number }> {
    const started = this.#run.clock.now().getTime();
    const result = await batch();
    const durationMs = this.#run.clock.now().getTime() - started;
    this.#batches++;
    this.#longestMs = Math.max(this.#longestMs, durationMs);
    return { result, durationMs };
  }
}
