/** CPU and memory of the worker the function runs in, as far as the function can tell. */
export interface WorkerUsage {
  /** CPU milliseconds the worker's JavaScript has spent since the meter started. */
  cpuMs(): number;
  /** Resident set size in MB; null when it cannot be read. */
  rssMb(): number | null;
}

/**
 * The function's own CPU account. Neither the Edge Runtime nor Deno 2.1 tells a
 * function its CPU time (no `process.cpuUsage()`, and /proc needs more than
 * `--allow-read`), so a timer measures how long the event loop was blocked:
 * a tick due every `intervalMs` that arrives late was kept waiting by
 * JavaScript running on the one thread. It misses bursts shorter than the
 * interval and those hidden in the interval's first part, and counts waiting
 * for a core on a loaded machine as use: an estimate, on the low side, and the
 * runtime's `beforeunload` stays the backstop. The timer does
 * not keep the worker alive.
 */
export function eventLoopUsage(
  intervalMs = 10,
  jitterMs = 4,
  now = () => performance.now(),
): WorkerUsage {
  let busy = 0;
  let last = now();
  const timer = setInterval(() => {
    const at = now();
    const late = at - last - intervalMs;
    // Lateness under the floor is timer jitter (a loaded machine), not JavaScript running.
    if (late > jitterMs) busy += late;
    last = at;
  }, intervalMs);
  Deno.unrefTimer(timer);
  return {
    cpuMs: () => Math.round(busy),
    rssMb() {
      try {
        return Math.round(Deno.memoryUsage().rss / (1024 * 1024));
      } catch {
        return null;
      }
    },
  };
}
