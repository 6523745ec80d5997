import assert from "node:assert/strict";
import { InvalidPayloadError } from "../../src/domain/errors.ts";
import { heartbeat } from "../../src/jobs/heartbeat.ts";
import { RecordingLogger, SteppingClock } from "../support/fakes.ts";
import { type JobContext, type JobPayload, jobSummary } from "../../src/domain/job.ts";

const beat = (payload: JobPayload, context: JobContext) =>
  heartbeat()(payload, context).then(jobSummary);

function context(signal = new AbortController().signal): JobContext {
  return {
    executionId: "e1",
    jobName: "heartbeat",
    trigger: "cron",
    signal,
    deadline: new Date("2026-11-27T02:02:00Z"),
    clock: new SteppingClock(new Date("2026-11-27T02:00:00Z")),
    logger: new RecordingLogger(),
  };
}

Deno.test("heartbeat returns when it beat, from the injected clock", async () => {
  const summary = await beat({}, context());
  assert.deepEqual(summary, { beat_at: "2026-11-27T02:00:00.000Z", held_ms: 0, trigger: "cron" });
});

Deno.test("heartbeat holds for hold_ms and reports it", async () => {
  const summary = await beat({ hold_ms: 5 }, context());
  assert.equal(summary?.held_ms, 5);
});

Deno.test("heartbeat stops holding when its signal aborts", async () => {
  const controller = new AbortController();
  const run = heartbeat()({ hold_ms: 60_000 }, context(controller.signal));
  controller.abort(new Error("budget over"));
  await assert.rejects(run, /budget over/);
});

for (const bad of [-1, 1.5, 60_001, "10", null]) {
  Deno.test(`heartbeat refuses hold_ms ${JSON.stringify(bad)}`, async () => {
    await assert.rejects(
      heartbeat()({ hold_ms: bad }, context()),
      (error: unknown) =>
        error instanceof InvalidPayloadError && error.code === "invalid_payload" &&
        /'hold_ms' must be an integer from 0 to 60000/.test(error.message),
    );
  });
}

Deno.test("heartbeat burns cpu_ms of busy time in slices and reports it", async () => {
  const summary = await heartbeat({ yieldNow: () => Promise.resolve() })(
    { cpu_ms: 50 },
    context(),
  ).then(jobSummary);
  assert.ok((summary?.cpu_ms as number) >= 50);
});

Deno.test("heartbeat stops burning between slices once its signal aborts", async () => {
  const controller = new AbortController();
  let slices = 0;
  const run = heartbeat({
    yieldNow: () => {
      if (++slices === 3) controller.abort(new Error("worker stopping"));
      return Promise.resolve();
    },
  })({ cpu_ms: 10_000 }, context(controller.signal));
  await assert.rejects(run, /worker stopping/);
  assert.equal(slices, 3);
});

for (const bad of [-1, 10_001, "5"]) {
  Deno.test(`heartbeat refuses cpu_ms ${JSON.stringify(bad)}`, async () => {
    await assert.rejects(
      heartbeat()({ cpu_ms: bad }, context()),
      /'cpu_ms' must be an integer from 0 to 10000/,
    );
  });
}
