import assert from "node:assert/strict";
import { LogThrottle } from "../../src/infrastructure/logging/log_throttle.ts";
import { ManualClock, RecordingLogger } from "../support/fakes.ts";

/** A throttle on a manual clock whose count-line timers the test runs by hand. */
function throttled(intervalMs = 60_000) {
  const clock = new ManualClock();
  const logger = new RecordingLogger();
  const timers: { run: () => void; delayMs: number }[] = [];
  const throttle = new LogThrottle(
    logger,
    clock,
    intervalMs,
    (run, delayMs) => timers.push({ run, delayMs }),
  );
  return { clock, logger, timers, throttle, events: () => logger.lines.map((l) => l.event) };
}

Deno.test("LogThrottle writes the count of a flood that stops on its own timer, at the interval's end", () => {
  const t = throttled();
  for (let i = 0; i < 5; i++) {
    t.throttle.warn("unauthorized:mismatch", "http.unauthorized", { reason: "mismatch" });
    t.clock.advance(1_000);
  }
  assert.deepEqual(t.events(), ["http.unauthorized"]);
  assert.equal(t.timers.length, 1, "one timer per interval, set by the first line left out");
  assert.equal(
    t.timers[0].delayMs,
    59_000,
    "due when the interval that began with the first line ends",
  );

  t.clock.advance(55_000);
  t.timers[0].run();

  assert.deepEqual(t.events(), ["http.unauthorized", "http.unauthorized.suppressed"]);
  assert.deepEqual(t.logger.lines[1].fields, {
    reason: "mismatch",
    count: 4,
    interval_ms: 60_000,
  });
  t.throttle.warn("unauthorized:mismatch", "http.unauthorized", { reason: "mismatch" });
  assert.equal(t.events().at(-1), "http.unauthorized", "the next line opens a new interval");
});

Deno.test("LogThrottle writes a count once when the next interval's line comes before the timer", () => {
  const t = throttled();
  t.throttle.error("internal:Error", "http.internal_error");
  t.throttle.error("internal:Error", "http.internal_error");
  t.clock.advance(60_000);
  t.throttle.error("internal:Error", "http.internal_error");
  t.timers[0].run();
  assert.deepEqual(t.events(), [
    "http.internal_error",
    "http.internal_error.suppressed",
    "http.internal_error",
  ]);
});

Deno.test("LogThrottle sets no timer when nothing is left out", () => {
  const t = throttled();
  t.throttle.warn("a", "x");
  t.clock.advance(60_000);
  t.throttle.warn("a", "x");
  assert.deepEqual(t.timers, []);
  assert.deepEqual(t.events(), ["x", "x"]);
});
