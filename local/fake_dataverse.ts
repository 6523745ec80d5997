// A fake Microsoft identity platform token endpoint and Dataverse Web API table,
// enough for the Dataverse portal adapter: single upserts by alternate key
// (PATCH), the UpsertMultiple action (all or nothing), and the service
// protection limits (requests, combined execution time and concurrent requests
// per user and window, answered with 429 and Retry-After). Served on 127.0.0.1
// for integration tests and the demo, or called in-process through `fetch`.

/** The app registration the fake accepts. */
export const FAKE_APP = {
  tenantId: "11111111-2222-3333-4444-555555555555",
  clientId: "fake-client-id-6b1e",
  clientSecret: "fake-client-secret-Zq8~do-not-log",
  scope: "https://hlf-test.crm4.dynamics.com/.default",
  entitySet: "hlf_peermentorcertifications",
  entityName: "hlf_peermentorcertification",
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

/** Dataverse's service protection limits per user; the defaults are the real ones. */
export interface ServiceProtectionLimits {
  requests: number;
  /** Combined execution time of the window's requests. */
  executionMs: number;
  concurrent: number;
  windowMs: number;
}

/** The real limits: 6,000 requests, 20 minutes of execution, 52 at once, per 5 minutes. */
export const DATAVERSE_LIMITS: ServiceProtectionLimits = {
  requests: 6_000,
  executionMs: 20 * 60_000,
  concurrent: 52,
  windowMs: 5 * 60_000,
};

const API = "/api/data/v9.2/";
const UPSERT = /^\/api\/data\/v9\.2\/([a-z_]+)\(([a-z_]+)='((?:[^']|'')*)'\)$/;
const UPSERT_MULTIPLE = /^\/api\/data\/v9\.2\/([a-z_]+)\/Microsoft\.Dynamics\.CRM\.UpsertMultiple$/;

/** The fake service; scripts and records are public so tests can set and assert them. */
export class FakeDataverse {
  readonly requests: SeenRequest[] = [];
  readonly rows = new Map<string, Record<string, unknown>>();
  /** Answers for the next upsert requests (single or multiple), in arrival order; empty means 204. */
  readonly upsertScript: ScriptedAnswer[] = [];
  /** Answers for the next token requests; empty means a fresh token. */
  readonly tokenScript: ScriptedAnswer[] = [];
  /** Alternate-key values that always fail with this answer (a batch holding one fails whole). */
  readonly alwaysFail = new Map<string, ScriptedAnswer>();
  /** False: the portal has no UpsertMultiple (answers 404, as for an unknown action). */
  batchForm = true;
  limits: ServiceProtectionLimits = { ...DATAVERSE_LIMITS };
  /** Time each upsert request takes, plus `perRecordMs` for each record in it. */
  latencyMs = 0;
  perRecordMs = 0;
  /** The fake's clock, for the limit windows; unit tests pass their manual clock's. */
  now: () => number = () => Date.now();
  tokenLifetimeS = 3599;
  tokensIssued = 0;
  inFlight = 0;
  maxInFlight = 0;
  throttled = 0;
  #valid = new Set<string>();
  #window: { at: number; ms: number }[] = [];
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

  /** Single upserts (PATCH) seen. */
  upserts(): SeenRequest[] {
    return this.requests.filter((r) => r.method === "PATCH");
  }

  /** The alternate-key value of every record sent, by either form, in arrival order. */
  sentKeys(): string[] {
    return this.requests.flatMap((r) => {
      if (r.method === "PATCH") return [UPSERT.exec(r.path)?.[3].replaceAll("''", "'") ?? ""];
      if (r.method !== "POST" || !UPSERT_MULTIPLE.test(r.path)) return [];
      return targetsOf(r.body).map((t) =>
        UPSERT.exec(`${API}${t["@odata.id"]}`)?.[3].replaceAll("''", "'") ?? ""
      );
    });
  }

