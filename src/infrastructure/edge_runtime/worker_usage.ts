/** CPU and memory of the worker the function runs in, as far as the function can tell. */
export interface WorkerUsage {
  /** CPU milliseconds the worker's JavaScript has spent while measured. */
  cpuMs(): number;
  /** Resident set size in MB; null when it cannot be read. */
  rssMb(): number | null;
  /** Measures while at least one caller wants it (`measure(true)` ... `measure(false)`). */
  measure(on: boolean): void;
}

/**
 * The function's own CPU account. Neither the Edge Runtime nor Deno 2.1 tells a
 * function its CPU time (no `process.cpuUsage()`, and /proc needs more than
 * `--allow-read`), so a timer measures how long the event loop was blocked:
 * a tick due every `intervalMs` that arrives late was kept waiting by
 * JavaScript running on the one thread. It misses bursts shorter than the
 * interval and those hidden in the interval's first part, and counts waiting
 * for a core on a loaded machine as use: an estimate, on the low side, and the
 * runtime's `beforeunload` stays the backstop. It ticks only while a run is
 * measured (its ticks cost CPU too, about 1% of the time they run), and its
 * timer never keeps the worker alive.
 */
export function eventLoopUsage(
  intervalMs = 10,
  jitterMs = 4,
  now = () => performance.now(),
): WorkerUsage {
  let busy = 0;
  let users = 0;
  let timer: number | undefined;
  let last = 0;
  const tick = () => {
    const at = now();
    const late = at - last - intervalMs;
    // Lateness under the floor is timer jitter (a loaded machine), not JavaScript running.
    if (late > jitterMs) busy += late;
    last = at;
  };
  return {
    cpuMs: () => Math.round(busy),
    rssMb() {
      try {
        return Math.round(Deno.memoryUsage().rss / (1024 * 1024));
      } catch {
        return null;
      }
    },
    measure(on) {
      users = Math.max(0, users + (on ? 1 : -1));
      if (users > 0 && timer === undefined) {
        last = now();
        timer = setInterval(tick, intervalMs);
        // Feature-detected: a runtime without it just keeps the timer referenced while a run lasts.
        (Deno as { unrefTimer?: (id: number) => void }).unrefTimer?.(timer);
      } else if (users === 0 && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
    },
  };
}
