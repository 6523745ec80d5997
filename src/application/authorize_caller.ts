import type { SecretStore } from "./ports/secret_store.ts";

/** Why a caller was refused; returned as a value because refusing callers is routine. */
export type AuthorizationOutcome =
  | { readonly authorized: true }
  | { readonly authorized: false; readonly reason: "missing" | "malformed" | "mismatch" };

const BEARER = /^Bearer ([\x21-\x7e]+)$/;

/** Checks `Authorization: Bearer <secret>` against the shared secret, in constant time. */
export class AuthorizeCaller {
  readonly #secrets: SecretStore;

  constructor(secrets: SecretStore) {
    this.#secrets = secrets;
  }

  /** Decides on the raw header value; a mismatch re-reads the secret once so a rotation is seen at once. */
  async execute(authorization: string | null): Promise<AuthorizationOutcome> {
    if (authorization === null || authorization.trim() === "") {
      return { authorized: false, reason: "missing" };
    }
    const match = BEARER.exec(authorization.trim());
    if (!match) return { authorized: false, reason: "malformed" };
    const presented = match[1];

    if (constantTimeEquals(presented, await this.#secrets.current())) {
      return { authorized: true };
    }
    if (constantTimeEquals(presented, await this.#secrets.current({ fresh: true }))) {
      return { authorized: true };
    }
    return { authorized: false, reason: "mismatch" };
  }
}

/**
 * Compares every character up to the longer length whatever the content, so
 * timing does not tell how much of a guess was right. Out-of-range reads give
 * NaN, which `| 0` turns into 0; the length check catches the difference.
 */
function constantTimeEquals(a: string, b: string): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}
