import { EnvironmentError } from "./env.ts";

/** The name Supabase gives the secret key it creates; SUPABASE_SECRET_KEYS is keyed by name. */
export const DEFAULT_SECRET_KEY_NAME = "default";

/**
 * The server-side API key from the environment Supabase injects: the newer
 * `SUPABASE_SECRET_KEYS` (a JSON object of named `sb_secret_...` keys; its
 * `default` key) when set, otherwise the legacy `SUPABASE_SERVICE_ROLE_KEY`.
 * The new key comes first: a project that disabled its legacy keys still
 * injects the legacy variable, and that key is refused. Errors name the
 * variables, never their values.
 */
export function supabaseSecretKey(env: (name: string) => string | undefined): string {
  const keys = blankToUndefined(env("SUPABASE_SECRET_KEYS"));
  if (keys !== undefined) {
    const key = parseKeys(keys)?.[DEFAULT_SECRET_KEY_NAME];
    if (typeof key !== "string" || key.trim() === "") {
      throw new EnvironmentError(["SUPABASE_SECRET_KEYS"]);
    }
    return key;
  }
  const legacy = blankToUndefined(env("SUPABASE_SERVICE_ROLE_KEY"));
  if (legacy === undefined) {
    throw new EnvironmentError(["SUPABASE_SECRET_KEYS", "SUPABASE_SERVICE_ROLE_KEY"]);
  }
  return legacy;
}

function parseKeys(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : null;
  } catch {
    return null;
  }
}

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}
