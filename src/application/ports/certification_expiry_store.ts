/** What one expiry batch did. */
export interface ExpireBatchResult {
  /** Certifications this batch moved from active to expired. */
  readonly expired: number;
  /** True when the batch was full, so more may be due. */
  readonly more: boolean;
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
  /** Expires up to `limit` active certifications whose expiry is at or before `now`. */
  expireBatch(now: Date, limit: number): Promise<ExpireBatchResult>;
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
