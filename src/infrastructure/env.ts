import type { z } from "zod";

/** Environment variables that are missing or invalid; the message names them, never their values. */
export class EnvironmentError extends Error {
  constructor(readonly variables: string[]) {
    super(`Invalid or missing environment variables: ${variables.join(", ")}`);
    this.name = new.target.name;
  }
}

/** Parses the variables `schema` names from `env`, treating blank as unset; throws EnvironmentError. */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: (name: string) => string | undefined,
): z.infer<S> {
  const raw = Object.fromEntries(
    Object.keys(schema.shape).map((key) => {
      const value = env(key);
      return [key, value === undefined || value.trim() === "" ? undefined : value];
    }),
  );
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new EnvironmentError([
      ...new Set(result.error.issues.map((issue) => String(issue.path[0]))),
    ]);
  }
  return result.data;
}
