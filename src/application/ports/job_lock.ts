/** A lease on one job name: an owner (the execution id) and an instant it lapses by itself. */
export interface Lease {
  readonly jobName: string;
  readonly owner: string;
  readonly expiresAt: Date;
}

/** Whether the lease was taken, and if not who holds it. */
export type LockOutcome =
  | { readonly acquired: true }
  | { readonly acquired: false; readonly heldBy: string; readonly heldUntil: Date };

/** Keeps one job from running twice at once, across isolates and machines. */
export interface JobLock {
  /** Takes the lease atomically unless a live one is held; an expired lease is taken over. */
  acquire(lease: Lease, now: Date): Promise<LockOutcome>;
  /** Gives the lease back if this owner still holds it. */
  release(lease: Lease): Promise<void>;
}
