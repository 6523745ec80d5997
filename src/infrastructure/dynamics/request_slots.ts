/**
 * A fixed number of request slots shared by every push of one portal, handed
 * out first come, first served: pages pushed at once together never have more
 * requests in flight than the portal's limit, and an earlier page's requests
 * go before a later page's, so pages finish in about the order they started.
 */
export class RequestSlots {
  readonly #size: number;
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#size = Math.max(1, size);
    this.#free = this.#size;
  }

  /** How many slots there are. */
  get size(): number {
    return this.#size;
  }

  /** Waits for a slot; the returned function gives it back (once). */
  async take(): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const next = this.#waiting.shift();
      // A waiting request takes the slot over directly, so no newcomer can jump the queue.
      if (next) next();
      else this.#free++;
    };
  }
}
