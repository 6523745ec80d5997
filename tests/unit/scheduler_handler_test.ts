import assert from "node:assert/strict";
import { SteppingClock } from "../support/fakes.ts";
import {
  fakeScheduler,
  recordingJob,
  runRequest,
  TEST_SECRET,
} from "../support/scheduler_mother.ts";

Deno.test("handler dispatches a known job_name to its handler and answers 200 with the record", async () => {
  const nightly = recordingJob(() => Promise.resolve({ checked: 3 }));
  const other = recordingJob();
  const s = fakeScheduler({ jobs: { nightly_report: nightly.handler, other_job: other.handler } });

  const response = await s.handler(runRequest({ job_name: "nightly_report", payload: { a: 1 } }));

  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.job_name, "nightly_report");
  assert.equal(body.status, "succeeded");
  assert.deepEqual(body.summary, { checked: 3 });
  assert.match(body.execution_id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(nightly.calls.map((c) => c.payload), [{ a: 1 }]);
  assert.equal(other.calls.length, 0);
  const [record] = s.log.records();
  assert.equal(record.executionId, body.execution_id);
  assert.equal(record.status, "succeeded");
  assert.equal(record.trigger, "manual");
});

Deno.test("handler answers 404 unknown_job for an unregistered job_name and logs a failed run", async () => {
  const s = fakeScheduler({ jobs: { heartbeat: recordingJob().handler } });

  const response = await s.handler(
    runRequest({ job_name: "no_such_job", dispatch_id: s.lock.dispatch("no_such_job") }),
  );

  assert.equal(response.status, 404);
  const body = await response.json();
  assert.equal(body.error.code, "unknown_job");
  assert.equal(body.error.message, "Cannot run job 'no_such_job': no handler is registered");
  const records = s.log.records();
  assert.equal(records.length, 1);
  assert.equal(records[0].jobName, "no_such_job");
  assert.equal(records[0].status, "failed");
  assert.equal(records[0].trigger, "cron");
  assert.equal(records[0].errorMessage, "Cannot run job 'no_such_job': no handler is registered");
  assert.deepEqual(s.lock.held(), [], "an unknown job takes no lease");
});

Deno.test("handler answers 200 failed when the handler throws, without the error text or a stack", async () => {
  const failing = recordingJob(() => Promise.reject(new Error("Dataverse said 500 at row 42")));
  const s = fakeScheduler({ jobs: { flaky_job: failing.handler } });

  const response = await s.handler(runRequest({ job_name: "flaky_job" }));

  assert.equal(response.status, 200);
  const text = await response.text();
  assert.equal(JSON.parse(text).status, "failed");
  assert.doesNotMatch(text, /Dataverse|row 42|at .*\.ts|stack/i);
  const [record] = s.log.records();
  assert.equal(record.status, "failed");
  assert.equal(record.errorMessage, "Dataverse said 500 at row 42");
  assert.deepEqual(s.lock.calls, ["start:flaky_job", "finish:flaky_job"]);
  assert.deepEqual(s.lock.held(), [], "the lease is given back after a failure");
});

for (
  const [name, authorization] of [
    ["missing", null],
    ["empty", ""],
    ["not a bearer", `Basic ${btoa(`user:${TEST_SECRET}`)}`],
    ["bearer without a token", "Bearer "],
    ["wrong secret", "Bearer not-the-secret"],
    ["secret with a suffix", `Bearer ${TEST_SECRET}x`],
  ] as const
) {
  Deno.test(`handler answers 401 before any job runs when Authorization is ${name}`, async () => {
    const job = recordingJob();
    const s = fakeScheduler({ jobs: { heartbeat: job.handler } });
    let bodyRead = false;
    const body = new ReadableStream({
      pull(controller) {
        bodyRead = true;
        controller.enqueue(new TextEncoder().encode(JSON.stringify({ job_name: "heartbeat" })));
        controller.close();
      },
    }, { highWaterMark: 0 });
    const headers = new Headers(authorization === null ? {} : { authorization });
    const response = await s.handler(
      new Request("http://scheduler.test/", { method: "POST", headers, body }),
    );

    assert.equal(response.status, 401);
    assert.equal((await response.json()).error.code, "unauthorized");
    assert.equal(job.calls.length, 0);
    s.log.assertNothingSaved();
    assert.deepEqual(s.lock.calls, []);
    assert.equal(bodyRead, false, "the body is not read before the caller is authorized");
  });
}

