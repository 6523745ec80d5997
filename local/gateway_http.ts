/**
 * LOCAL ONLY: the HTTP/1.1 reading and writing of local/gateway.ts, on a raw
 * TCP connection so that every limit is the gateway's own: head size and time,
 * body size (refused before reading) and time, strict request targets and
 * framing. Deno.serve has no header timeout, so a slow client could hold it.
 */

/** A request the gateway refuses; becomes a JSON error response, then the connection closes. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** The limits a connection's reads run under. */
export interface Limits {
  maxHeadBytes: number;
  maxBodyBytes: number;
  headTimeoutMs: number;
  bodyTimeoutMs: number;
  idleTimeoutMs: number;
}

/** A parsed request head. */
export interface RequestHead {
  method: string;
  target: string;
  version: "HTTP/1.0" | "HTTP/1.1";
  headers: [string, string][];
}

// What hosted's gateway passes on; CONNECT and TRACE end here.
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const CRLF2 = new Uint8Array([13, 10, 13, 10]);

/** Buffered reads from a connection, each bounded by a deadline. */
export class ConnReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads more bytes; false at end of stream; throws HttpError at the deadline. */
  async #fill(deadline: number, onTimeout: HttpError): Promise<boolean> {
    const wait = deadline - Date.now();
    if (wait <= 0) throw onTimeout;
    const chunk = new Uint8Array(16 * 1024);
    let timer: number | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), wait);
    });
    try {
      const n = await Promise.race([this.#conn.read(chunk), timeout]);
      if (n === "timeout") throw onTimeout;
      if (n === null) return false;
      const next = new Uint8Array(this.#buf.length + n);
      next.set(this.#buf);
      next.set(chunk.subarray(0, n), this.#buf.length);
      this.#buf = next;
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  #take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  #indexOf(needle: Uint8Array, from = 0): number {
    outer: for (let i = from; i <= this.#buf.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (this.#buf[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }

  /** Waits for the first byte of the next request: false when the client closed or idled out. */
  async waitForRequest(limits: Limits): Promise<boolean> {
    if (this.#buf.length > 0) return true;
    const idle = new HttpError(408, "request_timeout", "Idle connection closed");
    try {
      return await this.#fill(Date.now() + limits.idleTimeoutMs, idle);
    } catch (err) {
      if (err === idle) return false;
      throw err;
    }
  }

  /** The next request head, or null when the client closed (or idled out) between requests. */
  async readHead(limits: Limits): Promise<RequestHead | null> {
    // Waiting for a request to start: the idle limit; once it has, the head limit.
    if (!await this.waitForRequest(limits)) return null;
    const deadline = Date.now() + limits.headTimeoutMs;
    const slow = new HttpError(408, "request_timeout", "The request head took too long");
    let end: number;
    while ((end = this.#indexOf(CRLF2)) < 0) {
      if (this.#buf.length > limits.maxHeadBytes) {
        throw new HttpError(431, "headers_too_large", "The request head is too large");
      }
      if (!await this.#fill(deadline, slow)) {
        throw new HttpError(400, "bad_request", "The connection closed inside the request head");
      }
    }
    if (end > limits.maxHeadBytes) {
      throw new HttpError(431, "headers_too_large", "The request head is too large");
    }
    const text = new TextDecoder("latin1").decode(this.#take(end + 4)).slice(0, end);
    return parseHead(text);
  }

  /** Exactly n body bytes, by the body deadline. */
  async readExactly(n: number, deadline: number): Promise<Uint8Array> {
    const slow = new HttpError(408, "request_timeout", "The request body took too long");
    while (this.#buf.length < n) {
      if (!await this.#fill(deadline, slow)) {
        throw new HttpError(400, "bad_request", "The connection closed inside the request body");
      }
    }
    return this.#take(n);
  }

  /** One CRLF-terminated line (for chunked framing), by the body deadline. */
  async readLine(deadline: number, maxBytes = 1024): Promise<string> {
    const slow = new HttpError(408, "request_timeout", "The request body took too long");
    let end: number;
    while ((end = this.#indexOf(CRLF2.subarray(0, 2))) < 0) {
      if (this.#buf.length > maxBytes) throw new HttpError(400, "bad_request", "Bad chunk framing");
      if (!await this.#fill(deadline, slow)) {
        throw new HttpError(400, "bad_request", "The connection closed inside the request body");
      }
    }
    return new TextDecoder("latin1").decode(this.#take(end + 2)).slice(0, end);
  }

  /** The request body as framed by its head, refusing an oversized one before reading it. */
  async readBody(head: RequestHead, limits: Limits): Promise<Uint8Array | null> {
    const deadline = Date.now() + limits.bodyTimeoutMs;
    const te = headerValues(head, "transfer-encoding");
    const cl = headerValues(head, "content-length");
    if (te.length > 0 && cl.length > 0) {
      throw new HttpError(400, "bad_request", "Both Transfer-Encoding and Content-Length");
    }
    if (te.length > 0) {
      if (te.join(",").trim().toLowerCase() !== "chunked") {
        throw new HttpError(501, "not_implemented", "Only chunked transfer coding is supported");
      }
      const body = await this.#readChunked(limits, deadline);
      return noBodyAllowed(head, body);
    }
    if (cl.length === 0) return null;
    if (head.method === "GET" || head.method === "HEAD") {
      if (cl.every((v) => v.trim() === "0")) return null;
    }
    const values = new Set(cl.flatMap((v) => v.split(",")).map((v) => v.trim()));
    const [value] = values;
    if (values.size !== 1 || !/^\d{1,19}$/.test(value)) {
      throw new HttpError(400, "bad_request", "Invalid Content-Length");
    }
    const length = Number(value);
    if (length > limits.maxBodyBytes) {
      throw new HttpError(413, "payload_too_large", "The request body is too large");
    }
    return noBodyAllowed(head, await this.readExactly(length, deadline));
  }

  async #readChunked(limits: Limits, deadline: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const line = await this.readLine(deadline);
      const size = /^([0-9A-Fa-f]{1,8})(;.*)?$/.exec(line);
      if (!size) throw new HttpError(400, "bad_request", "Invalid chunk size");
      const n = parseInt(size[1], 16);
      if (n === 0) break;
      total += n;
      if (total > limits.maxBodyBytes) {
        throw new HttpError(413, "payload_too_large", "The request body is too large");
      }
      parts.push(await this.readExactly(n, deadline));
      if ((await this.readLine(deadline)) !== "") {
        throw new HttpError(400, "bad_request", "Bad chunk framing");
      }
    }
    // Trailers, if any, end with an empty line.
    while ((await this.readLine(deadline, 8192)) !== "");
    const body = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      body.set(part, at);
      at += part.length;
    }
    return body;
  }
}

/** GET and HEAD carry no body upstream (fetch cannot send one): an empty one is dropped. */
function noBodyAllowed(head: RequestHead, body: Uint8Array): Uint8Array | null {
  if (head.method !== "GET" && head.method !== "HEAD") return body;
  if (body.length === 0) return null;
  throw new HttpError(400, "bad_request", "A GET or HEAD request cannot carry a body");
}

/** Every value of a header (case-insensitive name). */
export function headerValues(head: RequestHead, name: string): string[] {
  return head.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/**
 * True when a header value holds a control character other than tab, or a
 * byte past ASCII: such a value is no ByteString once decoded (0x80 reads as
 * U+20AC), so fetch() could not pass it on; it is refused instead.
 */
function hasControlOrNonAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c >= 0x7f) return true;
  }
  return false;
}

/** Parses a request line and header fields strictly; anything odd is a 400. */
export function parseHead(text: string): RequestHead {
  const [requestLine, ...lines] = text.split("\r\n");
  const parts = requestLine.split(" ");
  if (parts.length !== 3 || !TOKEN.test(parts[0])) {
    throw new HttpError(400, "bad_request", "Malformed request line");
  }
  const [method, target, version] = parts;
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    throw new HttpError(505, "http_version_not_supported", "Only HTTP/1.0 and HTTP/1.1");
  }
  // Origin form only: no `*`, no CONNECT authority, no absolute URL, no controls.
  if (!target.startsWith("/") || target.startsWith("//") || !/^[!-~]+$/.test(target)) {
    throw new HttpError(400, "bad_request", "Malformed request target");
  }
  if (!METHODS.has(method)) {
    throw new HttpError(405, "method_not_allowed", "The gateway does not pass this method on");
  }
  const headers: [string, string][] = [];
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (colon <= 0 || !TOKEN.test(name) || hasControlOrNonAscii(value)) {
      throw new HttpError(400, "bad_request", "Malformed header field");
    }
    headers.push([name, value]);
  }
  return { method, target, version: version as RequestHead["version"], headers };
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** Writes a whole response in one write (a split head and body stalls keep-alive clients). */
export async function writeResponse(
  conn: Deno.Conn,
  status: number,
  headers: Headers,
  body: Uint8Array,
  keepAlive: boolean,
): Promise<void> {
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  head += `content-length: ${body.length}\r\nconnection: ${
    keepAlive ? "keep-alive" : "close"
  }\r\n\r\n`;
  const headBytes = new TextEncoder().encode(head);
  const out = new Uint8Array(headBytes.length + body.length);
  out.set(headBytes);
  out.set(body, headBytes.length);
  for (let written = 0; written < out.length;) written += await conn.write(out.subarray(written));
}
