// Figures that need the real local stack: the function's cold start and its
// dispatch + log cost through the gateway, each beside a baseline measured in
// the same run (a bare Deno.serve, and a request the function refuses before
// touching the database), since only ratios mean anything on a shared machine.
import { connect, functionUrl, stackEnv } from "../local/stack.ts";
import { ms, summarize, type Summary, table } from "./stats.ts";

const DENO = new URL("../tools/node_modules/deno/deno", import.meta.url).pathname;
const ENTRY = new URL("../supabase/functions/nightly-scheduler/index.ts", import.meta.url).pathname;

/** Spawn -> first HTTP answer, for a module, `runs` times. */
async function coldStart(module: string, env: Record<string, string>, port: number, runs: number) {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const child = new Deno.Command(DENO, {
      args: ["run", "--no-lock", "--allow-net", "--allow-env", "--allow-read", module],
      env: { ...env, PORT: String(port), NO_COLOR: "1" },
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      while (true) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/`);
          await response.body?.cancel();
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
      samples.push(performance.now() - start);
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
  }
  return summarize(samples);
}

/** Cold start of the real entry point beside a bare Deno.serve. */
export async function coldStartBench(runs = 10) {
  const env = stackEnv();
  const hello = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    hello,
    `Deno.serve({ port: Number(Deno.env.get("PORT")), hostname: "127.0.0.1", onListen() {} }, () => new Response("ok"));`,
  );
  try {
    const bare = await coldStart(hello, {}, 54391, runs);
    const scheduler = await coldStart(
      ENTRY,
      {
        SUPABASE_URL: env.API_URL,
        SUPABASE_SERVICE_ROLE_KEY: env.SERVICE_ROLE_KEY,
        SCHEDULER_ENVIRONMENT: "local",
      },
      54392,
      runs,
    );
    return { bare, scheduler };
  } finally {
    await Deno.remove(hello);
  }
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

/** Heartbeat round trips through gateway -> function -> PostgREST, beside refused requests. */
export async function dispatchAndLogBench(requests = 300) {
  const env = stackEnv();
  const refused: number[] = [];
  const full: number[] = [];
  const serverSide: number[] = [];
  for (let i = 0; i < 20; i++) await timedPost({ job_name: "heartbeat" }, env.SCHEDULER_SECRET);
  for (let i = 0; i < requests; i++) {
    refused.push((await timedPost({ job_name: "heartbeat" }, "wrong-secret"))[0]);
    const [elapsed, body] = await timedPost({ job_name: "heartbeat" }, env.SCHEDULER_SECRET);
    if (body.status !== "succeeded") throw new Error(`Heartbeat failed: ${JSON.stringify(body)}`);
    full.push(elapsed);
    serverSide.push(body.duration_ms as number);
  }
  const sql = connect();
  try {
    // Keep the log readable after a benchmark: its heartbeat rows are noise.
    await sql`delete from scheduler_execution_log where job_name = 'heartbeat' and trigger = 'manual'
      and started_at > now() - interval '1 hour' and (summary ->> 'held_ms')::int = 0`;
  } finally {
    await sql.end();
  }
  return { refused: summarize(refused), full: summarize(full), serverSide: summarize(serverSide) };
}

/** The stack figures as Markdown tables. */
export function stackTables(
  cold: { bare: Summary; scheduler: Summary },
  dispatch: { refused: Summary; full: Summary; serverSide: Summary },
): string {
  const row = (name: string, s: Summary) => [name, String(s.n), ms(s.p50), ms(s.p99), ms(s.max)];
  return [
    table(["cold start (spawn -> first answer)", "runs", "p50", "p99", "max"], [
      row("bare Deno.serve", cold.bare),
      row("nightly-scheduler entry point", cold.scheduler),
    ]),
    `ratio scheduler / bare (p50): ${(cold.scheduler.p50 / cold.bare.p50).toFixed(1)}x`,
    "",
    table(["dispatch + log (local stack)", "requests", "p50", "p99", "max"], [
      row("wrong secret -> 401 (gateway + function + one fresh Vault read)", dispatch.refused),
      row("heartbeat: auth + lease + 2 log writes + release, client side", dispatch.full),
      row("heartbeat: started_at -> finished_at, server side", dispatch.serverSide),
    ]),
  ].join("\n");
}

if (import.meta.main) {
  console.log(stackTables(await coldStartBench(), await dispatchAndLogBench()));
}
