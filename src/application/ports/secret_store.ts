/** Where the shared scheduler secret lives (Vault in production). */
export interface SecretStore {
  /**
   * The current shared secret. `fresh: true` bypasses any cache, so a rotated
   * secret is seen on the next request instead of after the cache expires.
   */
  current(options?: { fresh?: boolean }): Promise<string>;
}
