/** One kind of history and how many days of it are kept. */
export interface RetentionTarget {
  readonly target: string;
  readonly keepDays: number;
}

/** The scheduler's history as the retention job sees it: bounded deletes, each its own transaction. */
export interface RetentionStore {
  /** Every kind of history with its period, as configured in the database. */
  targets(): Promise<RetentionTarget[]>;
  /** Deletes up to `limit` rows of `target` older than its period before `now`; returns how many. */
  purgeBatch(target: string, now: Date, limit: number): Promise<number>;
}
