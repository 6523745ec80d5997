/**
 * LOCAL STAND-IN: how pg_net's worker sends one queued request (libcurl there,
 * fetch here). Every failure becomes a response row, never an exception.
 */

/** One row taken from net.http_request_queue. */
export interface QueuedRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string> | null;
  body: Uint8Array | null;
  timeout_milliseconds: number;
}

/** One row for net._http_response. */
export interface RequestOutcome {
  id: string;
  status_code: number | null;
  content_type: string | null;
  headers: Record<string, string> | null;
  content: string | null;
  timed_out: boolean;
  error_msg: string | null;
}

/** libcurl's texts for the failures fetch reports, so logs read like the real ones. */
function curlError(err: unknown): string {
  const text = err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err);
  if (/refused/i.test(text)) return "Couldn't connect to server";
  if (/dns|lookup|resolve|not known/i.test(text)) return "Couldn't resolve host name";
  if (/invalid url|url scheme|relative url/i.test(text)) {
    return "URL using bad/illegal format or missing URL";
  }
  return "Failure when receiving data from the peer";
}

/** Sends one request with its own timeout (covering the body) and no retries. */
export async function sendRequest(req: QueuedRequest): Promise<RequestOutcome> {
  const started = performance.now();
  const signal = AbortSignal.timeout(req.timeout_milliseconds);
  try {
    const res = await fetch(req.url, {
      method: req.method.toUpperCase(),
      headers: req.headers ?? {},
      body: req.body ?? undefined,
      signal,
      redirect: "follow",
    });
    const content = await res.text();
    return {
      id: req.id,
      status_code: res.status,
      content_type: res.headers.get("content-type"),
      headers: Object.fromEntries(res.headers),
      content,
      timed_out: false,
      error_msg: null,
    };
  } catch (err) {
    const timedOut = signal.aborted;
    const total = (performance.now() - started).toFixed(3);
    return {
      id: req.id,
      status_code: null,
      content_type: null,
      headers: null,
      content: null,
      timed_out: timedOut,
      error_msg: timedOut
        ? `Timeout of ${req.timeout_milliseconds} ms reached. Total time: ${total} ms`
        : curlError(err),
    };
  }
}
