/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger: one JSON object per line, never secrets or stack traces in fields it is given. */
export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line. */
  with(fields: LogFields): Logger;
}
