import { parseArgs as parseNodeArgs } from "node:util";
import { CliError } from "./cli_error.ts";

/** The commands the CLI knows. */
export type Command =
  | "status"
  | "trigger"
  | "doctor"
  | "pause"
  | "resume"
  | "cancel"
  | "help";

/** A parsed command line. */
export interface CliArgs {
  readonly command: Command;
  /** trigger, pause, resume: the job. */
  readonly jobName?: string;
  /** cancel: the execution to stop. */
  readonly executionId?: string;
  /** trigger --night: the night (YYYY-MM-DD) to replay. */
  readonly night?: string;
  /** pause (required), trigger --night: why. */
  readonly reason?: string;
  /** status --nights: how many nights the grid shows. */
  readonly nights?: number;
  /** status: the job whose last runs to list. */
  readonly job?: string;
  readonly limit: number;
  readonly json: boolean;
  readonly payload: Record<string, unknown>;
  readonly wait: boolean;
  readonly url?: string;
  readonly functionUrl?: string;
  readonly envFile?: string;
  readonly timeoutSeconds: number;
}

/** The usage text `help` prints. */
export const USAGE = `usage: deno task scheduler <command> [options]

commands:
  status [--job NAME] [--limit N] [--json]   job health; with --job, its last N runs (default 10)
  status --nights N [--json]                 the last N nights (1-90) as a grid, jobs by nights
  trigger JOB [--payload JSON] [--wait]      run a job now and print its result
  trigger JOB --night YYYY-MM-DD [--reason TEXT] [--wait]
                                             replay that night (a recorded dispatch of kind replay)
  pause JOB --reason TEXT                    stop dispatching JOB until it is resumed
  resume JOB                                 dispatch JOB again
  cancel EXECUTION_ID                        ask a running execution to stop (at its next heartbeat)
  doctor                                     check a deployment; exits non-zero if any check fails

target (the local stack by default):
  --url URL            the project's API URL (or SUPABASE_URL)
  --function-url URL   the function, if not URL/functions/v1/nightly-scheduler
  --env-file FILE      read SUPABASE_URL, SUPABASE_SECRET_KEY, SCHEDULER_SECRET from FILE
  keys come from the environment only: SUPABASE_SECRET_KEY (or SUPABASE_SECRET_KEYS,
  SUPABASE_SERVICE_ROLE_KEY) for status, doctor, pause, resume, cancel and trigger --night,
  SCHEDULER_SECRET for trigger; SCHEDULER_OPERATOR (else USER) names you in the records
  --timeout SECONDS    how long trigger --wait and doctor wait for a run (default 120)`;

const JOB = /^[a-z0-9_]{1,64}$/;

/** Parses argv; a mistake is a CliError that says what to type instead. */
export function parseArgs(argv: string[]): CliArgs {
  let parsed;
  try {
    parsed = parseNodeArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        job: { type: "string" },
        limit: { type: "string" },
        json: { type: "boolean" },
        payload: { type: "string" },
        wait: { type: "boolean" },
        url: { type: "string" },
        "function-url": { type: "string" },
        "env-file": { type: "string" },
        timeout: { type: "string" },
        night: { type: "string" },
        nights: { type: "string" },
        reason: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw usageError((error as Error).message.split("\n")[0].replace(/\.$/, ""));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    return defaults("help", values);
  }
  if (!COMMANDS.has(command)) throw usageError(`Unknown command '${command}'`);
  const takesJob = command === "trigger" || command === "pause" || command === "resume";
  const expected = takesJob || command === "cancel" ? 1 : 0;
  if (rest.length !== expected) {
    throw usageError(
      takesJob
        ? `${command} needs exactly one job name`
        : command === "cancel"
        ? "cancel needs exactly one execution id"
        : `'${command}' takes no argument, got '${rest[0]}'`,
    );
  }
  const args = defaults(command as Command, values);
  if (takesJob && !JOB.test(rest[0])) {
    throw usageError(`'${rest[0]}' is not a job name (a-z, 0-9 and _, at most 64)`);
  }
  if (command === "cancel" && !UUID.test(rest[0])) {
    throw usageError(`'${rest[0]}' is not an execution id (a UUID, as status --job prints)`);
  }
  if (values.job !== undefined && !JOB.test(values.job)) {
    throw usageError(`'${values.job}' is not a job name (a-z, 0-9 and _, at most 64)`);
  }
  checkFlags(command as Command, args);
  return {
    ...args,
    jobName: takesJob ? rest[0] : undefined,
    executionId: command === "cancel" ? rest[0].toLowerCase() : undefined,
  };
}

const COMMANDS = new Set(["status", "trigger", "doctor", "pause", "resume", "cancel"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Flags that belong to one command only, and the ones a command needs. */
function checkFlags(command: Command, args: CliArgs): void {
  if (args.night !== undefined && command !== "trigger") {
    throw usageError("--night is for trigger (replay a night)");
  }
  if (args.nights !== undefined && command !== "status") {
    throw usageError("--nights is for status (the grid of nights)");
  }
  if (args.nights !== undefined && args.job !== undefined) {
    throw usageError("status takes --nights or --job, not both");
  }
  if (args.reason !== undefined && command !== "pause" && args.night === undefined) {
    throw usageError("--reason is for pause and trigger --night");
  }
  if (command === "pause" && (args.reason === undefined || args.reason.trim() === "")) {
    throw usageError("pause needs --reason TEXT (it is kept with the pause and shown by status)");
  }
  if (args.night !== undefined && Object.keys(args.payload).length > 0) {
    throw usageError("a replay (--night) runs the night as dispatched; it takes no --payload");
  }
}

function defaults(command: Command, values: Record<string, string | boolean | undefined>): CliArgs {
  return {
    command,
    job: values.job as string | undefined,
    limit: integer(values.limit as string | undefined, "--limit", 10, 1, 1000),
    json: values.json === true,
    payload: payload(values.payload as string | undefined),
    wait: values.wait === true,
    url: values.url as string | undefined,
    functionUrl: values["function-url"] as string | undefined,
    envFile: values["env-file"] as string | undefined,
    timeoutSeconds: integer(values.timeout as string | undefined, "--timeout", 120, 1, 3600),
    night: night(values.night as string | undefined),
    reason: reason(values.reason as string | undefined),
    nights: values.nights === undefined
      ? undefined
      : integer(values.nights as string, "--nights", 30, 1, 90),
  };
}

function night(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const date = new Date(`${text}T00:00:00Z`);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(date.getTime()) ||
    date.toISOString().slice(0, 10) !== text
  ) {
    throw usageError(`--night must be a date like 2026-11-30, got '${text}'`);
  }
  return text;
}

function reason(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text.length > 500) throw usageError("--reason must be at most 500 characters");
  return text;
}

function integer(
  text: string | undefined,
  flag: string,
  fallback: number,
  min: number,
  max: number,
) {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw usageError(`${flag} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

function payload(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw usageError("--payload is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw usageError("--payload must be a JSON object, like '{\"hold_ms\": 1000}'");
  }
  return value as Record<string, unknown>;
}

function usageError(message: string): CliError {
  return new CliError(message, "run `deno task scheduler help` for usage", 2);
}