Deno.test("handler takes started_at and finished_at from the injected clock, bracketing the handler", async () => {
  let seenDuringRun: Date | undefined;
  const s = fakeScheduler({
    jobs: {
      timed_job: (_payload, context) => {
        seenDuringRun = context.clock.now();
        return Promise.resolve();
      },
    },
  });

  const body = await (await s.handler(runRequest({ job_name: "timed_job" }))).json();

  const [record] = s.log.records();
  assert.ok(seenDuringRun);
  assert.ok(record.startedAt < seenDuringRun, "started before the handler ran");
  assert.ok(record.finishedAt! > seenDuringRun, "finished after the handler returned");
  assert.equal(body.started_at, record.startedAt.toISOString());
  assert.equal(body.finished_at, record.finishedAt!.toISOString());
  assert.equal(body.duration_ms, record.finishedAt!.getTime() - record.startedAt.getTime());
  assert.ok(s.clock.reads.some((d) => d.getTime() === record.startedAt.getTime()));
});

for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
  Deno.test(`handler answers 405 with Allow: POST to ${method}`, async () => {
    const s = fakeScheduler({ jobs: { heartbeat: recordingJob().handler } });
    const response = await s.handler(runRequest({ job_name: "heartbeat" }, { method }));
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "POST");
    assert.equal((await response.json()).error.code, "method_not_allowed");
    s.log.assertNothingSaved();
  });
}

for (
  const [name, body, expected] of [
    ["not JSON", "{job_name: heartbeat", /not valid JSON/],
    ["a JSON array", ["heartbeat"], /expected object/],
    ["a JSON string", '"heartbeat"', /expected object/],
    ["missing job_name", {}, /'job_name'/],
    ["an empty job_name", { job_name: "" }, /'job_name': job_name must be/],
    ["an uppercase job_name", { job_name: "Heartbeat" }, /'job_name'/],
    ["a job_name over 64 characters", { job_name: "a".repeat(65) }, /'job_name'/],
    ["a numeric job_name", { job_name: 7 }, /'job_name'/],
    ["an unknown trigger", { job_name: "heartbeat", trigger: "webhook" }, /'trigger'/],
    ["an array payload", { job_name: "heartbeat", payload: [1] }, /'payload'/],
    ["an unknown field", { job_name: "heartbeat", jobname: "x" }, /jobname/],
  ] as const
) {
  Deno.test(`handler answers 400 invalid_request for ${name}`, async () => {
    const job = recordingJob();
    const s = fakeScheduler({ jobs: { heartbeat: job.handler } });
    const response = await s.handler(runRequest(body));
    assert.equal(response.status, 400);
    const error = (await response.json()).error;
    assert.equal(error.code, "invalid_request");
    assert.match(error.message, expected);
    assert.equal(job.calls.length, 0);
    s.log.assertNothingSaved();
  });
}

