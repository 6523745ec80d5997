import { InfrastructureError } from "../../domain/errors.ts";
import type { AccessTokenSource } from "./access_token_source.ts";
import type { HttpDependencies } from "./http_dependencies.ts";
import type { Redacted } from "./redacted.ts";
import { backoffMs, isTransientStatus, type RetryPolicy } from "./retry_policy.ts";

/** Where and as whom to ask for a token. */
export interface ClientCredentialsSettings {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: Redacted;
  readonly scope: string;
  /** Refresh this long before the token expires (at most half its lifetime). */
  readonly refreshMarginMs: number;
}

/**
 * OAuth 2.0 client-credentials tokens from the Microsoft identity platform,
 * cached until shortly before they expire. Error messages carry the status and
 * the OAuth `error` code only: never the client id, the secret or the token.
 */
export class ClientCredentialsTokenProvider implements AccessTokenSource {
  readonly #settings: ClientCredentialsSettings;
  readonly #retry: RetryPolicy;
  readonly #deps: HttpDependencies;
  #cached: { token: string; refreshAt: number } | null = null;
  #inflight: Promise<string> | null = null;

  constructor(settings: ClientCredentialsSettings, retry: RetryPolicy, deps: HttpDependencies) {
    this.#settings = settings;
    this.#retry = retry;
    this.#deps = deps;
  }

  async token(signal: AbortSignal): Promise<string> {
    if (this.#cached && this.#deps.clock.now().getTime() < this.#cached.refreshAt) {
      return this.#cached.token;
    }
    // Concurrent upserts that find the cache empty share one token request.
    this.#inflight ??= this.#fetchToken(signal).finally(() => (this.#inflight = null));
    return await this.#inflight;
  }

  invalidate(token: string): void {
    if (this.#cached?.token === token) this.#cached = null;
  }

  async #fetchToken(signal: AbortSignal): Promise<string> {
    const { maxAttempts } = this.#retry;
    let last = "";
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await this.#deps.sleep(backoffMs(attempt - 1, this.#retry), signal);
      let response: Response;
      try {
        response = await this.#deps.fetch(this.#settings.tokenUrl, {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json",
          },
          body: this.#form(),
          signal,
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        last = `the request failed (${error instanceof Error ? error.name : "error"})`;
        continue;
      }
      if (response.ok) return this.#remember(await response.json().catch(() => null));
      last = `the token endpoint answered ${response.status}${await oauthError(response)}`;
      if (!isTransientStatus(response.status) && response.status !== 429) break;
    }
    throw new InfrastructureError(`Cannot get a Dynamics access token: ${last}`);
  }

  #form(): URLSearchParams {
    return new URLSearchParams({
      grant_type: "client_credentials",
      client_id: this.#settings.clientId,
      client_secret: this.#settings.clientSecret.reveal(),
      scope: this.#settings.scope,
    });
  }

  #remember(body: unknown): string {
    const { access_token: token, expires_in: expiresIn } = (body ?? {}) as Record<string, unknown>;
    const lifetimeS = typeof expiresIn === "string" ? Number(expiresIn) : expiresIn;
    if (
      typeof token !== "string" || token === "" || typeof lifetimeS !== "number" || !(lifetimeS > 0)
    ) {
      throw new InfrastructureError(
        "Cannot get a Dynamics access token: the answer has no 'access_token' and 'expires_in'",
      );
    }
    const lifetimeMs = lifetimeS * 1000;
    const margin = Math.min(this.#settings.refreshMarginMs, lifetimeMs / 2);
    this.#cached = { token, refreshAt: this.#deps.clock.now().getTime() + lifetimeMs - margin };
    return token;
  }
}

/** The OAuth `error` code (a fixed vocabulary such as `invalid_client`), never its description. */
async function oauthError(response: Response): Promise<string> {
  const body = await response.json().catch(() => null) as { error?: unknown } | null;
  const code = body?.error;
  return typeof code === "string" && /^[a-z_]{1,64}$/.test(code) ? ` ('${code}')` : "";
}
