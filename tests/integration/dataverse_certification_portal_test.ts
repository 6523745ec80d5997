// The Dataverse portal adapter over real HTTP against a fake Dataverse on 127.0.0.1
// (random port, started and stopped by each test). Sleeps and the clock are
// injected, so retries cost no wall time.
import assert from "node:assert/strict";
import { timerSleep } from "../../src/domain/batch_pacer.ts";
import { FAKE_APP, FakeDataverse } from "../../local/fake_dataverse.ts";
import { aCertificationStatus, aDataversePortal } from "../support/dynamics_fakes.ts";

/** Signals that never abort: neither the run nor its waits are cut short. */
const signals = () => ({
  signal: new AbortController().signal,
  waitSignal: new AbortController().signal,
});

async function withFake(
  test: (fake: FakeDataverse, portal: ReturnType<typeof aDataversePortal>) => Promise<void>,
  settings = {},
) {
  const fake = new FakeDataverse();
  const baseUrl = fake.serve();
  try {
    await test(
      fake,
      aDataversePortal({ baseUrl, fetch, settings: { concurrency: 1, ...settings } }),
    );
  } finally {
    await fake.close();
  }
}

Deno.test("Dataverse portal posts client credentials for a token and upserts by alternate key with PATCH", async () => {
  await withFake(async (fake, { portal }) => {
    const record = aCertificationStatus(1, {
      state: "expired",
      expiredAt: new Date("2026-11-27T02:00:00.000Z"),
    });

    const result = await portal.push([record], signals());

    assert.deepEqual([...result.accepted], [record.certificationId]);
    const [token, upsert] = fake.requests;
    assert.equal(token.method, "POST");
    assert.equal(token.path, `/${FAKE_APP.tenantId}/oauth2/v2.0/token`);
    assert.equal(token.headers.get("content-type"), "application/x-www-form-urlencoded");
    assert.deepEqual(Object.fromEntries(new URLSearchParams(token.body)), {
      grant_type: "client_credentials",
      client_id: FAKE_APP.clientId,
      client_secret: FAKE_APP.clientSecret,
      scope: FAKE_APP.scope,
    });
    assert.equal(upsert.method, "PATCH");
    assert.equal(
      upsert.path,
      `/api/data/v9.2/${FAKE_APP.entitySet}(${FAKE_APP.alternateKey}='${record.certificationId}')`,
    );
    assert.equal(upsert.headers.get("authorization"), "Bearer token-1");
    assert.equal(upsert.headers.get("odata-version"), "4.0");
    assert.equal(upsert.headers.get("odata-maxversion"), "4.0");
    assert.equal(upsert.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(upsert.headers.get("if-match"), null, "no If-Match: an upsert may create");
    assert.equal(
      upsert.headers.get("if-none-match"),
      null,
      "no If-None-Match: an upsert may update",
    );
    assert.deepEqual(JSON.parse(upsert.body), {
      hlf_peermentorid: record.peerMentorId,
      hlf_certificationtype: "peer_mentor_basic",
      hlf_status: "expired",
      hlf_issuedon: "2025-01-01T00:00:00.000Z",
      hlf_expireson: "2027-01-01T00:00:00.000Z",
      hlf_expiredon: "2026-11-27T02:00:00.000Z",
    });
    assert.equal(fake.rows.get(record.certificationId)?.hlf_status, "expired");
  });
});

Deno.test("Dataverse portal reuses its token until near expiry, then gets a new one", async () => {
  await withFake(async (fake, { portal, clock }) => {
    fake.tokenLifetimeS = 600; // margin min(60 s, 300 s) = 60 s
    await portal.push([aCertificationStatus(1)], signals());
    clock.advance(500_000);
    await portal.push([aCertificationStatus(2)], signals());
    assert.equal(fake.tokensIssued, 1);
    clock.advance(40_000);
    await portal.push([aCertificationStatus(3)], signals());
    assert.equal(fake.tokensIssued, 2);
    assert.deepEqual(fake.upserts().map((r) => r.headers.get("authorization")), [
      "Bearer token-1",
      "Bearer token-1",
      "Bearer token-2",
    ]);
  });
});

Deno.test("Dataverse portal honours Retry-After on 429 and then delivers", async () => {
  await withFake(async (fake, { portal, sleeper }) => {
    fake.upsertScript.push({
      status: 429,
      headers: { "retry-after": "3" },
      errorCode: "0x80072321",
    });
    const result = await portal.push([aCertificationStatus(1)], signals());
    assert.equal(result.accepted.size, 1);
    assert.deepEqual(sleeper.pauses, [3_000]);
    assert.equal(fake.upserts().length, 2);
  });
});

Deno.test("Dataverse portal retries 5xx with backoff and then delivers", async () => {
  await withFake(async (fake, { portal, sleeper }) => {
    fake.upsertScript.push({ status: 503 }, { status: 500 });
    const result = await portal.push([aCertificationStatus(1)], signals());
    assert.equal(result.accepted.size, 1);
    assert.deepEqual(sleeper.pauses, [100, 200]);
  });
});

Deno.test("Dataverse portal refreshes the token once after a 401 and resends", async () => {
  await withFake(async (fake, { portal }) => {
    await portal.push([aCertificationStatus(1)], signals());
    fake.expireTokens();
    const result = await portal.push([aCertificationStatus(2)], signals());
    assert.equal(result.accepted.size, 1);
    assert.equal(fake.tokensIssued, 2);
    assert.deepEqual(fake.upserts().map((r) => r.headers.get("authorization")), [
      "Bearer token-1",
      "Bearer token-1",
      "Bearer token-2",
    ]);
  });
});

Deno.test("Dataverse portal refuses a bad record for good without retrying, goes on, and keeps secrets and values out of it", async () => {
  await withFake(async (fake, { portal, sleeper }) => {
    const bad = aCertificationStatus(2);
    fake.alwaysFail.set(bad.certificationId, { status: 400, errorCode: "0x80040203" });
    const result = await portal.push(
      [aCertificationStatus(1), bad, aCertificationStatus(3)],
      signals(),
    );
    assert.deepEqual(
      [...result.accepted],
      [aCertificationStatus(1).certificationId, aCertificationStatus(3).certificationId],
    );
    assert.deepEqual(result.rejected, [{
      certificationId: bad.certificationId,
      status: 400,
      reason: "HTTP 400 ('0x80040203')",
      detail: "Scripted failure for row [email]",
      retryable: false,
    }]);
    assert.deepEqual(sleeper.pauses, []);
    assert.equal(fake.upserts().length, 3, "a refused record does not stop the others");
    assert.doesNotMatch(JSON.stringify(result.rejected), /secret|x@y/);
  });
});

Deno.test("Dataverse portal sends UpsertMultiple batches over HTTP and paces itself by the portal's 429s", async () => {
  const fake = new FakeDataverse();
  const baseUrl = fake.serve();
  try {
    // A 1 s window of 4 requests: 60 records in batches of 5 need 12 requests, so 3 windows.
    fake.limits = { requests: 4, executionMs: 60_000, concurrent: 52, windowMs: 1_000 };
    const { portal } = aDataversePortal({
      baseUrl,
      fetch,
      settings: { batchSize: 5, concurrency: 4 },
      sleep: timerSleep,
    });
    const records = Array.from({ length: 60 }, (_, i) => aCertificationStatus(i + 1));

    const result = await portal.push(records, signals());

    assert.equal(result.accepted.size, 60);
    assert.equal(fake.rows.size, 60);
    assert.equal(fake.multiples().length - fake.throttled, 12, "every batch delivered once");
    assert.ok(fake.throttled > 0, "the limit was reached and answered with 429");
  } finally {
    await fake.close();
  }
});
