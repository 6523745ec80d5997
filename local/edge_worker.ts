/**
 * LOCAL ONLY: one worker of the local function host, a Deno process of its
 * own running local/edge_worker_main.ts with the function's module. A process
 * (not a Web Worker) because its CPU time and resident memory can then be read
 * per worker from /proc, as the hosted runtime measures them per isolate; a
 * Web Worker shares the host's process and its counters.
 */
import { type EdgeLimits, type LimitReason, verdict } from "./edge_limits.ts";
import type { LogGate } from "./log_gate.ts";

/** Where a worker is in its life. */
export type WorkerState = "booting" | "active" | "retired" | "terminated";

/** How to start a worker. */
export interface WorkerSpawn {
  readonly id: number;
  readonly entry: string;
  readonly limits: EdgeLimits;
  /** The function's environment (what the runtime injects plus its secrets). */
  readonly env: Record<string, string>;
  readonly log: LogGate;
  readonly onEnd: (worker: EdgeWorker) => void;
  /** Called once when the worker stops taking requests. */
  readonly onRetire: (worker: EdgeWorker) => void;
}

const TICK_MS = 10; // USER_HZ: /proc reports CPU in 1/100 s on every mainstream Linux build
const POLL_MS = 50;
const MAIN = new URL("./edge_worker_main.ts", import.meta.url).pathname;

/** One worker process, watched against the limits from the moment it serves. */
export class EdgeWorker {
  readonly id: number;
  readonly port: number;
  readonly startedAt = Date.now();
  state: WorkerState = "booting";
  served = 0;
  cpuMs = 0;
  rssMb = 0;
  warned: LimitReason | null = null;
  warnedAt: number | null = null;
  endedBy: LimitReason | "exit" | null = null;
  readonly #child: Deno.ChildProcess;
  readonly #spawn: WorkerSpawn;
  #cpuBaseline = 0;
  #timer: number | undefined;

  private constructor(spawn: WorkerSpawn, port: number) {
    this.id = spawn.id;
    this.port = port;
    this.#spawn = spawn;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-lock", "--allow-net", "--allow-env", "--allow-read", MAIN, spawn.entry],
      env: { ...spawn.env, EDGE_WORKER_PORT: String(port) },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    void spawn.log.pipe(this.#child.stdout, this.id);
    void spawn.log.pipe(this.#child.stderr, this.id);
    void this.#child.status.then(() => this.#ended());
  }

  /** The worker's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Starts a worker and resolves once it serves (its boot's CPU is not counted against it). */
  static async start(spawn: WorkerSpawn): Promise<EdgeWorker> {
    const worker = new EdgeWorker(spawn, freePort());
    const until = Date.now() + 60_000;
    while (worker.state === "booting" && Date.now() < until) {
      try {
        const r = await fetch(`http://127.0.0.1:${worker.port}/_edge_worker/ping`);
        await r.body?.cancel();
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    if (worker.state !== "booting") throw new Error(`Worker ${worker.id} exited while booting`);
    worker.#cpuBaseline = worker.#readCpu() ?? 0;
    worker.state = "active";
    worker.#timer = setInterval(() => worker.#check(), POLL_MS);
    return worker;
  }

  /** Wall-clock milliseconds since the worker started. */
  get ageMs(): number {
    return Date.now() - this.startedAt;
  }

  /** No new requests; the worker ends once its requests and waitUntil work are done. */
  retire(): void {
    if (this.state !== "active") return;
    this.state = "retired";
    this.#spawn.onRetire(this);
    void this.#control("retire");
  }

  /** Kills the worker at a limit (pending waitUntil work dies with it). */
  terminate(reason: LimitReason): void {
    if (this.state === "terminated") return;
    this.endedBy = reason;
    this.#spawn.log.note("edge_runtime.worker_terminated", { worker: this.id, reason });
    this.kill();
  }

  /** Kills the process now (the host is stopping, or a limit was crossed). */
  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  #check(): void {
    if (this.state === "terminated") return;
    const cpu = this.#readCpu();
    const rss = this.#readRssMb();
    if (cpu === null || rss === null) return;
    this.cpuMs = cpu - this.#cpuBaseline;
    this.rssMb = rss;
    const v = verdict(this.#spawn.limits, { ageMs: this.ageMs, cpuMs: this.cpuMs, rssMb: rss });
    if (v.terminate) return this.terminate(v.terminate);
    if (v.warn) this.warn(v.warn);
    else if (v.retire) this.retire();
  }

  /** Dispatches `beforeunload` with the reason on the worker's global (once) and retires it. */
  warn(reason: LimitReason): void {
    if (this.warned !== null || this.state === "terminated") return;
    this.warned = reason;
    this.warnedAt = Date.now();
    if (this.state === "active") {
      this.state = "retired";
      this.#spawn.onRetire(this);
    }
    this.#spawn.log.note("edge_runtime.beforeunload", { worker: this.id, reason });
    void this.#control("beforeunload", { reason });
  }

  async #control(what: string, body: unknown = {}): Promise<void> {
    try {
      const r = await fetch(`http://127.0.0.1:${this.port}/_edge_worker/${what}`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      await r.body?.cancel();
    } catch {
      // A worker that cannot be told is about to be terminated anyway.
    }
  }

  #readCpu(): number | null {
    try {
      const stat = Deno.readTextFileSync(`/proc/${this.pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    } catch {
      return null;
    }
  }

  #readRssMb(): number | null {
    try {
      const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
      return Number.isFinite(kb) ? Math.round(kb / 1024) : null;
    } catch {
      return null;
    }
  }

  #ended(): void {
    clearInterval(this.#timer);
    this.endedBy ??= "exit";
    this.state = "terminated";
    this.#spawn.onEnd(this);
  }
}

/** A free loopback port, from the kernel. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
