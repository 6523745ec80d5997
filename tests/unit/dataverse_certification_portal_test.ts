// The Dataverse portal adapter's token cache, retry rules, batch form and
// service protection pacing, over an in-process fake (injected fetch, clock
// and sleep): no sockets, no timers.
import assert from "node:assert/strict";
import { FAKE_APP, FakeDataverse } from "../../local/fake_dataverse.ts";
import { aCertificationStatus, aDataversePortal } from "../support/dynamics_fakes.ts";
import type { DataverseSettings } from "../../src/infrastructure/dynamics/dynamics_settings.ts";
import type { RetryPolicy } from "../../src/infrastructure/dynamics/retry_policy.ts";

const BASE = "http://dataverse.test";
const records = (count: number) =>
  Array.from({ length: count }, (_, i) => aCertificationStatus(i + 1));
const idOf = (n: number) => aCertificationStatus(n).certificationId;
/** Signals that never abort: neither the run nor its waits are cut short. */
const signals = () => ({
  signal: new AbortController().signal,
  waitSignal: new AbortController().signal,
});

function setup(
  settings: Partial<DataverseSettings> = {},
  tokenLifetimeMarginMs?: number,
  retry: Partial<RetryPolicy> = {},
) {
  const fake = new FakeDataverse();
  const wired = aDataversePortal({
    baseUrl: BASE,
    fetch: fake.fetch,
    settings,
    retry,
    tokenLifetimeMarginMs,
  });
  fake.now = () => wired.clock.now().getTime();
  return { fake, ...wired };
}

Deno.test("DataverseCertificationPortal fetches one token for a batch and caches it until shortly before expiry", async () => {
  const { fake, portal, clock } = setup({}, 60_000);
  fake.tokenLifetimeS = 3600;

  const first = await portal.push(records(5), signals());
  assert.equal(first.accepted.size, 5);
  assert.equal(fake.tokensIssued, 1, "concurrent workers share one token request");

  clock.advance(3600_000 - 60_000 - 1);
  await portal.push(records(1), signals());
  assert.equal(fake.tokensIssued, 1, "still cached inside the margin");

  clock.advance(1);
  await portal.push(records(1), signals());
  assert.equal(fake.tokensIssued, 2, "refreshed once the margin is reached");
});

Deno.test("DataverseCertificationPortal keeps at most `concurrency` upserts in flight", async () => {
  const { fake, portal } = setup({ concurrency: 3 });
  const result = await portal.push(records(12), signals());
  assert.equal(result.accepted.size, 12);
  assert.equal(fake.maxInFlight, 3);
});

Deno.test("DataverseCertificationPortal keeps `concurrency` requests in flight across pushes under way at once, the earlier push's first", async () => {
  const { fake, portal } = setup({ concurrency: 3, batchSize: 2 });
  const first = records(8);
  const second = Array.from({ length: 8 }, (_, i) => aCertificationStatus(i + 101));

  const [a, b] = await Promise.all([portal.push(first, signals()), portal.push(second, signals())]);

  assert.equal(a.accepted.size, 8);
  assert.equal(b.accepted.size, 8);
  assert.equal(fake.maxInFlight, 3, "two pages together stay within the portal's limit");
  assert.equal(portal.recordsInFlight, 6);
  const order = fake.multiples().map((m) => JSON.parse(m.body).Targets[0]["@odata.id"] as string);
  const firstIds = first.filter((_, i) => i % 2 === 0).map((r) => r.certificationId);
  assert.ok(
    firstIds.every((id) => order.slice(0, 4).some((target) => target.includes(id))),
    `the first push's requests go first: ${order.join(", ")}`,
  );
});

Deno.test("DataverseCertificationPortal waits out Retry-After on 429 and then succeeds", async () => {
  const { fake, portal, sleeper } = setup({ concurrency: 1 });
  fake.upsertScript.push({ status: 429, headers: { "retry-after": "7" }, errorCode: "0x80072322" });

  const result = await portal.push(records(2), signals());

  assert.deepEqual([...result.accepted], [idOf(1), idOf(2)]);
  assert.deepEqual(sleeper.pauses, [7_000]);
  assert.equal(fake.upserts().length, 3);
});

Deno.test("DataverseCertificationPortal gives up on a record when Retry-After is over the cap, without waiting", async () => {
  const { fake, portal, sleeper } = setup({ concurrency: 1 }, undefined, {
    maxRetryAfterMs: 10_000,
  });
  fake.upsertScript.push({ status: 429, headers: { "retry-after": "300" } });

  const result = await portal.push(records(3), signals());

  assert.equal(result.accepted.size, 0);
  assert.equal(result.rejected.length, 1);
  assert.equal(result.rejected[0].retryable, true);
  assert.match(result.rejected[0].reason, /HTTP 429.*asked to wait 300000 ms \(cap 10000 ms\)/);
  assert.deepEqual(sleeper.pauses, []);
  assert.equal(fake.upserts().length, 1, "no new record starts after a rejection");
});

