// The sync's soft stop (the start of its safety margin) over the real Dataverse
// adapter and an in-process fake portal: it ends waits, never a request in flight.
import assert from "node:assert/strict";
import { FakeDataverse } from "../../local/fake_dataverse.ts";
import { timerSleep } from "../../src/domain/batch_pacer.ts";
import { WorkRemains } from "../../src/domain/job.ts";
import { HLF_DYNAMICS_SYNC_DEFAULTS, hlfDynamicsSync } from "../../src/jobs/hlf_dynamics_sync.ts";
import {
  aDataversePortal,
  aJobContext,
  InMemoryChangeFeed,
  InMemorySyncQuarantine,
} from "../support/dynamics_fakes.ts";
import { SteppingClock } from "../support/fakes.ts";

const BASE = "http://dataverse.test";
const OPTIONS = { ...HLF_DYNAMICS_SYNC_DEFAULTS, pageSize: 3 };
// 400 ms budget on a clock that stands still: margin 100 ms, so the soft stop fires after 300 ms.
const BUDGET_MS = 400;
// Upserts answer after this long: well after the soft stop (timers fire in order), well before the budget matters.
const UPSERT_LATENCY_MS = 450;

/** A fetch that holds Web API requests for `latencyMs`, and like a real one rejects if its signal aborts first. */
function slowUpserts(fake: FakeDataverse, latencyMs: number): typeof fetch {
  return (input, init) => {
    if (!String(input).includes("/api/data/")) return fake.fetch(input, init);
    return new Promise((resolve, reject) => {
      const signal = (init as { signal?: AbortSignal | null } | undefined)?.signal;
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(fake.fetch(input, init));
      }, latencyMs);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  };
}

function setup(fetchFor: (fake: FakeDataverse) => typeof fetch, sleep = timerSleep) {
  const fake = new FakeDataverse();
  const feed = new InMemoryChangeFeed().add("hlf", 6);
  const quarantine = new InMemorySyncQuarantine((id) =>
    feed.changes.find((c) => c.status.certificationId === id)!.status
  );
  const { portal, clock } = aDataversePortal({
    baseUrl: BASE,
    fetch: fetchFor(fake),
    settings: { batchSize: 3, concurrency: 1 },
    sleep,
  });
  fake.now = () => clock.now().getTime();
  const job = hlfDynamicsSync({ portal, feed, quarantine }, OPTIONS);
  const run = aJobContext({ clock: new SteppingClock(undefined, 0), budgetMs: BUDGET_MS });
  return { fake, feed, job, ...run };
}

Deno.test("hlfDynamicsSync() lets a portal request in flight at the soft stop finish and counts its records as sent", async () => {
  const { fake, feed, job, context, logger } = setup((fake) =>
    slowUpserts(fake, UPSERT_LATENCY_MS)
  );

  const result = await job({}, context);

  assert.ok(result instanceof WorkRemains, "the part ends; the next one carries on");
  assert.equal(result.summary.sent, 3, "the page answered after the soft stop counts");
  assert.equal(result.summary.cursor, "pos:3");
  assert.deepEqual(
    feed.advances.map((a) => a.to),
    ["pos:3"],
    "so the next part does not resend it",
  );
  assert.equal(fake.multiples().length, 1, "no request started after the soft stop");
  assert.equal(fake.rows.size, 3);
  assert.ok(logger.lines.some((l) => l.fields.reason === "portal_wait"));
  assert.equal(context.signal.aborted, false, "the run's own budget was not spent");
});

Deno.test("hlfDynamicsSync() still ends the part when a Retry-After wait crosses the soft stop", async () => {
  const { fake, feed, job, context, logger } = setup((fake) => {
    // Longer than the budget, under the policy's cap: only the soft stop can end it in time.
    fake.upsertScript.push({ status: 429, headers: { "retry-after": "5" } });
    return fake.fetch;
  });

  const result = await job({}, context);

  assert.ok(result instanceof WorkRemains, "the next part waits on");
  assert.equal(result.summary.sent, 0);
  assert.equal(result.summary.stopped, "deadline");
  assert.deepEqual(feed.advances, []);
  assert.equal(fake.rows.size, 0, "a wait that ran its 5 s would have sent the page");
  assert.ok(logger.lines.some((l) => l.fields.reason === "portal_wait"));
});
