/**
 * LOCAL ONLY: the gateway's open connections, so that no client can hold it.
 * A connection is idle while it waits for the first byte of a request (a new
 * one, or a kept-alive one between requests) and busy otherwise. Room for a new
 * connection is made by closing idle ones, oldest first: first past the cap on
 * one client's idle connections, then past the cap on all connections. Only
 * when every connection is busy is a new one refused, and then with an answer.
 */

/** One accepted connection as the pool tracks it. */
export interface Tracked {
  readonly conn: Deno.Conn;
  readonly client: string;
  /** Since when it waits for a request; null while a request is being read or answered. */
  idleSince: number | null;
  /** True once the pool closed it to make room (its reads then fail, and that is expected). */
  evicted: boolean;
}

/** The caps the pool keeps. */
export interface PoolLimits {
  maxConnections: number;
  maxIdlePerClient: number;
}

/** Tracks connections per client and closes idle ones to make room for new ones. */
export class ConnectionPool {
  readonly #limits: PoolLimits;
  readonly #open = new Set<Tracked>();

  constructor(limits: PoolLimits) {
    this.#limits = limits;
  }

  /** How many connections are open now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Takes a new connection in as idle, closing the oldest idle connections of
   * its client, and then of anyone, past the caps; null when every open
   * connection is busy (the caller answers 503 and closes it).
   */
  admit(conn: Deno.Conn, now = Date.now()): Tracked | null {
    const client = clientOf(conn);
    while (this.#idle((t) => t.client === client).length >= this.#limits.maxIdlePerClient) {
      this.#evict(this.#idle((t) => t.client === client)[0]);
    }
    while (this.#open.size >= this.#limits.maxConnections) {
      const oldest = this.#idle(() => true)[0];
      if (oldest === undefined) return null;
      this.#evict(oldest);
    }
    const tracked: Tracked = { conn, client, idleSince: now, evicted: false };
    this.#open.add(tracked);
    return tracked;
  }

  /** Marks a connection as waiting for its next request. */
  idle(tracked: Tracked, now = Date.now()): void {
    tracked.idleSince = now;
  }

  /** Marks a connection as reading or answering a request: it is not closed to make room. */
  busy(tracked: Tracked): void {
    tracked.idleSince = null;
  }

  /** Forgets a connection that has closed. */
  release(tracked: Tracked): void {
    this.#open.delete(tracked);
  }

  /** Idle connections matching `which`, oldest first. */
  #idle(which: (t: Tracked) => boolean): Tracked[] {
    return [...this.#open]
      .filter((t) => t.idleSince !== null && which(t))
      .sort((a, b) => a.idleSince! - b.idleSince!);
  }

  #evict(tracked: Tracked): void {
    tracked.evicted = true;
    this.#open.delete(tracked);
    try {
      tracked.conn.close();
    } catch {
      // already closed
    }
  }
}

/** The client a connection comes from: its remote address without the port. */
function clientOf(conn: Deno.Conn): string {
  const addr = conn.remoteAddr;
  return addr.transport === "tcp" || addr.transport === "udp" ? addr.hostname : addr.transport;
}