Deno.test("DataverseCertificationPortal retries 5xx with exponential backoff and then succeeds", async () => {
  const { fake, portal, sleeper } = setup({ concurrency: 1 });
  fake.upsertScript.push({ status: 503 }, { status: 502 }, { status: 500 });

  const result = await portal.push(records(1), signals());

  assert.deepEqual([...result.accepted], [idOf(1)]);
  assert.deepEqual(sleeper.pauses, [100, 200, 400]);
});

Deno.test("DataverseCertificationPortal rejects a record as retryable after maxAttempts server errors", async () => {
  const { fake, portal, sleeper } = setup({ concurrency: 1 }, undefined, { maxAttempts: 3 });
  fake.alwaysFail.set(idOf(1), { status: 500, errorCode: "0x80040216" });

  const result = await portal.push(records(1), signals());

  assert.deepEqual(result.rejected, [{
    certificationId: idOf(1),
    status: 500,
    reason: "HTTP 500 ('0x80040216') after 3 attempts",
    detail: "Scripted failure for row [email]",
    retryable: true,
  }]);
  assert.deepEqual(sleeper.pauses, [100, 200], "no pause after the last attempt");
});

Deno.test("DataverseCertificationPortal refreshes the token once on 401 and resends", async () => {
  const { fake, portal } = setup({ concurrency: 1 });
  await portal.push(records(1), signals());
  fake.expireTokens();

  const result = await portal.push(records(2), signals());

  assert.equal(result.accepted.size, 2);
  assert.equal(fake.tokensIssued, 2);
  const auth = fake.upserts().map((r) => r.headers.get("authorization"));
  assert.deepEqual(auth, ["Bearer token-1", "Bearer token-1", "Bearer token-2", "Bearer token-2"]);
});

Deno.test("DataverseCertificationPortal fails a record for now (never for good) when the portal still answers 401 after a refresh", async () => {
  const { fake, portal } = setup({ concurrency: 1 });
  fake.alwaysFail.set(idOf(1), { status: 401, errorCode: "0x80072560" });
  const result = await portal.push(records(1), signals());
  assert.deepEqual(result.rejected.map((r) => [r.status, r.reason, r.retryable]), [
    [401, "HTTP 401 ('0x80072560')", true],
  ]);
  assert.equal(fake.tokensIssued, 2, "one refresh, then it stops");
});

Deno.test("DataverseCertificationPortal refuses a 400 for good at once, with the error text masked, and goes on with the rest", async () => {
  const { fake, portal, sleeper } = setup({ concurrency: 1 });
  fake.alwaysFail.set(idOf(2), { status: 400, errorCode: "0x80040203" });

  const result = await portal.push(records(5), signals());

  assert.deepEqual([...result.accepted], [idOf(1), idOf(3), idOf(4), idOf(5)]);
  assert.deepEqual(result.rejected, [{
    certificationId: idOf(2),
    status: 400,
    reason: "HTTP 400 ('0x80040203')",
    detail: "Scripted failure for row [email]",
    retryable: false,
  }]);
  assert.equal(fake.upserts().length, 5);
  assert.deepEqual(sleeper.pauses, []);
});

Deno.test("DataverseCertificationPortal starts no new record after one fails for now", async () => {
  const { fake, portal } = setup({ concurrency: 1 }, undefined, { maxAttempts: 2 });
  fake.alwaysFail.set(idOf(2), { status: 503 });

  const result = await portal.push(records(5), signals());

  assert.deepEqual([...result.accepted], [idOf(1)]);
  assert.deepEqual(result.rejected.map((r) => [r.certificationId, r.retryable]), [[idOf(2), true]]);
  assert.equal(fake.upserts().length, 3);
});

Deno.test("DataverseCertificationPortal fails the push when the portal refuses the table itself (404), not the record", async () => {
  const { portal } = setup({ concurrency: 1, entitySet: "hlf_nosuchtable" });
  await assert.rejects(
    portal.push(records(2), signals()),
    /refuses the table 'hlf_nosuchtable': HTTP 404/,
  );
});

Deno.test("DataverseCertificationPortal sends batchSize records per UpsertMultiple, concurrency at a time", async () => {
  const { fake, portal } = setup({ batchSize: 10, concurrency: 2 });

  const result = await portal.push(records(45), signals());

  assert.equal(result.accepted.size, 45);
  assert.equal(fake.upserts().length, 0);
  const multiples = fake.multiples();
  assert.equal(multiples.length, 5);
  assert.equal(
    multiples[0].path,
    `/api/data/v9.2/${FAKE_APP.entitySet}/Microsoft.Dynamics.CRM.UpsertMultiple`,
  );
  const targets = JSON.parse(multiples[0].body).Targets;
  assert.equal(targets.length, 10);
  assert.equal(targets[0]["@odata.type"], `Microsoft.Dynamics.CRM.${FAKE_APP.entityName}`);
  assert.equal(
    targets[0]["@odata.id"],
    `${FAKE_APP.entitySet}(${FAKE_APP.alternateKey}='${idOf(1)}')`,
  );
  assert.equal(fake.maxInFlight, 2);
  assert.equal(fake.rows.size, 45);
});

