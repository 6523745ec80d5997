/**
 * LOCAL ONLY: one Edge Runtime worker, a process of its own started by
 * local/function_host.ts. It gives the function what the hosted runtime gives
 * it (`EdgeRuntime.waitUntil`, `beforeunload` with `event.detail.reason`),
 * imports the function's module, and serves the handler the module passes to
 * `Deno.serve` on the port the host chose. The host talks to it on two paths
 * of that port that the function never sees:
 *   POST /_edge_worker/beforeunload {"reason"}   dispatches beforeunload on the global
 *   POST /_edge_worker/retire                    no new requests; exit once idle
 * A retired worker exits as soon as no request and no waitUntil promise is
 * pending, as a hosted worker ends once its work is done.
 */

const entry = Deno.args[0];
const port = Number(Deno.env.get("EDGE_WORKER_PORT"));
if (!entry || !Number.isInteger(port) || port <= 0) {
  console.error("usage: EDGE_WORKER_PORT=n edge_worker_main.ts <function entry point>");
  Deno.exit(2);
}

// A worker does not outlive its runtime: when the host dies (even by kill -9), so do its workers.
const host = Deno.ppid;
Deno.unrefTimer(setInterval(() => {
  if (Deno.ppid !== host) Deno.exit(137);
}, 250));

let pending = 0;
let retired = false;

/** Exits once retired and idle; a moment later, so a last response is written first. */
function exitWhenIdle(): void {
  setTimeout(() => {
    if (retired && pending === 0) Deno.exit(0);
  }, 100);
}

function settle(): void {
  pending--;
  exitWhenIdle();
}

/** Keeps work alive after its response, as `EdgeRuntime.waitUntil` does on hosted. */
const edgeRuntime = {
  waitUntil(promise: Promise<unknown>): void {
    pending++;
    Promise.resolve(promise).catch(() => undefined).finally(settle);
  },
};
Object.defineProperty(globalThis, "EdgeRuntime", { value: edgeRuntime, configurable: true });

type Handler = (request: Request) => Response | Promise<Response>;
let served: Handler | null = null;

async function control(request: Request, path: string): Promise<Response> {
  if (path === "/_edge_worker/beforeunload") {
    const { reason } = await request.json() as { reason: string };
    retired = true;
    globalThis.dispatchEvent(new CustomEvent("beforeunload", { detail: { reason } }));
  } else if (path === "/_edge_worker/retire") {
    retired = true;
  } else {
    return new Response("unknown control path", { status: 404 });
  }
  exitWhenIdle();
  return Response.json({ pending });
}

// The function calls Deno.serve(options, handler): keep its handler, serve it here.
const realServe = Deno.serve;
Object.defineProperty(Deno, "serve", {
  configurable: true,
  value: (...args: unknown[]) => {
    served = args.find((a) => typeof a === "function") as Handler ??
      (args.find((a) => typeof a === "object" && a !== null && "handler" in a) as {
        handler: Handler;
      })?.handler;
    return realServe({ port, hostname: "127.0.0.1", onListen: () => {} }, async (request) => {
      const path = new URL(request.url).pathname;
      if (path.startsWith("/_edge_worker/")) return await control(request, path);
      pending++;
      try {
        return await served!(request);
      } finally {
        settle();
      }
    });
  },
});

await import(new URL(entry, `file://${Deno.cwd()}/`).href);
if (served === null) {
  console.error(`The function '${entry}' did not call Deno.serve`);
  Deno.exit(1);
}
