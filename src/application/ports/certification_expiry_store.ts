/** Where the expiry walk got to; opaque outside the store that made it. */
export type ExpiryCursor = string & { readonly __brand: "ExpiryCursor" };

/** What one expiry batch did. */
export interface ExpireBatchResult {
  /** Certifications this batch moved from active to expired. */
  readonly expired: number;
  /** The cursor to continue from when more are due, or null when none are left. */
  readonly next: ExpiryCursor | null;
}

/** Where a walk through one warning window got to; opaque outside the store that made it. */
export type NoticeCursor = string & { readonly __brand: "NoticeCursor" };

/** What one notice batch did. */
export interface QueueNoticesResult {
  /** Notices this batch added; certifications already noticed for the window count as zero. */
  readonly queued: number;
  /** The cursor to continue from, or null when the window has been walked to its end. */
  readonly next: NoticeCursor | null;
}

/** Certifications as the expiry job sees them: set-based batches, each its own transaction. */
export interface CertificationExpiryStore {
  /**
   * Expires up to `limit` active certifications whose expiry is at or before
   * `now`, after `after` (null = the start; a later batch of the same walk
   * passes the previous batch's `next`).
   */
  expireBatch(now: Date, limit: number, after: ExpiryCursor | null): Promise<ExpireBatchResult>;
  /**
   * Queues one notice per active certification expiring within `windowDays`
   * after `now`, for up to `limit` certifications after `after` (null = the start).
   */
  queueNoticesBatch(
    now: Date,
    windowDays: number,
    limit: number,
    after: NoticeCursor | null,
  ): Promise<QueueNoticesResult>;
}
