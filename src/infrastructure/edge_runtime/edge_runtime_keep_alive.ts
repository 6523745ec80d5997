/** The Supabase Edge Runtime global; undefined under plain Deno. */
declare const EdgeRuntime: { waitUntil(promise: Promise<unknown>): void } | undefined;

/** `EdgeRuntime.waitUntil` when running on Supabase, so a run outlives a caller that hung up. */
export function edgeRuntimeKeepAlive(): ((work: Promise<unknown>) => void) | undefined {
  if (typeof EdgeRuntime === "undefined" || typeof EdgeRuntime?.waitUntil !== "function") {
    return undefined;
  }
  return (work) => EdgeRuntime!.waitUntil(work);
}
