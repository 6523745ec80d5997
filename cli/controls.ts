import { CliError } from "./cli_error.ts";
import type { SchedulerApi } from "./scheduler_api.ts";

/** What the control RPCs answer: a status word and, for some, a detail. */
interface ControlRow {
  status: string;
  detail: string | null;
  job_name?: string | null;
}

/** `pause JOB --reason TEXT`: nothing dispatches the job until it is resumed. */
export async function pause(
  api: SchedulerApi,
  options: { jobName: string; reason: string; operator: string },
  print: (text: string) => void,
): Promise<number> {
  const row = await one(api, "scheduler_pause_job", {
    p_job_name: options.jobName,
    p_reason: options.reason,
    p_by: options.operator,
  });
  switch (row.status) {
    case "paused":
      print(`${options.jobName} is paused: ${options.reason}`);
      print(`resume it with: deno task scheduler resume ${options.jobName}`);
      return 0;
    case "already_paused":
      print(`${options.jobName} was already paused: ${row.detail}`);
      return 0;
    default:
      throw unknownJob(options.jobName);
  }
}

/** `resume JOB`: dispatch the job again from its next night. */
export async function resume(
  api: SchedulerApi,
  options: { jobName: string; operator: string },
  print: (text: string) => void,
): Promise<number> {
  const row = await one(api, "scheduler_resume_job", {
    p_job_name: options.jobName,
    p_by: options.operator,
  });
  switch (row.status) {
    case "resumed":
      print(`${options.jobName} is resumed (it was: ${row.detail})`);
      return 0;
    case "not_paused":
      print(`${options.jobName} was not paused`);
      return 0;
    default:
      throw unknownJob(options.jobName);
  }
}

/** `cancel EXECUTION_ID`: the run's next heartbeat aborts its job; the row ends cancelled. */
export async function cancel(
  api: SchedulerApi,
  options: { executionId: string; operator: string },
  print: (text: string) => void,
): Promise<number> {
  const row = await one(api, "scheduler_cancel", {
    p_execution_id: options.executionId,
    p_by: options.operator,
  });
  const id = options.executionId;
  switch (row.status) {
    case "requested":
      print(
        `cancel requested for ${row.job_name} (execution ${id}); it stops at its next heartbeat`,
      );
      print(`follow it with: deno task scheduler status --job ${row.job_name}`);
      return 0;
    case "already_requested":
      print(`cancel was already requested for execution ${id} (by ${row.detail})`);
      return 0;
    case "not_running":
      throw new CliError(
        `Execution '${id}' of ${row.job_name} is not running (it is ${row.detail})`,
        "only a running execution can be cancelled",
      );
    default:
      throw new CliError(
        `No execution '${id}' in the log`,
        "copy the id from `deno task scheduler status --job JOB`",
      );
  }
}

async function one(
  api: SchedulerApi,
  fn: string,
  args: Record<string, unknown>,
): Promise<ControlRow> {
  const rows = await api.rpc<ControlRow[]>(fn, args);
  if (!Array.isArray(rows) || rows.length !== 1) {
    throw new CliError(`The database gave no answer to '${fn}'`, "check the project's logs");
  }
  return rows[0];
}

function unknownJob(jobName: string): CliError {
  return new CliError(
    `There is no nightly job '${jobName}'`,
    "run `deno task scheduler status` to see the jobs",
  );
}
