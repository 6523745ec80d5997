import { DomainError } from "./errors.ts";

/** Why the platform stops the worker a run is in: one of its limits, or a shutdown. */
export type WorkerStopReason = "wall_clock" | "cpu_time" | "memory" | "shutdown";

const LABELS: Record<WorkerStopReason, string> = {
  wall_clock: "wall clock",
  cpu_time: "CPU time",
  memory: "memory",
  shutdown: "shutdown",
};

/** The words a log row uses for a stop reason ("CPU time"). */
export function workerStopLabel(reason: WorkerStopReason): string {
  return LABELS[reason];
}

/**
 * The worker running the job is about to be stopped by the platform (or the
 * run's share of its wall clock or CPU is spent): the job stops at its next
 * safe point. Not the job's own failure, so its row names the limit.
 */
export class WorkerStoppingError extends DomainError {
  constructor(readonly reason: WorkerStopReason) {
    super("worker_stopping", `The Edge Runtime stopped the worker: ${workerStopLabel(reason)}`);
  }
}

/** What one run cost its worker; null where the platform does not let it be measured. */
export interface RunCost {
  readonly cpuMs: number | null;
  readonly peakRssMb: number | null;
  /** Set when the platform stopped (or was about to stop) the worker during the run. */
  readonly stopReason: WorkerStopReason | null;
}
