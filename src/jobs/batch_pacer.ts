import type { JobContext } from "../domain/job.ts";

/** Why a batched job stopped before its work was done. */
export type StopReason = "aborted" | "deadline";

/**
 * Decides between batches whether another one may start: not once the signal
 * has aborted, and not when a batch as long as the longest so far would end
 * inside the safety margin before the deadline (the margin is for writing the
 * log and answering before the platform's wall clock cuts the isolate off).
 */
export class BatchPacer {
  readonly #context: Pick<JobContext, "signal" | "deadline" | "clock">;
  readonly #marginMs: number;
  #batches = 0;
  #longestMs = 0;

  constructor(context: Pick<JobContext, "signal" | "deadline" | "clock">, marginMs: number) {
    this.#context = context;
    this.#marginMs = marginMs;
  }

  /** Batches run so far. */
  get batches(): number {
    return this.#batches;
  }

  /** The longest batch so far, by the job's clock. */
  get longestMs(): number {
    return this.#longestMs;
  }

  /** Null when another batch may start, otherwise why not. */
  stopReason(): StopReason | null {
    const { signal, deadline, clock } = this.#context;
    if (signal.aborted) return "aborted";
    const latestStart = deadline.getTime() - this.#marginMs - this.#longestMs;
    return clock.now().getTime() > latestStart ? "deadline" : null;
  }

  /** Runs one batch and times it. */
  async run<T>(batch: () => Promise<T>): Promise<{ result: T; durationMs: number }> {
    const started = this.#context.clock.now().getTime();
    const result = await batch();
    const durationMs = this.#context.clock.now().getTime() - started;
    this.#batches++;
    this.#longestMs = Math.max(this.#longestMs, durationMs);
    return { result, durationMs };
  }
}