Deno.test("DataverseCertificationPortal resends a refused batch one record at a time to find the bad one, and keeps the batch form", async () => {
  const { fake, portal } = setup({ batchSize: 5, concurrency: 1 });
  fake.alwaysFail.set(idOf(3), { status: 400, errorCode: "0x80040203" });

  const result = await portal.push(records(10), signals());

  assert.equal(result.accepted.size, 9);
  assert.deepEqual(result.rejected.map((r) => [r.certificationId, r.status, r.retryable]), [
    [idOf(3), 400, false],
  ]);
  assert.equal(fake.multiples().length, 2, "the second batch still goes as one request");
  assert.equal(fake.upserts().length, 5);
  assert.equal(portal.batchForm, true);
});

Deno.test("DataverseCertificationPortal falls back to single PATCHes for good when the portal has no UpsertMultiple", async () => {
  const { fake, portal } = setup({ batchSize: 5, concurrency: 1 });
  fake.batchForm = false;

  const result = await portal.push(records(12), signals());

  assert.equal(result.accepted.size, 12);
  assert.equal(fake.multiples().length, 1, "asked once, then never again");
  assert.equal(fake.upserts().length, 12);
  assert.equal(portal.batchForm, false);
});

Deno.test("DataverseCertificationPortal treats 429 as pacing: throttled sends do not use up attempts", async () => {
  const { fake, portal, sleeper } = setup({ concurrency: 1 }, undefined, { maxAttempts: 2 });
  for (let i = 0; i < 5; i++) {
    fake.upsertScript.push({ status: 429, headers: { "retry-after": "1" } });
  }

  const result = await portal.push(records(1), signals());

  assert.equal(result.accepted.size, 1);
  assert.deepEqual(sleeper.pauses, [1_000, 1_000, 1_000, 1_000, 1_000]);
});

Deno.test("DataverseCertificationPortal gives up on a record throttled past maxThrottledSends", async () => {
  const { fake, portal } = setup({ concurrency: 1 }, undefined, { maxThrottledSends: 3 });
  for (let i = 0; i < 10; i++) {
    fake.upsertScript.push({ status: 429, headers: { "retry-after": "1" } });
  }

  const result = await portal.push(records(2), signals());

  assert.deepEqual(result.rejected.map((r) => [r.status, r.retryable]), [[429, true]]);
  assert.match(result.rejected[0].reason, /still throttled after 3 waits/);
  assert.equal(fake.upserts().length, 4);
});

Deno.test("DataverseCertificationPortal stays under the service protection request limit by waiting when told", async () => {
  const { fake, portal, sleeper } = setup({ batchSize: 10, concurrency: 4 });
  fake.limits = { requests: 3, executionMs: 60_000, concurrent: 52, windowMs: 5_000 };

  const result = await portal.push(records(100), signals());

  assert.equal(result.accepted.size, 100);
  assert.equal(fake.rows.size, 100);
  assert.ok(fake.throttled > 0, "the limit was reached");
  assert.ok(sleeper.pauses.every((ms) => ms >= 1_000 && ms <= 5_000), String(sleeper.pauses));
});

Deno.test("DataverseCertificationPortal throws when no token can be had, naming neither client id nor secret", async () => {
  const { fake, portal } = setup();
  fake.tokenScript.push({ status: 401, errorCode: "invalid_client" });

  await assert.rejects(portal.push(records(3), signals()), (error: Error) => {
    assert.equal(
      error.message,
      "Cannot get a Dynamics access token: the token endpoint answered 401 ('invalid_client')",
    );
    assert.doesNotMatch(JSON.stringify(error) + String(error.cause), new RegExp(FAKE_APP.clientId));
    return true;
  });
  assert.equal(fake.upserts().length, 0);
});

Deno.test("DataverseCertificationPortal retries a token endpoint 503 before giving up", async () => {
  const { fake, portal, sleeper } = setup();
  fake.tokenScript.push({ status: 503 });
  const result = await portal.push(records(1), signals());
  assert.equal(result.accepted.size, 1);
  assert.deepEqual(sleeper.pauses, [100]);
});

Deno.test("DataverseCertificationPortal stops with the abort reason when the signal aborts", async () => {
  const { portal } = setup();
  const controller = new AbortController();
  controller.abort(new Error("budget spent"));
  await assert.rejects(
    portal.push(records(2), { signal: controller.signal, waitSignal: controller.signal }),
    /budget spent/,
  );
});

Deno.test("DataverseCertificationPortal doubles single quotes in the alternate key and encodes the value", async () => {
  const { fake, portal } = setup();
  const odd = aCertificationStatus(1, { certificationId: "o'brien/1" });
  const result = await portal.push([odd], signals());
  assert.equal(result.accepted.size, 1);
  assert.equal(
    fake.upserts()[0].path,
    `/api/data/v9.2/${FAKE_APP.entitySet}(${FAKE_APP.alternateKey}='o''brien/1')`,
  );
  assert.ok(fake.rows.has("o'brien/1"));
});
