// Figures that need the real local stack: the function's cold start and its
// dispatch + log cost through the gateway, each beside a baseline measured in
// the same run (a bare Deno.serve, and a request the function refuses before
// touching the database), since only ratios mean anything on a shared machine.
import { createServiceClient } from "../src/infrastructure/supabase/supabase_client.ts";
import { connect, functionUrl, stackEnv } from "../local/stack.ts";
import { ms, type Spread, spread, summarize, type Summary, table } from "./stats.ts";

const DENO = new URL("../tools/node_modules/deno/deno", import.meta.url).pathname;
const ENTRY = new URL("../supabase/functions/nightly-scheduler/index.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
// Outside Linux's ephemeral range (32768-60999), where a connection attempt to a
// port nobody listens on yet can be given that very port as its own source and
// connect to itself.
const BARE_PORT = 21391;
const FUNCTION_PORT = 21392;

/** The environment the stack gives the function (local/lib/services.sh), and nothing else. */
function functionEnv(port: number): Record<string, string> {
  const env = stackEnv();
  return {
    PATH: Deno.env.get("PATH") ?? "",
    HOME: Deno.env.get("HOME") ?? "/root",
    ...(Deno.env.get("DENO_CERT") ? { DENO_CERT: Deno.env.get("DENO_CERT")! } : {}),
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    NO_COLOR: "1",
    PORT: String(port),
    SUPABASE_URL: env.API_URL,
    SUPABASE_ANON_KEY: env.ANON_KEY,
    SUPABASE_SERVICE_ROLE_KEY: env.SERVICE_ROLE_KEY,
    SUPABASE_DB_URL: env.DB_URL,
    SCHEDULER_ENVIRONMENT: "local",
  };
}

/** The request a cold start waits for the answer to. */
type FirstRequest = "get" | "wrong secret";

/** Spawn -> first HTTP answer of a module, once; the same command line and environment for any module. */
async function coldStart(module: string, port: number, first: FirstRequest): Promise<number> {
  const start = performance.now();
  const child = new Deno.Command(DENO, {
    args: ["run", "--no-lock", "--allow-net", "--allow-env", "--allow-read", module],
    cwd: ROOT,
    clearEnv: true,
    env: functionEnv(port),
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let attempt = 0; attempt < 5_000; attempt++) {
      try {
        const response = await fetch(
          `http://127.0.0.1:${port}/`,
          first === "get" ? {} : {
            method: "POST",
            headers: { authorization: "Bearer wrong-secret", "content-type": "application/json" },
            body: JSON.stringify({ job_name: "heartbeat" }),
          },
        );
        await response.body?.cancel();
        return performance.now() - start;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
    throw new Error(`${module} did not answer on port ${port}`);
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

/** Cold start figures: each a median with its spread, and the ratio to bare pair by pair. */
export interface ColdStartResult {
  bare: Spread;
  scheduler: Spread;
  /** The first answer that needs the database: a wrong secret, refused after one Vault read. */
  schedulerRefused: Spread;
  /** Median of the per-pair ratios scheduler / bare. */
  ratio: Spread;
  refusedRatio: Spread;
}

/**
 * Cold start of the real entry point beside a bare Deno.serve: in pairs, the
 * order alternating (bare first, then the function first), both spawned with
 * the same command line, working directory and environment.
 */
export async function coldStartBench(runs = 10): Promise<ColdStartResult> {
  const hello = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    hello,
    `Deno.serve({ port: Number(Deno.env.get("PORT")), hostname: "127.0.0.1", onListen() {} }, () => new Response("ok"));`,
  );
  const bare: number[] = [];
  const scheduler: number[] = [];
  const refused: number[] = [];
  try {
    // One of each first, not counted: the module cache is warm for every counted run.
    await coldStart(hello, BARE_PORT, "get");
    await coldStart(ENTRY, FUNCTION_PORT, "get");
    for (let i = 0; i < runs; i++) {
      const steps: (() => Promise<void>)[] = [
        async () => void bare.push(await coldStart(hello, BARE_PORT, "get")),
        async () => void scheduler.push(await coldStart(ENTRY, FUNCTION_PORT, "get")),
        async () => void refused.push(await coldStart(ENTRY, FUNCTION_PORT, "wrong secret")),
      ];
      if (i % 2 === 1) steps.reverse();
      for (const step of steps) await step();
    }
  } finally {
    await Deno.remove(hello);
  }
  return {
    bare: spread(bare),
    scheduler: spread(scheduler),
    schedulerRefused: spread(refused),
    ratio: spread(scheduler.map((s, i) => s / bare[i])),
    refusedRatio: spread(refused.map((s, i) => s / bare[i])),
  };
}

/** What a module costs to load, alone in a fresh process: median and spread. */
export interface ModuleLoad {
  name: string;
  when: string;
  ms: Spread;
}

const MODULES: { name: string; when: string; specifiers: string[] }[] = [
  {
    name: "reflect-metadata + tsyringe",
    when: "at start (the container)",
    specifiers: ["reflect-metadata", "tsyringe"],
  },
  { name: "zod", when: "at start (config, request schema)", specifiers: ["zod"] },
  { name: "zod/mini", when: "not used (measured to compare)", specifiers: ["zod/mini"] },
  {
    name: "@supabase/supabase-js",
    when: "first database call (first authenticated answer)",
    specifiers: ["@supabase/supabase-js"],
  },
  {
    name: "the Dynamics wing (create_certification_portal.ts, zod loaded)",
    when: "first hlf_dynamics_sync run",
    specifiers: ["zod", "./src/infrastructure/dynamics/create_certification_portal.ts"],
  },
];

/**
 * Each library's load time, `import()` timed inside a fresh process (so the
 * runtime's own start is not in it), rounds interleaving the libraries.
 * The Dynamics row times only its last module, after zod is in.
 */
export async function moduleLoadBench(runs = 7): Promise<ModuleLoad[]> {
  const samples = MODULES.map(() => [] as number[]);
  const dir = await Deno.makeTempDir({ dir: `${ROOT}.local` });
  try {
    const scripts = await Promise.all(MODULES.map(async (m, i) => {
      const path = `${dir}/load_${i}.ts`;
      const before = m.specifiers.slice(0, -1).map((s) => `await import(${JSON.stringify(s)});`);
      const last = m.specifiers.at(-1)!;
      const target = last.startsWith("./") ? `${ROOT}${last.slice(2)}` : last;
      await Deno.writeTextFile(
        path,
        `${before.join("\n")}\nconst t = performance.now();\nawait import(${
          JSON.stringify(target)
        });\nconsole.log(performance.now() - t);\n`,
      );
      return path;
    }));
    for (let round = -1; round < runs; round++) {
      for (const [i, script] of scripts.entries()) {
        const out = await new Deno.Command(DENO, {
          args: ["run", "--no-lock", "--allow-all", script],
          cwd: ROOT,
          stdout: "piped",
          stderr: "piped",
        }).output();
        if (!out.success) {
          throw new Error(
            `Loading ${MODULES[i].name} failed: ${new TextDecoder().decode(out.stderr)}`,
          );
        }
        // Round -1 fills the module cache and is not counted.
        if (round >= 0) samples[i].push(Number(new TextDecoder().decode(out.stdout).trim()));
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return MODULES.map((m, i) => ({ name: m.name, when: m.when, ms: spread(samples[i]) }));
}

async function timedPost(
  body: unknown,
  secret: string,
): Promise<[number, Record<string, unknown>]> {
  const start = performance.now();
  const response = await fetch(functionUrl(), {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await response.json();
  return [performance.now() - start, json];
}

/**
 * Heartbeat round trips through gateway -> function -> PostgREST (its
 * baseline: one PostgREST RPC round trip through the same gateway, in turn
 * with it), beside refused requests.
 */
export async function dispatchAndLogBench(requests = 300) {
  const env = stackEnv();
  const client = createServiceClient(env.API_URL, env.SERVICE_ROLE_KEY);
  const refused: number[] = [];
  const full: number[] = [];
  const serverSide: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < 20; i++) await timedPost({ job_name: "heartbeat" }, env.SCHEDULER_SECRET);
  for (let i = 0; i < requests; i++) {
    refused.push((await timedPost({ job_name: "heartbeat" }, "wrong-secret"))[0]);
    const [elapsed, body] = await timedPost({ job_name: "heartbeat" }, env.SCHEDULER_SECRET);
    if (body.status !== "succeeded") throw new Error(`Heartbeat failed: ${JSON.stringify(body)}`);
    full.push(elapsed);
    serverSide.push(body.duration_ms as number);
    const start = performance.now();
    const { error } = await client.rpc("scheduler_current_secret");
    rest.push(performance.now() - start);
    if (error) throw new Error(`PostgREST round trip failed: ${error.message}`);
  }
  const sql = connect();
  try {
    // Keep the log readable after a benchmark: its heartbeat rows are noise.
    await sql`delete from scheduler_execution_log where job_name = 'heartbeat' and trigger = 'manual'
      and started_at > now() - interval '1 hour' and (summary ->> 'held_ms')::int = 0`;
  } finally {
    await sql.end();
  }
  return {
    refused: summarize(refused),
    full: summarize(full),
    serverSide: summarize(serverSide),
    rest: summarize(rest),
  };
}

/**
 * Acknowledgement latency of a dispatched call (what pg_net waits for): POST
 * with a fresh dispatch record -> 200 `running`, beside one PostgREST RPC round
 * trip through the same gateway, interleaved in the same run. Each call gets
 * its own slot, and the next waits for the previous run to end, so every call
 * is a real start (dispatch check, lease, row), never a duplicate or a skip.
 */
export async function acknowledgementBench(requests = 300) {
  const env = stackEnv();
  const sql = connect();
  const client = createServiceClient(env.API_URL, env.SERVICE_ROLE_KEY);
  const ack: number[] = [];
  const rest: number[] = [];
  const first = Date.UTC(2190, 0, 1);
  try {
    for (let i = 0; i < 20 + requests; i++) {
      const slot = new Date(first + i * 86_400_000).toISOString().slice(0, 10);
      const [{ id }] = await sql`insert into scheduler_dispatch (job_name, slot, attempt, kind)
        values ('heartbeat', ${slot}, 1, 'cron') returning id`;
      const [elapsed, body] = await timedPost(
        { job_name: "heartbeat", dispatch_id: id },
        env.SCHEDULER_SECRET,
      );
      if (body.status !== "running") throw new Error(`No acknowledgement: ${JSON.stringify(body)}`);
      const start = performance.now();
      const { error } = await client.rpc("scheduler_current_secret");
      const roundTrip = performance.now() - start;
      if (error) throw new Error(`PostgREST round trip failed: ${error.message}`);
      if (i >= 20) {
        ack.push(elapsed);
        rest.push(roundTrip);
      }
      for (let wait = 0; wait < 200; wait++) {
        const [run] = await sql`select status from scheduler_execution_log
          where id = ${body.execution_id as string}`;
        if (run.status !== "running") break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  } finally {
    await sql`delete from scheduler_execution_log where job_name = 'heartbeat'
      and slot >= '2190-01-01' and slot < '2200-01-01'`;
    await sql`delete from scheduler_dispatch where job_name = 'heartbeat'
      and slot >= '2190-01-01' and slot < '2200-01-01'`;
    await sql.end();
  }
  return { ack: summarize(ack), rest: summarize(rest) };
}

/** The acknowledgement figures as a Markdown table. */
export function acknowledgementTable(r: { ack: Summary; rest: Summary }): string {
  const row = (name: string, s: Summary) => [name, String(s.n), ms(s.p50), ms(s.p99), ms(s.max)];
  return [
    table(["acknowledgement (local stack)", "requests", "p50", "p99", "max"], [
      row("dispatched heartbeat -> 200 running (client side)", r.ack),
      row("one PostgREST RPC round trip (same gateway, same run)", r.rest),
    ]),
    `ratio acknowledgement / round trip (p50): ${(r.ack.p50 / r.rest.p50).toFixed(1)}x`,
  ].join("\n");
}

/** The cold start target: the entry point's first answer at most this many times a bare Deno.serve's. */
export const COLD_START_TARGET = 2.5;

const spreadMs = (s: Spread) => `${ms(s.median)} (${ms(s.min)} - ${ms(s.max)})`;
const spreadX = (s: Spread) =>
  `${s.median.toFixed(2)}x (${s.min.toFixed(2)} - ${s.max.toFixed(2)})`;

/** The stack figures as Markdown tables, each beside its baseline (and target, where one is set). */
export function stackTables(
  cold: ColdStartResult,
  loads: ModuleLoad[],
  dispatch: { refused: Summary; full: Summary; serverSide: Summary; rest: Summary },
): string {
  const row = (name: string, s: Summary) => [name, String(s.n), ms(s.p50), ms(s.p99), ms(s.max)];
  const met = (x: number) => x <= COLD_START_TARGET ? "met" : "NOT met";
  return [
    table(
      [
        "cold start (spawn -> first answer), pairs in alternating order",
        "runs",
        "median (min - max)",
        "/ bare, pair by pair: median (min - max)",
        `target <= ${COLD_START_TARGET}x`,
      ],
      [
        ["bare Deno.serve (the baseline)", String(cold.bare.n), spreadMs(cold.bare), "1x", ""],
        [
          "nightly-scheduler entry point: GET -> 405",
          String(cold.scheduler.n),
          spreadMs(cold.scheduler),
          spreadX(cold.ratio),
          met(cold.ratio.median),
        ],
        [
          "entry point: wrong secret -> 401 (loads supabase-js, one Vault read)",
          String(cold.schedulerRefused.n),
          spreadMs(cold.schedulerRefused),
          spreadX(cold.refusedRatio),
          "(no target)",
        ],
      ],
    ),
    "",
    table(
      ["module loading, alone in a fresh process", "loaded", "runs", "median (min - max)"],
      loads.map((l) => [l.name, l.when, String(l.ms.n), spreadMs(l.ms)]),
    ),
    "",
    table(["dispatch + log (local stack)", "requests", "p50", "p99", "max"], [
      row(
        "one PostgREST RPC round trip (the baseline, in turn with the rows below)",
        dispatch.rest,
      ),
      row("wrong secret -> 401 (gateway + function + one fresh Vault read)", dispatch.refused),
      row("heartbeat: auth + start RPC + finish RPC, client side", dispatch.full),
      row("heartbeat: started_at -> finished_at, server side", dispatch.serverSide),
    ]),
    `ratio heartbeat / one RPC round trip (p50): ${
      (dispatch.full.p50 / dispatch.rest.p50).toFixed(1)
    }x (two RPCs and the function's own hop; the seed allowed 500 ms)`,
  ].join("\n");
}

if (import.meta.main) {
  console.log(
    stackTables(await coldStartBench(), await moduleLoadBench(), await dispatchAndLogBench()),
  );
  console.log(acknowledgementTable(await acknowledgementBench()));
}
