// The local function host (local/function_host.ts) for integration tests of
// the Edge Runtime's limits: restart the function under other limits, list
// its workers, make the runtime warn a worker now.
import { platform } from "../../local/platform.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const HOST = `http://127.0.0.1:${platform.FN_PORT}`;

/** A worker as the host lists it. */
export interface HostWorker {
  id: number;
  pid: number;
  state: "booting" | "active" | "retired" | "terminated";
  served: number;
  cpu_ms: number;
  warned: string | null;
  warned_at: number | null;
}

/** The host's workers now, and the last ones that ended (with why). */
export async function hostWorkers(): Promise<{
  workers: HostWorker[];
  ended: {
    id: number;
    pid: number;
    ended_by: string | null;
    cpu_ms: number;
    warned_at: number | null;
  }[];
}> {
  const response = await fetch(`${HOST}/_edge_host/workers`);
  if (!response.ok) throw new Error(`GET /_edge_host/workers answered HTTP ${response.status}`);
  return await response.json();
}

/** Makes the runtime dispatch beforeunload (with `reason`) to the workers serving now. */
export async function warnWorkers(
  reason: "WallClockTime" | "CPUTime" | "Memory",
): Promise<{ id: number; at: number }[]> {
  const response = await fetch(`${HOST}/_edge_host/beforeunload`, {
    method: "POST",
    body: JSON.stringify({ reason }),
  });
  if (!response.ok) throw new Error(`POST /_edge_host/beforeunload answered ${response.status}`);
  return (await response.json()).warned;
}

async function restartFunction(env: Record<string, string>): Promise<void> {
  const restart = await new Deno.Command("bash", {
    args: [`${ROOT}local/stack.sh`, "restart", "function"],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!restart.success) {
    const said = new TextDecoder().decode(restart.stdout) +
      new TextDecoder().decode(restart.stderr);
    throw new Error(`local/stack.sh restart function failed: ${said}`);
  }
}

/**
 * Runs `body` with the function restarted under other Edge Runtime limits
 * (e.g. `{ EDGE_RUNTIME_WALL_CLOCK_MS: "15000" }`), and restarts it under the
 * defaults afterwards.
 */
export async function withEdgeLimits<T>(
  limits: Record<string, string>,
  body: () => Promise<T>,
): Promise<T> {
  await restartFunction(limits);
  try {
    return await body();
  } finally {
    await restartFunction(
      Object.fromEntries(Object.keys(limits).map((name) => [name, ""])),
    );
  }
}

/** CPU ms the host measured for every worker it has run so far (the last 50 ended ones and the live ones). */
export async function hostCpuMs(): Promise<Map<number, number>> {
  const { workers, ended } = await hostWorkers();
  return new Map([...ended, ...workers].map((w) => [w.id, w.cpu_ms]));
}

/** CPU the host measured between two `hostCpuMs()` readings, over all workers. */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [id, cpu] of after) total += cpu - (before.get(id) ?? 0);
  return total;
}
