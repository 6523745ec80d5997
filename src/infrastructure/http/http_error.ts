/** An error that already knows its HTTP status and its stable, public code and message. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

/** A JSON response with the project's error shape `{"error":{"code","message"}}`. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  headers?: HeadersInit,
): Response {
  return json(status, { error: { code, message } }, headers);
}

/** A JSON response. */
export function json(status: number, body: unknown, headers?: HeadersInit): Response {
  const response = Response.json(body, { status, headers });
  response.headers.set("cache-control", "no-store");
  return response;
}
