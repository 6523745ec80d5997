// Dispatch overhead with fakes: the scheduler's own cost around a job, without
// network or database. "in" = request handed to the handler -> job called;
// "out" = job returned -> Response resolved. Target: p99 < 1 ms each.
import { fakeScheduler, runRequest } from "../tests/support/scheduler_mother.ts";
import { ms, summarize, type Summary, table } from "./stats.ts";

/** Runs the fake-port dispatch benchmark and returns its summaries. */
export async function dispatchBench(requests = 10_000, warmup = 1_000) {
  let jobEntered = 0;
  let jobReturned = 0;
  const s = fakeScheduler({
    jobs: {
      bench_job: () => {
        jobEntered = performance.now();
        jobReturned = performance.now();
        return Promise.resolve({ ok: true });
      },
    },
  });
  const inbound: number[] = [];
  const outbound: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < warmup + requests; i++) {
    const request = runRequest({ job_name: "bench_job" });
    const start = performance.now();
    const response = await s.handler(request);
    const end = performance.now();
    if (response.status !== 200) {
      throw new Error(`Benchmark request failed with ${response.status}`);
    }
    if (i < warmup) continue;
    inbound.push(jobEntered - start);
    outbound.push(end - jobReturned);
    total.push(end - start - (jobReturned - jobEntered));
  }
  // The in-memory log would otherwise hold every record: keep memory flat between runs.
  s.log.rows.clear();
  return { inbound: summarize(inbound), outbound: summarize(outbound), total: summarize(total) };
}

/** Renders the dispatch results as a Markdown table. */
export function dispatchTable(r: { inbound: Summary; outbound: Summary; total: Summary }): string {
  const row = (name: string, s: Summary) => [name, String(s.n), ms(s.p50), ms(s.p99), ms(s.max)];
  return table(["dispatch overhead (fakes)", "requests", "p50", "p99", "max"], [
    row("request in -> handler called", r.inbound),
    row("handler returned -> response out", r.outbound),
    row("both together", r.total),
  ]);
}

if (import.meta.main) {
  const result = await dispatchBench();
  console.log(dispatchTable(result));
}
