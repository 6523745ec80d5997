import type { RunCost } from "../../domain/worker_stop.ts";

/** One run's view of the worker it runs in, from its start until `dispose()`. */
export interface WorkerWatch {
  /**
   * Aborts with a WorkerStoppingError when the platform announces the worker's
   * end (beforeunload), or when the worker's wall clock or CPU time left drops
   * to what a run needs to write its end.
   */
  readonly signal: AbortSignal;
  /** Milliseconds of wall clock the run may still plan with; null when unknown. */
  wallClockLeftMs(): number | null;
  /** Milliseconds of CPU time the run may still spend; null when unknown. */
  cpuLeftMs(): number | null;
  /** What the run has cost so far, and why the worker was stopped, if it was. */
  cost(): RunCost;
  /** Stops watching (timers, listeners). */
  dispose(): void;
}

/** The worker's life as the platform runs it: its limits, its end, its usage. */
export interface WorkerLifecycle {
  /** Starts watching the worker on behalf of one run. */
  watch(): WorkerWatch;
}
