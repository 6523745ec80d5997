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

    if (await constantTimeEquals(presented, await this.#secrets.current())) {
      return { authorized: true };
    }
    if (await constantTimeEquals(presented, await this.#secrets.current({ fresh: true }))) {
      return { authorized: true };
    }
    return { authorized: false, reason: "mismatch" };
  }
}

/** Compares SHA-256 digests byte by byte, so neither content nor length leaks through timing. */
async function constantTimeEquals(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [da, db] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  const x = new Uint8Array(da);
  const y = new Uint8Array(db);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}
