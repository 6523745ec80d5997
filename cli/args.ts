import { parseArgs as parseNodeArgs } from "node:util";
import { CliError } from "./cli_error.ts";

/** The commands the CLI knows. */
export type Command = "status" | "trigger" | "doctor" | "help";

/** A parsed command line. */
export interface CliArgs {
  readonly command: Command;
  /** trigger: the job to run. */
  readonly jobName?: string;
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
  trigger JOB [--payload JSON] [--wait]      run a job now and print its result
  doctor                                     check a deployment; exits non-zero if any check fails

target (the local stack by default):
  --url URL            the project's API URL (or SUPABASE_URL)
  --function-url URL   the function, if not URL/functions/v1/nightly-scheduler
  --env-file FILE      read SUPABASE_URL, SUPABASE_SECRET_KEY, SCHEDULER_SECRET from FILE
  keys come from the environment only: SUPABASE_SECRET_KEY (or SUPABASE_SECRET_KEYS,
  SUPABASE_SERVICE_ROLE_KEY) for status and doctor, SCHEDULER_SECRET for trigger
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
  if (command !== "status" && command !== "trigger" && command !== "doctor") {
    throw usageError(`Unknown command '${command}'`);
  }
  const expected = command === "trigger" ? 1 : 0;
  if (rest.length !== expected) {
    throw usageError(
      command === "trigger"
        ? "trigger needs exactly one job name"
        : `'${command}' takes no argument, got '${rest[0]}'`,
    );
  }
  const args = defaults(command, values);
  if (command === "trigger" && !JOB.test(rest[0])) {
    throw usageError(`'${rest[0]}' is not a job name (a-z, 0-9 and _, at most 64)`);
  }
  if (values.job !== undefined && !JOB.test(values.job)) {
    throw usageError(`'${values.job}' is not a job name (a-z, 0-9 and _, at most 64)`);
  }
  return { ...args, jobName: command === "trigger" ? rest[0] : undefined };
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
  };
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
