import type { LogFields, Logger } from "../../application/ports/logger.ts";

type Level = "info" | "warn" | "error";

/** Field names whose values are never written, whatever a caller passes. */
const SECRET_FIELD = /secret|token|password|authorization|api_?key|service_role/i;

/** Writes one JSON object per line: time, level, event, then fields; secret-looking fields are redacted. */
export class JsonLogger implements Logger {
  readonly #fields: LogFields;
  readonly #write: (line: string) => void;

  constructor(fields: LogFields = {}, write: (line: string) => void = console.log) {
    this.#fields = fields;
    this.#write = write;
  }

  info(event: string, fields?: LogFields): void {
    this.#log("info", event, fields);
  }

  warn(event: string, fields?: LogFields): void {
    this.#log("warn", event, fields);
  }

  error(event: string, fields?: LogFields): void {
    this.#log("error", event, fields);
  }

  with(fields: LogFields): Logger {
    return new JsonLogger({ ...this.#fields, ...fields }, this.#write);
  }

  #log(level: Level, event: string, fields?: LogFields): void {
    const line = { time: new Date().toISOString(), level, event, ...this.#fields, ...fields };
    this.#write(JSON.stringify(line, redact));
  }
}

function redact(key: string, value: unknown): unknown {
  return key !== "" && SECRET_FIELD.test(key) ? "[redacted]" : value;
}
