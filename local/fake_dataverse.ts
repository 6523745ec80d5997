// A fake Microsoft identity platform token endpoint and Dataverse Web API entity
// set, enough for the Dataverse portal client: served on 127.0.0.1 for
// integration tests, or called in-process through `fetch` for unit tests.

/** The app registration the fake accepts. */
export const FAKE_APP = {
  tenantId: "11111111-2222-3333-4444-555555555555",
  clientId: "fake-client-id-6b1e",
  clientSecret: "fake-client-secret-Zq8~do-not-log",
  scope: "https://hlf-test.crm4.dynamics.com/.default",
  entitySet: "hlf_peermentorcertifications",
  alternateKey: "hlf_certificationid",
} as const;

/** One scripted answer to an upsert, used instead of the normal 204. */
export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  errorCode?: string;
}

/** A request as the fake saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

const UPSERT = /^\/api\/data\/v9\.2\/([a-z_]+)\(([a-z_]+)='((?:[^']|'')*)'\)$/;

/** The fake service; scripts and records are public so tests can set and assert them. */
export class FakeDataverse {
  readonly requests: SeenRequest[] = [];
  readonly rows = new Map<string, Record<string, unknown>>();
  /** Answers for the next upserts, in arrival order; empty means 204. */
  readonly upsertScript: ScriptedAnswer[] = [];
  /** Answers for the next token requests; empty means a fresh token. */
  readonly tokenScript: ScriptedAnswer[] = [];
  /** Alternate-key values that always fail with this answer. */
  readonly alwaysFail = new Map<string, ScriptedAnswer>();
  tokenLifetimeS = 3599;
  tokensIssued = 0;
  inFlight = 0;
  maxInFlight = 0;
  #valid = new Set<string>();
  #server: Deno.HttpServer | null = null;

  /** Makes every token issued so far invalid, as expiry or revocation would. */
  expireTokens(): void {
    this.#valid.clear();
  }

  /** The handler as an in-process `fetch`, for unit tests without a socket. */
  readonly fetch: typeof fetch = (input, init) => this.handle(new Request(input, init));

  /** Serves on a loopback port (random unless given); returns the base URL. */
  serve(port = 0, handler = (request: Request) => this.handle(request)): string {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
    return `http://127.0.0.1:${(this.#server.addr as Deno.NetAddr).port}`;
  }

  async close(): Promise<void> {
    await this.#server?.shutdown();
  }

  upserts(): SeenRequest[] {
    return this.requests.filter((r) => r.method === "PATCH");
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const seen = {
      method: request.method,
      path: decodeURIComponent(url.pathname),
      headers: request.headers,
      body: await request.text(),
    };
    this.requests.push(seen);
    if (seen.path === `/${FAKE_APP.tenantId}/oauth2/v2.0/token`) return this.#token(seen);
    const match = UPSERT.exec(seen.path);
    if (!match || seen.method !== "PATCH") return new Response(null, { status: 404 });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 0));
      return this.#upsert(seen, match[1], match[2], match[3].replaceAll("''", "'"));
    } finally {
      this.inFlight--;
    }
  }

  #token(seen: SeenRequest): Response {
    const scripted = this.tokenScript.shift();
    if (scripted) return answer(scripted, "error");
    const form = new URLSearchParams(seen.body);
    if (
      seen.method !== "POST" || form.get("grant_type") !== "client_credentials" ||
      form.get("client_id") !== FAKE_APP.clientId ||
      form.get("client_secret") !== FAKE_APP.clientSecret || form.get("scope") !== FAKE_APP.scope
    ) {
      return Response.json({
        error: "invalid_client",
        error_description: `AADSTS7000215: Invalid client secret for app '${
          form.get("client_id")
        }'`,
      }, { status: 401 });
    }
    const token = `token-${++this.tokensIssued}`;
    this.#valid.add(token);
    return Response.json({
      token_type: "Bearer",
      expires_in: this.tokenLifetimeS,
      access_token: token,
    });
  }

  #upsert(seen: SeenRequest, set: string, key: string, value: string): Response {
    const token = /^Bearer (.+)$/.exec(seen.headers.get("authorization") ?? "")?.[1];
    if (!token || !this.#valid.has(token)) {
      return answer({ status: 401, errorCode: "0x80072560" }, "dataverse");
    }
    const scripted = this.alwaysFail.get(value) ?? this.upsertScript.shift();
    if (scripted) return answer(scripted, "dataverse");
    if (set !== FAKE_APP.entitySet || key !== FAKE_APP.alternateKey) {
      return answer({ status: 404, errorCode: "0x80060888" }, "dataverse");
    }
    this.rows.set(value, { ...this.rows.get(value), ...JSON.parse(seen.body) });
    return new Response(null, { status: 204, headers: { "odata-version": "4.0" } });
  }
}

function answer(scripted: ScriptedAnswer, style: "error" | "dataverse"): Response {
  const body = style === "error"
    ? { error: scripted.errorCode ?? "temporarily_unavailable", error_description: "scripted" }
    : { error: { code: scripted.errorCode ?? "0x0", message: "Scripted failure for row x@y.z" } };
  return Response.json(body, { status: scripted.status, headers: scripted.headers });
}
