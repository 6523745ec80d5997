import { CliError } from "./cli_error.ts";
import type { Output } from "./progress.ts";
import { withTicks } from "./progress.ts";
import type { FunctionAnswer, SchedulerApi } from "./scheduler_api.ts";

/** One execution log row, as far as trigger reads it. */
export interface RunRow {
  id: string;
  status: string;
  duration_ms: number | null;
  error_message: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The statuses a run ends in. */
export const FINAL = new Set([
  "succeeded",
  "failed",
  "timed_out",
  "skipped",
  "lost",
  "duplicate",
  "partial",
  "cancelled",
]);

/**
 * `trigger <job>`: starts a manual run through the function (`"wait": false`,
 * so the function answers once the run is recorded). Without --wait it prints
 * the execution id; with --wait it follows the run in the execution log, with
 * a progress line, and prints the result: the HTTP call never outlives the
 * platform's 150 s request limit, whatever the job's length. Exit 0 only when
 * the run succeeded (or, without --wait, started).
 */
export async function trigger(
  api: SchedulerApi,
  options: {
    jobName: string;
    payload: Record<string, unknown>;
    wait: boolean;
    timeoutSeconds: number;
    canReadLog: boolean;
  },
  out: Output,
): Promise<number> {
  const { jobName } = options;
  const answer = await withTicks(
    api.runJob({ job_name: jobName, payload: options.payload, wait: false }),
    (s) => out.progress(`starting ${jobName}... ${s} s`),
  ).finally(() => out.endProgress());
  const body = accepted(answer, jobName);
  let run: RunRow = {
    id: String(body.execution_id),
    status: String(body.status),
    duration_ms: typeof body.duration_ms === "number" ? body.duration_ms : null,
    error_message: null,
  };
  if (!UUID.test(run.id)) {
    throw new CliError("The function answered without an execution id", "check its logs");
  }
  if (run.status === "running") {
    if (!options.wait || !options.canReadLog) {
      out.print(`${jobName} is running (execution ${run.id})`);
      out.print(`follow it with: deno task scheduler status --job ${jobName}`);
      return 0;
    }
    run = await follow(api, run.id, jobName, options.timeoutSeconds, out);
  } else if (run.status !== "succeeded" && options.canReadLog) {
    // The answer never carries the error text; the log row does.
    run = await readRun(api, run.id) ?? run;
  }
  out.print(resultLine(jobName, run));
  return run.status === "succeeded" ? 0 : 1;
}

function accepted(answer: FunctionAnswer, jobName: string): Record<string, unknown> {
  const code = (answer.body.error as { code?: string } | undefined)?.code;
  if (answer.status === 200) return answer.body;
  if (answer.status === 401) {
    throw new CliError(
      "The function refused the scheduler secret (HTTP 401)",
      "set SCHEDULER_SECRET to the value of Vault's nightly_scheduler_secret",
    );
  }
  if (answer.status === 403 && code === "manual_trigger_disabled") {
    throw new CliError(
      "Manual runs are disabled in this environment (SCHEDULER_ENVIRONMENT=production)",
      `replay a night through a recorded dispatch instead: deno task scheduler trigger ${jobName} --night YYYY-MM-DD`,
    );
  }
  if (answer.status === 404 && code === "unknown_job") {
    throw new CliError(
      `The function has no job '${jobName}'`,
      "run `deno task scheduler status` to see the jobs",
    );
  }
  if (answer.status === 400) {
    throw new CliError(
      `The function refused the request (HTTP 400, ${code ?? "invalid_request"})`,
      "check --payload against the job's documented fields",
    );
  }
  throw new CliError(
    `The function answered HTTP ${answer.status}${code ? ` (${code})` : ""}`,
    "check it is deployed (`supabase functions list`) and read its logs",
  );
}

async function follow(
  api: SchedulerApi,
  id: string,
  jobName: string,
  timeoutSeconds: number,
  out: Output,
): Promise<RunRow> {
  const until = Date.now() + timeoutSeconds * 1000;
  const started = Date.now();
  try {
    while (Date.now() < until) {
      const row = await readRun(api, id);
      if (row !== null && FINAL.has(row.status)) return row;
      out.progress(
        `running ${jobName} (${id})... ${Math.floor((Date.now() - started) / 1000)} s`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    out.endProgress();
  }
  throw new CliError(
    `${jobName} is still running after ${timeoutSeconds} s (execution ${id})`,
    `follow it with \`deno task scheduler status --job ${jobName}\`, or wait longer with --timeout`,
  );
}

async function readRun(api: SchedulerApi, id: string): Promise<RunRow | null> {
  const rows = await api.rest<RunRow[]>(
    `scheduler_execution_log?select=id,status,duration_ms,error_message&id=eq.${id}`,
  );
  return rows[0] ?? null;
}

/** `<job> <status> in N ms (execution ...): <error>`, the line a followed run ends with. */
export function resultLine(jobName: string, run: RunRow): string {
  const took = run.duration_ms === null ? "" : ` in ${run.duration_ms} ms`;
  const error = run.error_message
    ? `: ${run.error_message.replace(/\s+/g, " ").slice(0, 300)}`
    : "";
  return `${jobName} ${run.status}${took} (execution ${run.id})${error}`;
}
