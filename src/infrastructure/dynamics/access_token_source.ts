/** Hands out bearer tokens for an API and forgets one the API has refused. */
export interface AccessTokenSource {
  /** A token valid for a while yet; fetched once and shared by concurrent callers. */
  token(signal: AbortSignal): Promise<string>;
  /** Drops `token` from the cache if it is still the cached one, so the next call fetches anew. */
  invalidate(token: string): void;
}
