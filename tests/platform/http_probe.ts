// A small HTTP server for platform tests: records when each request arrived and
// when it was answered, and answers /slow/<ms> after that many milliseconds.

/** One request the probe saw. */
export interface ProbeHit {
  path: string;
  method: string;
  arrivedAt: number;
  answeredAt: number | null;
}

/** A running probe; `url(path)` is what pg_net should call. */
export interface HttpProbe {
  url(path: string): string;
  hits: ProbeHit[];
  hit(path: string): ProbeHit | undefined;
  close(): Promise<void>;
}

/** Starts a probe on a free loopback port. */
export function startProbe(): HttpProbe {
  const hits: ProbeHit[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const hit: ProbeHit = { path, method: req.method, arrivedAt: Date.now(), answeredAt: null };
    hits.push(hit);
    await req.body?.cancel();
    const slow = /^\/slow\/(\d+)/.exec(path);
    if (slow) await new Promise((resolve) => setTimeout(resolve, Number(slow[1])));
    hit.answeredAt = Date.now();
    return Response.json({ path });
  });
  const { port } = server.addr as Deno.NetAddr;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits,
    hit: (path) => hits.find((h) => h.path === path),
    close: () => server.shutdown(),
  };
}

/** Waits until probe() returns a value, checking every 50 ms. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}
