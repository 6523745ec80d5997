import { CliError } from "./cli_error.ts";
import type { Output } from "./progress.ts";
import type { SchedulerApi } from "./scheduler_api.ts";
import { FINAL, resultLine, type RunRow } from "./trigger.ts";

interface ReplayRow {
  status: string;
  dispatch_id: string | null;
  detail: string | null;
}

/**
 * `trigger JOB --night YYYY-MM-DD`: replays that night through a dispatch
 * record of kind `replay` (scheduler_replay, service role), which keeps who
 * asked and why; pg_net posts it like any dispatch, so it runs where manual
 * runs are refused (production). With --wait it follows the run the dispatch
 * became and exits 0 only when it succeeded.
 */
export async function replay(
  api: SchedulerApi,
  options: {
    jobName: string;
    night: string;
    reason: string | undefined;
    operator: string;
    wait: boolean;
    timeoutSeconds: number;
  },
  out: Output,
): Promise<number> {
  const { jobName, night } = options;
  const rows = await api.rpc<ReplayRow[]>("scheduler_replay", {
    p_job_name: jobName,
    p_slot: night,
    p_by: options.operator,
    p_reason: options.reason ?? null,
  });
  const row = rows[0];
  if (row?.status !== "dispatched" || row.dispatch_id === null) throw refused(jobName, night, row);
  out.print(`${jobName}: replay of the night of ${night} dispatched (dispatch ${row.dispatch_id})`);
  if (!options.wait) {
    out.print(`follow it with: deno task scheduler status --job ${jobName}`);
    return 0;
  }
  const run = await follow(api, row.dispatch_id, jobName, options.timeoutSeconds, out);
  out.print(resultLine(jobName, run));
  return run.status === "succeeded" ? 0 : 1;
}

function refused(jobName: string, night: string, row: ReplayRow | undefined): CliError {
  switch (row?.status) {
    case "running":
      return new CliError(
        `${jobName} is running or has a dispatch waiting (${row.detail}); a replay waits for it to end`,
        `follow it with \`deno task scheduler status --job ${jobName}\` and replay afterwards`,
      );
    case "paused":
      return new CliError(
        `${jobName} is paused (${row.detail})`,
        `resume it first: deno task scheduler resume ${jobName}`,
      );
    case "future_night":
      return new CliError(
        `The night of ${night} has not come for ${jobName} (it is due at ${row.detail})`,
        "replay a night that has passed",
      );
    case "unknown_job":
      return new CliError(
        `There is no nightly job '${jobName}'`,
        "run `deno task scheduler status` to see the jobs",
      );
    default:
      return new CliError(`The database did not dispatch the replay`, "check the project's logs");
  }
}

/** Waits for the run that took the dispatch (or the sweep's `lost` row) to end. */
async function follow(
  api: SchedulerApi,
  dispatchId: string,
  jobName: string,
  timeoutSeconds: number,
  out: Output,
): Promise<RunRow> {
  const until = Date.now() + timeoutSeconds * 1000;
  const started = Date.now();
  try {
    while (Date.now() < until) {
      const rows = await api.rest<RunRow[]>(
        `scheduler_execution_log?select=id,status,duration_ms,error_message` +
          `&dispatch_id=eq.${dispatchId}&status=neq.duplicate&limit=1`,
      );
      if (rows[0] !== undefined && FINAL.has(rows[0].status)) return rows[0];
      out.progress(
        `replaying ${jobName} (dispatch ${dispatchId})... ${
          Math.floor((Date.now() - started) / 1000)
        } s`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    out.endProgress();
  }
  throw new CliError(
    `The replay of ${jobName} has not ended after ${timeoutSeconds} s (dispatch ${dispatchId})`,
    `follow it with \`deno task scheduler status --job ${jobName}\`, or wait longer with --timeout`,
  );
}
