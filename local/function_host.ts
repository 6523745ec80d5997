/**
 * LOCAL ONLY: the hosted Edge Runtime in small, for the function. It runs the
 * function's module (argument 1) in workers (processes, see edge_worker.ts)
 * that serve requests until a limit, on the port PORT, and enforces per worker
 * the limits of local/edge_limits.ts (wall clock, CPU time across requests and
 * waitUntil work, memory; beforeunload at 90% with `detail.reason`), the
 * request idle timeout (504) and the log rate. A retired or terminated worker
 * is replaced on the next request, as on hosted. On the host's own port (not
 * through the gateway), for tests: `GET /_edge_host/workers` lists the
 * workers; `POST /_edge_host/beforeunload {"reason"}` makes the runtime warn
 * the serving worker now, as it would near a limit (the worker is retired and
 * ends once idle, or at its limits). Started by local/lib/services.sh start_function.
 */
import { edgeLimits } from "./edge_limits.ts";
import { EdgeWorker } from "./edge_worker.ts";
import { LogGate } from "./log_gate.ts";

const entry = Deno.args[0];
const port = Number(Deno.env.get("PORT"));
if (!entry || !Number.isInteger(port)) {
  console.error("usage: PORT=n function_host.ts <function entry point>");
  Deno.exit(2);
}
const limits = edgeLimits((name) => Deno.env.get(name));
const log = new LogGate({
  perWindow: limits.logEventsPerWindow,
  windowMs: limits.logWindowMs,
  maxChars: limits.logMessageChars,
});
// The function sees what the runtime injects plus its secrets, and its worker's limits.
const functionEnv: Record<string, string> = {
  ...Deno.env.toObject(),
  EDGE_RUNTIME_WALL_CLOCK_MS: String(limits.wallClockMs),
  EDGE_RUNTIME_CPU_TIME_MS: String(limits.cpuTimeMs),
};
delete functionEnv.PORT;

let nextId = 1;
let current: EdgeWorker | null = null;
let starting: Promise<EdgeWorker> | null = null;
const workers = new Map<number, EdgeWorker>();
const ended: Record<string, unknown>[] = [];

/** The worker that takes the next request: the active one, or a fresh one. */
function worker(): Promise<EdgeWorker> {
  if (current?.state === "active") return Promise.resolve(current);
  starting ??= EdgeWorker.start({
    id: nextId++,
    entry,
    limits,
    env: functionEnv,
    log,
    onEnd: (w) => {
      workers.delete(w.id);
      ended.push({
        id: w.id,
        pid: w.pid,
        ended_by: w.endedBy,
        served: w.served,
        cpu_ms: w.cpuMs,
        warned: w.warned,
        warned_at: w.warnedAt,
      });
      if (ended.length > 50) ended.shift();
      if (current === w) prepare();
    },
    onRetire: (w) => {
      if (current === w) prepare();
    },
  }).then((w) => {
    workers.set(w.id, w);
    current = w;
    log.note("edge_runtime.worker_started", { worker: w.id, pid: w.pid });
    return w;
  }).finally(() => (starting = null));
  return starting;
}

/**
 * Boots the next worker as soon as the current one is retired or gone. Hosted
 * boots one per request in ~42 ms (mean); a Deno process here takes about a
 * second, so booting ahead keeps that second out of the next request.
 */
function prepare(): void {
  current = null;
  void worker().catch(() => undefined);
}

function hostError(status: number, code: string, message: string): Response {
  return Response.json({ code, message }, { status, headers: { "sb-error-code": code } });
}

async function proxy(request: Request): Promise<Response> {
  let w: EdgeWorker;
  try {
    w = await worker();
  } catch {
    return hostError(503, "BOOT_ERROR", "Worker failed to boot");
  }
  w.served++;
  const url = new URL(request.url);
  const idle = AbortSignal.timeout(limits.requestIdleTimeoutMs);
  try {
    const answer = await fetch(`http://127.0.0.1:${w.port}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body === null ? undefined : await request.arrayBuffer(),
      signal: idle,
    });
    const headers = new Headers(answer.headers);
    headers.set("x-edge-worker", String(w.id));
    return new Response(answer.body, { status: answer.status, headers });
  } catch {
    if (idle.aborted) {
      return hostError(504, "IDLE_TIMEOUT", "The function did not answer in time");
    }
    return hostError(546, "WORKER_LIMIT", "The worker was stopped by a resource limit");
  }
}

function status(): Response {
  return Response.json({
    limits,
    log_events_dropped: log.droppedTotal,
    workers: [...workers.values()].map((w) => ({
      id: w.id,
      pid: w.pid,
      state: w.state,
      age_ms: w.ageMs,
      cpu_ms: w.cpuMs,
      rss_mb: w.rssMb,
      served: w.served,
      warned: w.warned,
      warned_at: w.warnedAt,
    })),
    ended,
  });
}

/** Warns every worker still serving (the one that ran the last request among them). */
async function warnNow(request: Request): Promise<Response> {
  const { reason } = await request.json() as { reason?: string };
  if (reason !== "WallClockTime" && reason !== "CPUTime" && reason !== "Memory") {
    return hostError(400, "INVALID_REASON", `Unknown reason '${String(reason)}'`);
  }
  const targets = [...workers.values()].filter((w) => w.state === "active" && w.served > 0);
  for (const w of targets) w.warn(reason);
  return Response.json({ warned: targets.map((w) => ({ id: w.id, at: w.warnedAt })) });
}

Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/_edge_host/workers") return status();
  if (path === "/_edge_host/beforeunload" && request.method === "POST") return warnNow(request);
  // The workers' control paths are the host's to use, never a caller's.
  if (path.startsWith("/_edge_worker/")) return hostError(404, "NOT_FOUND", "Not found");
  return proxy(request);
});
log.note("edge_runtime.host_started", { port, limits });
// Boot the first worker now, so the first request does not wait for it.
void worker().catch(() => undefined);
Deno.addSignalListener("SIGTERM", () => {
  for (const w of workers.values()) w.kill();
  Deno.exit(0);
});
