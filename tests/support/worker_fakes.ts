// A hand-written WorkerLifecycle for unit tests: the test says when the
// platform stops the worker and how much wall clock and CPU are left.
import type { WorkerLifecycle, WorkerWatch } from "../../src/application/ports/worker_lifecycle.ts";
import {
  type RunCost,
  WorkerStoppingError,
  type WorkerStopReason,
} from "../../src/domain/worker_stop.ts";

/** A worker whose end the test announces with `stop(reason)`. */
export class FakeWorkerLifecycle implements WorkerLifecycle {
  wallLeftMs: number | null;
  cpuLeft: number | null = null;
  readonly #watches: { controller: AbortController; reason: WorkerStopReason | null }[] = [];
  disposed = 0;

  constructor(options: { wallLeftMs?: number | null } = {}) {
    this.wallLeftMs = options.wallLeftMs ?? null;
  }

  /** The platform announces the worker's end (beforeunload) to every run watching it. */
  stop(reason: WorkerStopReason): void {
    for (const w of this.#watches) {
      w.reason ??= reason;
      w.controller.abort(new WorkerStoppingError(reason));
    }
  }

  watch(): WorkerWatch {
    const entry = { controller: new AbortController(), reason: null as WorkerStopReason | null };
    this.#watches.push(entry);
    return {
      signal: entry.controller.signal,
      wallClockLeftMs: () => this.wallLeftMs,
      cpuLeftMs: () => this.cpuLeft,
      cost: (): RunCost => ({ cpuMs: 42, peakRssMb: 99, stopReason: entry.reason }),
      dispose: () => void this.disposed++,
    };
  }
}
