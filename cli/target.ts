import { EnvironmentError } from "../src/infrastructure/env.ts";
import { supabaseSecretKey } from "../src/infrastructure/supabase_secret_key.ts";
import { CliError } from "./cli_error.ts";

/** Where the CLI points: a project's API, its function, and the keys it may use. Never printed whole. */
export interface Target {
  /** What the CLI says it talks to: "local stack" or the API's host. */
  readonly label: string;
  readonly apiUrl: string;
  readonly functionUrl: string;
  /** A secret API key (status, doctor, trigger --wait); undefined when none was given. */
  readonly apiKey?: string;
  /** The bearer secret the function checks (trigger); undefined when none was given. */
  readonly schedulerSecret?: string;
}

/** How the target is chosen: flags, the environment, and the local stack's env file. */
export interface TargetSources {
  readonly url?: string;
  readonly functionUrl?: string;
  /** Variables from --env-file; the process environment wins over them. */
  readonly envFile?: Record<string, string>;
  readonly env: (name: string) => string | undefined;
  /** `.local/stack.env` of the running local stack, or null when it is down. */
  readonly localStack: () => Record<string, string> | null;
}

const FUNCTION_PATH = "/functions/v1/nightly-scheduler";

/**
 * The target: another project when a URL is given (--url or SUPABASE_URL),
 * otherwise the local stack. Keys come from the environment (or --env-file),
 * never from argv, where shell history and `ps` would keep them.
 */
export function resolveTarget(sources: TargetSources): Target {
  const env = (name: string) => nonBlank(sources.env(name)) ?? nonBlank(sources.envFile?.[name]);
  const url = sources.url ?? env("SUPABASE_URL");
  if (url === undefined) return localTarget(sources);
  const apiUrl = checkUrl(url, sources.url ? "--url" : "SUPABASE_URL").replace(/\/+$/, "");
  const functionUrl = sources.functionUrl === undefined
    ? `${apiUrl}${FUNCTION_PATH}`
    : checkUrl(sources.functionUrl, "--function-url");
  return {
    label: new URL(apiUrl).host,
    apiUrl,
    functionUrl,
    apiKey: env("SUPABASE_SECRET_KEY") ?? secretKeyOrUndefined(env),
    schedulerSecret: env("SCHEDULER_SECRET"),
  };
}

function localTarget(sources: TargetSources): Target {
  const local = sources.localStack();
  if (local === null || !local.API_URL) {
    throw new CliError(
      "The local stack is not running",
      "start it with `bash local/stack.sh up`, or set SUPABASE_URL and SUPABASE_SECRET_KEY " +
        "to check another project",
    );
  }
  return {
    label: "local stack",
    apiUrl: local.API_URL,
    functionUrl: sources.functionUrl ?? `${local.API_URL}${FUNCTION_PATH}`,
    apiKey: nonBlank(local.SERVICE_ROLE_KEY),
    schedulerSecret: nonBlank(local.SCHEDULER_SECRET),
  };
}

function secretKeyOrUndefined(env: (name: string) => string | undefined): string | undefined {
  try {
    return supabaseSecretKey(env);
  } catch (error) {
    if (!(error instanceof EnvironmentError)) throw error;
    if (error.variables.length === 1) {
      throw new CliError(
        "SUPABASE_SECRET_KEYS is not a JSON object with a 'default' key",
        "set SUPABASE_SECRET_KEY to the project's secret key instead",
      );
    }
    return undefined;
  }
}

function checkUrl(text: string, source: string): string {
  try {
    const url = new URL(text);
    if (url.protocol === "http:" || url.protocol === "https:") return text;
  } catch {
    // reported below
  }
  throw new CliError(
    `${source} is not an http(s) URL`,
    "give the project's URL, like https://<ref>.supabase.co",
  );
}

function nonBlank(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** Reads KEY=VALUE lines (quotes stripped, comments and blanks skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match) out[match[1]] = match[2].trim().replace(/^'(.*)'$/, "$1").replace(/^"(.*)"$/, "$1");
  }
  return out;
}

/** The CliError for a command that needs a key the target lacks. */
export function missingKey(what: "apiKey" | "schedulerSecret", command: string): CliError {
  return what === "apiKey"
    ? new CliError(
      `'${command}' needs the project's secret API key`,
      "set SUPABASE_SECRET_KEY (or SUPABASE_SERVICE_ROLE_KEY) in the environment or --env-file",
    )
    : new CliError(
      `'${command}' needs the scheduler's shared secret`,
      "set SCHEDULER_SECRET to the value of Vault's nightly_scheduler_secret " +
        "(read it without echoing: read -rs SCHEDULER_SECRET; export SCHEDULER_SECRET)",
    );
}