Deno.test("handler answers 413 for a body over 64 KiB, by Content-Length or by streaming", async () => {
  const s = fakeScheduler({ jobs: { heartbeat: recordingJob().handler } });
  const big = JSON.stringify({ job_name: "heartbeat", payload: { pad: "x".repeat(70_000) } });
  const declared = await s.handler(runRequest(big));
  assert.equal(declared.status, 413);
  assert.equal((await declared.json()).error.code, "payload_too_large");

  const stream = new Blob([big]).stream();
  const streamed = await s.handler(
    new Request("http://scheduler.test/", {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_SECRET}` },
      body: stream,
    }),
  );
  assert.equal(streamed.status, 413);
  s.log.assertNothingSaved();
});

Deno.test("handler answers 200 skipped and records it when the job's lease is held", async () => {
  let release!: () => void;
  const slow = recordingJob(() => new Promise((resolve) => (release = () => resolve({}))));
  const s = fakeScheduler({ jobs: { slow_job: slow.handler } });

  const first = s.handler(runRequest({ job_name: "slow_job" }));
  await new Promise((resolve) => setTimeout(resolve, 0));
  const second = await s.handler(runRequest({ job_name: "slow_job" }));
  release();
  const firstBody = await (await first).json();

  assert.equal(second.status, 200);
  const body = await second.json();
  assert.equal(body.status, "skipped");
  assert.equal(slow.calls.length, 1, "the handler ran once");
  assert.equal(firstBody.status, "succeeded");
  const skipped = s.log.rows.get(body.execution_id)!;
  assert.equal(skipped.status, "skipped");
  assert.match(skipped.errorMessage!, new RegExp(firstBody.execution_id));
});

Deno.test("handler refuses calls without a dispatch record with 403 in production, whatever trigger they claim, and lets dispatched ones through", async () => {
  const job = recordingJob();
  const s = fakeScheduler({
    jobs: { heartbeat: job.handler },
    settings: { allowManualTriggers: false },
  });

  for (
    const body of [
      { job_name: "heartbeat" },
      { job_name: "heartbeat", trigger: "cron" },
      { job_name: "heartbeat", dispatch_id: crypto.randomUUID() },
      { job_name: "heartbeat", dispatch_id: s.lock.dispatch("other_job") },
    ]
  ) {
    const manual = await s.handler(runRequest(body));
    assert.equal(manual.status, 403, JSON.stringify(body));
    assert.equal((await manual.json()).error.code, "manual_trigger_disabled");
  }
  assert.equal(job.calls.length, 0);
  s.log.assertNothingSaved();

  const cron = await s.handler(
    runRequest({ job_name: "heartbeat", dispatch_id: s.lock.dispatch("heartbeat") }),
  );
  assert.equal(cron.status, 200);
  const body = await cron.json();
  assert.deepEqual([body.status, body.trigger, body.slot, body.attempt], [
    "running",
    "cron",
    "2026-11-27",
    1,
  ]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(job.calls.length, 1);
});

Deno.test("handler answers 500 internal_error without details when the execution log fails", async () => {
  const s = fakeScheduler({ jobs: { heartbeat: recordingJob().handler } });
  s.lock.start = () => Promise.reject(new Error("connection to 10.0.0.5 refused, key=abc"));

  const response = await s.handler(runRequest({ job_name: "heartbeat" }));

  assert.equal(response.status, 500);
  const text = await response.text();
  assert.deepEqual(JSON.parse(text), {
    error: { code: "internal_error", message: "The scheduler failed; see its logs" },
  });
  assert.ok(s.logger.lines.some((l) => l.event === "http.internal_error"));
  assert.deepEqual(s.lock.held(), [], "no lease is held when the start could not be recorded");
});

Deno.test("handler keeps a run alive through keepAlive so it outlives a caller that hangs up", async () => {
  const kept: Promise<unknown>[] = [];
  const { AuthorizeCaller } = await import("../../src/application/authorize_caller.ts");
  const { createSchedulerHandler } = await import(
    "../../src/infrastructure/http/scheduler_handler.ts"
  );
  const s = fakeScheduler({ jobs: { heartbeat: recordingJob().handler } });
  const handler = createSchedulerHandler({
    authorizeCaller: new AuthorizeCaller(s.secrets),
    runJob: s.runJob,
    logger: s.logger,
    clock: s.clock,
    keepAlive: (work) => kept.push(work),
  });
  const response = await handler(runRequest({ job_name: "heartbeat" }));
  assert.equal(response.status, 200);
  assert.equal(kept.length, 1);
});

Deno.test("handler answers 400 invalid_request when the body stream breaks mid-read (a malformed chunked body)", async () => {
  const job = recordingJob();
  const s = fakeScheduler({ jobs: { heartbeat: job.handler } });
  // What Deno.serve hands over for a chunked body with a bad chunk size: a stream that errors.
  const broken = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"job_name":'));
      controller.error(new TypeError("invalid chunk size"));
    },
  });
  const response = await s.handler(
    new Request("http://scheduler.test/", {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_SECRET}` },
      body: broken,
    }),
  );
  assert.equal(response.status, 400);
  const error = (await response.json()).error;
  assert.equal(error.code, "invalid_request");
  assert.doesNotMatch(error.message, /chunk size/);
  assert.equal(job.calls.length, 0);
  s.log.assertNothingSaved();
  assert.equal(s.logger.lines.filter((line) => line.level === "error").length, 0);
});

Deno.test("handler logs a flood of unauthorized calls as one line plus one summary per interval", async () => {
  const s = fakeScheduler({
    jobs: { heartbeat: recordingJob().handler },
    clock: new SteppingClock(undefined, 0),
  });
  for (let i = 0; i < 500; i++) {
    const response = await s.handler(
      runRequest({ job_name: "heartbeat" }, { authorization: "Bearer wrong" }),
    );
    assert.equal(response.status, 401);
    await response.body?.cancel();
  }
  const unauthorized = () => s.logger.lines.filter((l) => l.event.startsWith("http.unauthorized"));
  assert.deepEqual(unauthorized().map((l) => l.event), ["http.unauthorized"]);

  s.clock.advance(60_000);
  const response = await s.handler(
    runRequest({ job_name: "heartbeat" }, { authorization: "Bearer wrong" }),
  );
  await response.body?.cancel();
  const lines = unauthorized();
  assert.deepEqual(lines.map((l) => l.event), [
    "http.unauthorized",
    "http.unauthorized.suppressed",
    "http.unauthorized",
  ]);
  assert.equal(lines[1].fields.count, 499);
  assert.equal(lines[1].fields.reason, "mismatch");
});
