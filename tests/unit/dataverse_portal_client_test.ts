// The Dataverse client's token cache and retry rules, over an in-process fake
// (injected fetch, clock and sleep): no sockets, no timers.
import assert from "node:assert/strict";
import { FAKE_APP, FakeDataverse } from "../../local/fake_dataverse.ts";
import { aCertificationStatus, aDataverseClient } from "../support/dynamics_fakes.ts";

const BASE = "http://dataverse.test";
const records = (count: number) =>
  Array.from({ length: count }, (_, i) => aCertificationStatus(i + 1));
const idOf = (n: number) => aCertificationStatus(n).certificationId;
const signal = () => new AbortController().signal;

function setup(settings = {}, tokenLifetimeMarginMs?: number) {
  const fake = new FakeDataverse();
  return {
    fake,
    ...aDataverseClient({ baseUrl: BASE, fetch: fake.fetch, settings, tokenLifetimeMarginMs }),
  };
}

Deno.test("DataversePortalClient fetches one token for a batch and caches it until shortly before expiry", async () => {
  const { fake, client, clock } = setup({}, 60_000);
  fake.tokenLifetimeS = 3600;

  const first = await client.upsertStatuses(records(5), signal());
  assert.equal(first.accepted.size, 5);
  assert.equal(fake.tokensIssued, 1, "concurrent workers share one token request");

  clock.advance(3600_000 - 60_000 - 1);
  await client.upsertStatuses(records(1), signal());
  assert.equal(fake.tokensIssued, 1, "still cached inside the margin");

  clock.advance(1);
  await client.upsertStatuses(records(1), signal());
  assert.equal(fake.tokensIssued, 2, "refreshed once the margin is reached");
});

Deno.test("DataversePortalClient keeps at most `concurrency` upserts in flight", async () => {
  const { fake, client } = setup({ concurrency: 3 });
  const result = await client.upsertStatuses(records(12), signal());
  assert.equal(result.accepted.size, 12);
  assert.equal(fake.maxInFlight, 3);
});

Deno.test("DataversePortalClient waits out Retry-After on 429 and then succeeds", async () => {
  const { fake, client, sleeper } = setup({ concurrency: 1 });
  fake.upsertScript.push({ status: 429, headers: { "retry-after": "7" }, errorCode: "0x80072322" });

  const result = await client.upsertStatuses(records(2), signal());

  assert.deepEqual([...result.accepted], [idOf(1), idOf(2)]);
  assert.deepEqual(sleeper.pauses, [7_000]);
  assert.equal(fake.upserts().length, 3);
});

Deno.test("DataversePortalClient gives up on a record when Retry-After is over the cap, without waiting", async () => {
  const { fake, client, sleeper } = setup({ concurrency: 1, maxRetryAfterMs: 10_000 });
  fake.upsertScript.push({ status: 429, headers: { "retry-after": "300" } });

  const result = await client.upsertStatuses(records(3), signal());

  assert.equal(result.accepted.size, 0);
  assert.equal(result.rejected.length, 1);
  assert.equal(result.rejected[0].retryable, true);
  assert.match(result.rejected[0].reason, /HTTP 429.*asked to wait 300000 ms \(cap 10000 ms\)/);
  assert.deepEqual(sleeper.pauses, []);
  assert.equal(fake.upserts().length, 1, "no new record starts after a rejection");
});

Deno.test("DataversePortalClient retries 5xx with exponential backoff and then succeeds", async () => {
  const { fake, client, sleeper } = setup({ concurrency: 1 });
  fake.upsertScript.push({ status: 503 }, { status: 502 }, { status: 500 });

  const result = await client.upsertStatuses(records(1), signal());

  assert.deepEqual([...result.accepted], [idOf(1)]);
  assert.deepEqual(sleeper.pauses, [100, 200, 400]);
});