  /** UpsertMultiple requests seen. */
  multiples(): SeenRequest[] {
    return this.requests.filter((r) => r.method === "POST" && UPSERT_MULTIPLE.test(r.path));
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
    if (!seen.path.startsWith(API)) return new Response(null, { status: 404 });
    const token = /^Bearer (.+)$/.exec(seen.headers.get("authorization") ?? "")?.[1];
    if (!token || !this.#valid.has(token)) {
      return answer({ status: 401, errorCode: "0x80072560" }, "dataverse");
    }
    const limited = this.#limit();
    if (limited) return limited;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    // Counted from its start, so requests in flight count against the window too.
    const entry = { at: this.now(), ms: 0 };
    this.#window.push(entry);
    try {
      const single = UPSERT.exec(seen.path);
      const multiple = UPSERT_MULTIPLE.exec(seen.path);
      const records = single ? 1 : multiple ? targetsOf(seen.body).length : 0;
      await new Promise((resolve) =>
        setTimeout(resolve, this.latencyMs + this.perRecordMs * records)
      );
      if (single && seen.method === "PATCH") return this.#upsert(seen, single);
      if (multiple && seen.method === "POST" && this.batchForm) {
        return this.#upsertMultiple(seen, multiple[1]);
      }
      return answer({ status: 404, errorCode: "0x8006088a" }, "dataverse");
    } finally {
      this.inFlight--;
      entry.ms = this.now() - entry.at;
    }
  }

  /** A 429 when a service protection limit is reached, else null (and the request counts). */
  #limit(): Response | null {
    const now = this.now();
    const { requests, executionMs, concurrent, windowMs } = this.limits;
    this.#window = this.#window.filter((r) => r.at > now - windowMs);
    const spentMs = this.#window.reduce((sum, r) => sum + r.ms, 0);
    let waitMs = 0;
    if (this.#window.length >= requests || spentMs >= executionMs) {
      waitMs = this.#window[0].at + windowMs - now;
    } else if (this.inFlight >= concurrent) {
      waitMs = 1_000;
    }
    if (waitMs <= 0) return null;
    this.throttled++;
    return answer({
      status: 429,
      errorCode: "0x80072322",
      headers: { "retry-after": String(Math.max(1, Math.ceil(waitMs / 1000))) },
    }, "dataverse");
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

  #upsert(seen: SeenRequest, [, set, key, raw]: RegExpExecArray): Response {
    const value = raw.replaceAll("''", "'");
    const scripted = this.alwaysFail.get(value) ?? this.upsertScript.shift();
    if (scripted) return answer(scripted, "dataverse");
    if (set !== FAKE_APP.entitySet || key !== FAKE_APP.alternateKey) {
      return answer({ status: 404, errorCode: "0x80060888" }, "dataverse");
    }
    this.rows.set(value, { ...this.rows.get(value), ...JSON.parse(seen.body) });
    return new Response(null, { status: 204, headers: { "odata-version": "4.0" } });
  }

  /** All or nothing, as Dataverse's UpsertMultiple: one bad target fails the request. */
  #upsertMultiple(seen: SeenRequest, set: string): Response {
    if (set !== FAKE_APP.entitySet) {
      return answer({ status: 404, errorCode: "0x80060888" }, "dataverse");
    }
    const rows = new Map<string, Record<string, unknown>>();
    for (const target of targetsOf(seen.body)) {
      const { "@odata.type": type, "@odata.id": id, ...row } = target;
      const key = typeof id === "string" ? UPSERT.exec(`${API}${id}`) : null;
      if (type !== `Microsoft.Dynamics.CRM.${FAKE_APP.entityName}` || !key || key[1] !== set) {
        return answer({ status: 400, errorCode: "0x80048d19" }, "dataverse");
      }
      const value = key[3].replaceAll("''", "'");
      const failing = this.alwaysFail.get(value);
      if (failing) return answer(failing, "dataverse");
      rows.set(value, row);
    }
    const scripted = this.upsertScript.shift();
    if (scripted) return answer(scripted, "dataverse");
    for (const [value, row] of rows) this.rows.set(value, { ...this.rows.get(value), ...row });
    return new Response(null, { status: 204, headers: { "odata-version": "4.0" } });
  }
}

function targetsOf(body: string): Record<string, unknown>[] {
  try {
    const targets = (JSON.parse(body) as { Targets?: unknown }).Targets;
    return Array.isArray(targets) ? targets : [];
  } catch {
    return [];
  }
}

function answer(scripted: ScriptedAnswer, style: "error" | "dataverse"): Response {
  const body = style === "error"
    ? { error: scripted.errorCode ?? "temporarily_unavailable", error_description: "scripted" }
    : { error: { code: scripted.errorCode ?? "0x0", message: "Scripted failure for row x@y.z" } };
  return Response.json(body, { status: scripted.status, headers: scripted.headers });
}
