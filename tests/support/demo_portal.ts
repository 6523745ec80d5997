// The stack's demo Dynamics portal (local/demo_dataverse.ts) for integration
// tests that need the real function with hlf_dynamics_sync switched on: the
// test command's stack runs the function with the sync off, so such a test
// restarts it with `stack.sh up --demo-portal` for its own run and back after.
import { platform } from "../../local/platform.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DEMO = `http://127.0.0.1:${platform.DEMO_PORTAL_PORT}`;

/** What the demo portal counts (GET /_demo/stats). */
export interface DemoPortalStats {
  rows: number;
  upserts: number;
  upsert_multiples: number;
  records_sent: number;
  throttled: number;
  tokens: number;
  latency_ms: number;
}

/** GETs one of the demo's own JSON paths (`stats`, `statuses`, `resent`). */
export async function demoPortal<T>(path: "stats" | "statuses" | "resent"): Promise<T> {
  const response = await fetch(`${DEMO}/_demo/${path}`);
  if (!response.ok) throw new Error(`GET /_demo/${path} answered HTTP ${response.status}`);
  return await response.json() as T;
}

async function setLatency(latencyMs: number): Promise<void> {
  const response = await fetch(`${DEMO}/_demo/latency`, {
    method: "PUT",
    body: JSON.stringify({ latency_ms: latencyMs }),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`PUT /_demo/latency answered HTTP ${response.status}`);
}

async function stackUp(...args: string[]): Promise<void> {
  const up = await new Deno.Command("bash", {
    args: [`${ROOT}local/stack.sh`, "up", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!up.success) {
    const said = new TextDecoder().decode(up.stdout) + new TextDecoder().decode(up.stderr);
    throw new Error(`local/stack.sh up ${args.join(" ")} failed: ${said}`);
  }
}

/**
 * Runs `body` with the stack's function pointed at the demo portal (sync on)
 * and the portal answering each upsert request after `latencyMs`; afterwards
 * the latency is restored, and the function restarted with the sync off unless
 * the demo portal was already running before.
 */
export async function withDemoPortal<T>(latencyMs: number, body: () => Promise<T>): Promise<T> {
  const before = await demoPortal<DemoPortalStats>("stats").catch(() => null);
  await stackUp("--demo-portal");
  try {
    await setLatency(latencyMs);
    return await body();
  } finally {
    if (before === null) {
      await stackUp();
    } else {
      await setLatency(before.latency_ms);
    }
  }
}
