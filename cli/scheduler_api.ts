import { CliError } from "./cli_error.ts";
import type { Target } from "./target.ts";

/** What the function answered: its HTTP status and JSON body (empty when it was not JSON). */
export interface FunctionAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * The project as the CLI reaches it: PostgREST (tables, views, RPCs) with the
 * secret API key, and the function with the scheduler secret. Every failure
 * becomes a CliError that says what to do; no key ever goes into a message.
 */
export class SchedulerApi {
  readonly #target: Target;
  readonly #fetch: typeof fetch;

  constructor(target: Target, fetchFn: typeof fetch = fetch) {
    this.#target = target;
    this.#fetch = fetchFn;
  }

  /** GET /rest/v1/<path>; rows as JSON. */
  rest<T>(path: string): Promise<T> {
    return this.#restCall<T>(path, { method: "GET" });
  }

  /** POST /rest/v1/rpc/<fn>; the function's result as JSON. */
  rpc<T>(fn: string, args: Record<string, unknown> = {}): Promise<T> {
    return this.#restCall<T>(`rpc/${fn}`, { method: "POST", body: JSON.stringify(args) });
  }

  /** POSTs a run request to the function with the scheduler secret. */
  async runJob(body: Record<string, unknown>): Promise<FunctionAnswer> {
    const secret = this.#target.schedulerSecret;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (secret !== undefined) headers.authorization = `Bearer ${secret}`;
    return await this.#functionCall({ method: "POST", headers, body: JSON.stringify(body) });
  }

  /** A GET to the function: proves something answers there (the function says 405). */
  probeFunction(): Promise<FunctionAnswer> {
    return this.#functionCall({ method: "GET" });
  }

  async #functionCall(init: RequestInit): Promise<FunctionAnswer> {
    const response = await this.#send(this.#target.functionUrl, init, "the function");
    const text = await response.text();
    return { status: response.status, body: parseObject(text) };
  }

  async #restCall<T>(path: string, init: RequestInit): Promise<T> {
    const key = this.#target.apiKey;
    if (key === undefined) throw new Error("SchedulerApi.rest() needs an API key");
    const headers: Record<string, string> = { apikey: key, "content-type": "application/json" };
    // Legacy keys are JWTs and go in Authorization too; the newer sb_secret_ keys
    // go in apikey only, and the gateway turns them into the role's JWT.
    if (key.startsWith("eyJ")) headers.authorization = `Bearer ${key}`;
    const response = await this.#send(`${this.#target.apiUrl}/rest/v1/${path}`, {
      ...init,
      headers,
    }, "the API");
    const text = await response.text();
    if (response.ok) return (text === "" ? null : JSON.parse(text)) as T;
    throw restError(path, response.status, parseObject(text));
  }

  async #send(url: string, init: RequestInit, what: string): Promise<Response> {
    try {
      return await this.#fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      const reason = error instanceof Error && error.name === "TimeoutError"
        ? "no answer in 60 s"
        : "connection failed";
      throw new CliError(
        `Cannot reach ${what} at ${new URL(url).origin} (${reason})`,
        this.#target.label === "local stack"
          ? "start the stack with `bash local/stack.sh up`"
          : "check --url / SUPABASE_URL and your network",
      );
    }
  }
}

function restError(path: string, status: number, body: Record<string, unknown>): CliError {
  const code = typeof body.code === "string" ? body.code : "";
  const name = path.split(/[?/]/).filter(Boolean).pop() ?? path;
  if (status === 401 || status === 403) {
    return new CliError(
      `The API refused the key (HTTP ${status}${code ? `, ${code}` : ""})`,
      "use the project's secret key (SUPABASE_SECRET_KEY or SUPABASE_SERVICE_ROLE_KEY), not a publishable or anon key",
    );
  }
  if (code === "PGRST202" || code === "PGRST205" || code === "42P01" || code === "42883") {
    return new CliError(
      `The database has no '${name}'`,
      "apply the migrations (`supabase db push`, or `bash local/stack.sh up` locally)",
    );
  }
  const message = typeof body.message === "string" ? `: ${body.message.slice(0, 200)}` : "";
  return new CliError(
    `The API answered HTTP ${status} for '${name}'${message}`,
    "check the project's logs (Dashboard > Logs > API)",
  );
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : {};
  } catch {
    return {};
  }
}
