import type {
  CertificationChange,
  CertificationChangeFeed,
  ChangeCursor,
} from "../application/ports/certification_change_feed.ts";

/**
 * The change feed as a queue of pages read ahead: each read starts from the
 * previous page's last cursor as soon as that page is in, up to `ahead` pages
 * waiting, so a page is usually ready when the sync has room to send it. Reads
 * stop after a short page (the end of the feed for now).
 */
export class ChangePages {
  readonly #feed: CertificationChangeFeed;
  readonly #organisationCode: string;
  readonly #pageSize: number;
  readonly #ahead: number;
  readonly #ready: Promise<CertificationChange[]>[] = [];
  #reading: Promise<CertificationChange[]> | null = null;
  #next: ChangeCursor | null;
  #ended = false;

  constructor(
    feed: CertificationChangeFeed,
    organisationCode: string,
    from: ChangeCursor | null,
    pageSize: number,
    ahead: number,
  ) {
    this.#feed = feed;
    this.#organisationCode = organisationCode;
    this.#pageSize = pageSize;
    this.#ahead = Math.max(1, ahead);
    this.#next = from;
    this.#fill();
  }

  /** The next page; empty once the feed has nothing more. */
  async next(): Promise<CertificationChange[]> {
    const page = this.#ready.shift();
    if (page === undefined) return [];
    const changes = await page;
    this.#fill();
    return changes;
  }

  #fill(): void {
    if (this.#ended || this.#reading !== null || this.#ready.length >= this.#ahead) return;
    const reading = this.#feed.read(this.#organisationCode, this.#next, this.#pageSize).then(
      (changes) => {
        this.#reading = null;
        if (changes.length < this.#pageSize) this.#ended = true;
        if (changes.length > 0) this.#next = changes[changes.length - 1].cursor;
        this.#fill();
        return changes;
      },
      (error) => {
        this.#ended = true;
        throw error;
      },
    );
    // A page the sync never asks for (it stopped first) must not fail the isolate.
    reading.catch(() => {});
    this.#reading = reading;
    this.#ready.push(reading);
  }
}
