import type { LogFields, Logger } from "../../application/ports/logger.ts";
import type { Clock } from "../../domain/clock.ts";

/** The most distinct keys tracked at once; past it the oldest window is flushed and dropped. */
const MAX_KEYS = 64;

/** Runs `flush` after `delayMs`; the throttle writes a window's count line with it. */
export type ScheduleFlush = (flush: () => void, delayMs: number) => void;

/** A real timer that does not keep the process alive for a count line. */
export const timerFlush: ScheduleFlush = (flush, delayMs) => {
  const id = setTimeout(flush, delayMs);
  if (typeof Deno.unrefTimer === "function") Deno.unrefTimer(id);
};

interface Window {
  readonly level: "warn" | "error";
  readonly event: string;
  readonly fields: LogFields;
  readonly openedAt: number;
  suppressed: number;
}

/**
 * Collapses a flood of one kind of line (say, unauthorized calls) into the first line of
 * each interval plus, when the interval ends, one `<event>.suppressed` line with how many
 * were left out, written on its own timer so the count of a flood that stops is written
 * too. Log volume then stays bounded whatever a caller sends.
 */
export class LogThrottle {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #schedule: ScheduleFlush;
  readonly #windows = new Map<string, Window>();

  constructor(
    logger: Logger,
    clock: Clock,
    intervalMs = 60_000,
    schedule: ScheduleFlush = timerFlush,
  ) {
    this.#logger = logger;
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#schedule = schedule;
  }

  warn(key: string, event: string, fields: LogFields = {}): void {
    this.#log("warn", key, event, fields);
  }

  error(key: string, event: string, fields: LogFields = {}): void {
    this.#log("error", key, event, fields);
  }

  #log(level: "warn" | "error", key: string, event: string, fields: LogFields): void {
    const now = this.#clock.now().getTime();
    const open = this.#windows.get(key);
    if (open && now - open.openedAt < this.#intervalMs) {
      // The first line left out sets the timer that writes the count at the interval's end.
      if (open.suppressed++ === 0) {
        this.#schedule(() => {
          if (this.#windows.get(key) === open) this.#flush(key, open);
        }, Math.max(0, open.openedAt + this.#intervalMs - now));
      }
      return;
    }
    if (open) this.#flush(key, open);
    if (this.#windows.size >= MAX_KEYS) {
      const [oldestKey, oldest] = this.#windows.entries().next().value!;
      this.#flush(oldestKey, oldest);
    }
    this.#logger[level](event, fields);
    this.#windows.set(key, { level, event, fields, openedAt: now, suppressed: 0 });
  }

  #flush(key: string, window: Window): void {
    this.#windows.delete(key);
    if (window.suppressed === 0) return;
    this.#logger[window.level](`${window.event}.suppressed`, {
      ...window.fields,
      count: window.suppressed,
      interval_ms: this.#intervalMs,
    });
  }
}