Deno.test("DataversePortalClient rejects a record as retryable after maxAttempts server errors", async () => {
  const { fake, client, sleeper } = setup({ concurrency: 1, maxAttempts: 3 });
  fake.alwaysFail.set(idOf(1), { status: 500, errorCode: "0x80040216" });

  const result = await client.upsertStatuses(records(1), signal());

  assert.deepEqual(result.rejected, [{
    certificationId: idOf(1),
    reason: "HTTP 500 ('0x80040216') after 3 attempts",
    retryable: true,
  }]);
  assert.deepEqual(sleeper.pauses, [100, 200], "no pause after the last attempt");
});

Deno.test("DataversePortalClient refreshes the token once on 401 and resends", async () => {
  const { fake, client } = setup({ concurrency: 1 });
  await client.upsertStatuses(records(1), signal());
  fake.expireTokens();

  const result = await client.upsertStatuses(records(2), signal());

  assert.equal(result.accepted.size, 2);
  assert.equal(fake.tokensIssued, 2);
  const auth = fake.upserts().map((r) => r.headers.get("authorization"));
  assert.deepEqual(auth, ["Bearer token-1", "Bearer token-1", "Bearer token-2", "Bearer token-2"]);
});

Deno.test("DataversePortalClient rejects permanently when the portal still answers 401 after a refresh", async () => {
  const { fake, client } = setup({ concurrency: 1 });
  fake.alwaysFail.set(idOf(1), { status: 401, errorCode: "0x80072560" });
  const result = await client.upsertStatuses(records(1), signal());
  assert.deepEqual(result.rejected, [{
    certificationId: idOf(1),
    reason: "HTTP 401 ('0x80072560')",
    retryable: false,
  }]);
  assert.equal(fake.tokensIssued, 2, "one refresh, then it stops");
});

Deno.test("DataversePortalClient rejects a 400 at once and starts no further records", async () => {
  const { fake, client, sleeper } = setup({ concurrency: 1 });
  fake.alwaysFail.set(idOf(2), { status: 400, errorCode: "0x80040203" });

  const result = await client.upsertStatuses(records(5), signal());

  assert.deepEqual([...result.accepted], [idOf(1)]);
  assert.deepEqual(result.rejected.map((r) => [r.certificationId, r.reason, r.retryable]), [
    [idOf(2), "HTTP 400 ('0x80040203')", false],
  ]);
  assert.equal(fake.upserts().length, 2);
  assert.deepEqual(sleeper.pauses, []);
});

Deno.test("DataversePortalClient throws when no token can be had, naming neither client id nor secret", async () => {
  const { fake, client } = setup();
  fake.tokenScript.push({ status: 401, errorCode: "invalid_client" });

  await assert.rejects(client.upsertStatuses(records(3), signal()), (error: Error) => {
    assert.equal(
      error.message,
      "Cannot get a Dynamics access token: the token endpoint answered 401 ('invalid_client')",
    );
    assert.doesNotMatch(JSON.stringify(error) + String(error.cause), new RegExp(FAKE_APP.clientId));
    return true;
  });
  assert.equal(fake.upserts().length, 0);
});

Deno.test("DataversePortalClient retries a token endpoint 503 before giving up", async () => {
  const { fake, client, sleeper } = setup();
  fake.tokenScript.push({ status: 503 });
  const result = await client.upsertStatuses(records(1), signal());
  assert.equal(result.accepted.size, 1);
  assert.deepEqual(sleeper.pauses, [100]);
});

Deno.test("DataversePortalClient stops with the abort reason when the signal aborts", async () => {
  const { client } = setup();
  const controller = new AbortController();
  controller.abort(new Error("budget spent"));
  await assert.rejects(client.upsertStatuses(records(2), controller.signal), /budget spent/);
});

Deno.test("DataversePortalClient doubles single quotes in the alternate key and encodes the value", async () => {
  const { fake, client } = setup();
  const odd = aCertificationStatus(1, { certificationId: "o'brien/1" });
  const result = await client.upsertStatuses([odd], signal());
  assert.equal(result.accepted.size, 1);
  assert.equal(
    fake.upserts()[0].path,
    `/api/data/v9.2/${FAKE_APP.entitySet}(${FAKE_APP.alternateKey}='o''brien/1')`,
  );
  assert.ok(fake.rows.has("o'brien/1"));
});
