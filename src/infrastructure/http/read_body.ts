import { HttpError } from "./http_error.ts";

/** The largest body the scheduler reads; its real bodies are a few dozen bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Reads the body as JSON, refusing more than `limit` bytes without buffering them. */
export async function readJsonBody(request: Request, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);

  // A declared length is enforced by the HTTP server, so one read suffices;
  // without one (chunked), count while streaming and stop at the limit.
  let bytes: Uint8Array;
  try {
    bytes = Number.isFinite(declared)
      ? new Uint8Array(await request.arrayBuffer())
      : await readLimited(request.body, limit);
  } catch (error) {
    if (error instanceof HttpError) throw error;
    // The connection broke or sent a malformed body (a bad chunk size, a short body):
    // the caller's fault, and nothing of it was read.
    throw new HttpError(400, "invalid_request", "Request body could not be read");
  }
  if (bytes.byteLength > limit) throw tooLarge(limit);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "invalid_request", "Request body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_request", "Request body is not valid JSON");
  }
}

async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (body !== null) {
    const reader = body.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "payload_too_large", `Request body is larger than ${limit} bytes`);
}
