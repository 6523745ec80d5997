import { InfrastructureError } from "../../domain/errors.ts";

/** The parts of a supabase-js error worth keeping; never the request, which carries the key. */
interface PostgrestLikeError {
  message: string;
  code?: string;
  details?: string | null;
  hint?: string | null;
}

/** Wraps a supabase-js `{ error }` in a domain error that names the operation and keeps the cause. */
export function infrastructureError(
  operation: string,
  error: PostgrestLikeError,
): InfrastructureError {
  const code = error.code ? ` (${error.code})` : "";
  return new InfrastructureError(`Cannot ${operation}: ${error.message}${code}`, {
    cause: { message: error.message, code: error.code, details: error.details, hint: error.hint },
  });
}
