/** CPU and memory of the process the function runs in, as far as the platform lets it read them. */
export interface ProcessUsage {
  /** CPU milliseconds (user + system) since the process started; null when it cannot be read. */
  cpuMs(): number | null;
  /** Resident set size in MB; null when it cannot be read. */
  rssMb(): number | null;
}

// Linux reports utime/stime in clock ticks of 1/100 s (USER_HZ) on every mainstream build.
const TICK_MS = 10;

/**
 * Reads /proc/self/stat. Right where the worker is a process of its own (the
 * local function host); on hosted Supabase the function may not read /proc,
 * so CPU reads null there and the run relies on `beforeunload` alone.
 */
export function procSelfUsage(
  readStat: () => string = () => Deno.readTextFileSync("/proc/self/stat"),
): ProcessUsage {
  let readable = true;
  return {
    cpuMs() {
      if (!readable) return null;
      try {
        // Fields after the command name (which may hold spaces), in parentheses.
        const stat = readStat();
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
      } catch {
        readable = false;
        return null;
      }
    },
    rssMb() {
      try {
        return Math.round(Deno.memoryUsage().rss / (1024 * 1024));
      } catch {
        return null;
      }
    },
  };
}
