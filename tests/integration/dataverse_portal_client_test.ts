// The Dataverse client over real HTTP against a fake Dataverse on 127.0.0.1
// (random port, started and stopped by each test). Sleeps and the clock are
// injected, so retries cost no wall time.
import assert from "node:assert/strict";
import { FAKE_APP, FakeDataverse } from "../../local/fake_dataverse.ts";
import { aCertificationStatus, aDataverseClient } from "../support/dynamics_fakes.ts";

const signal = () => new AbortController().signal;

async function withFake(
  test: (fake: FakeDataverse, client: ReturnType<typeof aDataverseClient>) => Promise<void>,
  settings = {},
) {
  const fake = new FakeDataverse();
  const baseUrl = fake.serve();
  try {
    await test(
      fake,
      aDataverseClient({ baseUrl, fetch, settings: { concurrency: 1, ...settings } }),
    );
  } finally {
    await fake.close();
  }
}

Deno.test("Dataverse client posts client credentials for a token and upserts by alternate key with PATCH", async () => {
  await withFake(async (fake, { client }) => {
    const record = aCertificationStatus(1, {
      state: "expired",
      expiredAt: new Date("2026-11-27T02:00:00.000Z"),
    });

    const result = await client.upsertStatuses([record], signal());

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

Deno.test("Dataverse client reuses its token until near expiry, then gets a new one", async () => {
  await withFake(async (fake, { client, clock }) => {
    fake.tokenLifetimeS = 600; // margin min(60 s, 300 s) = 60 s
    await client.upsertStatuses([aCertificationStatus(1)], signal());
    clock.advance(500_000);
    await client.upsertStatuses([aCertificationStatus(2)], signal());
    assert.equal(fake.tokensIssued, 1);
    clock.advance(40_000);
    await client.upsertStatuses([aCertificationStatus(3)], signal());
    assert.equal(fake.tokensIssued, 2);
    assert.deepEqual(fake.upserts().map((r) => r.headers.get("authorization")), [
      "Bearer token-1",
      "Bearer token-1",
      "Bearer token-2",
    ]);
  });
});

Deno.test("Dataverse client honours Retry-After on 429 and then delivers", async () => {
  await withFake(async (fake, { client, sleeper }) => {
    fake.upsertScript.push({
      status: 429,
      headers: { "retry-after": "3" },
      errorCode: "0x80072321",
    });
    const result = await client.upsertStatuses([aCertificationStatus(1)], signal());
    assert.equal(result.accepted.size, 1);
    assert.deepEqual(sleeper.pauses, [3_000]);
    assert.equal(fake.upserts().length, 2);
  });
});

Deno.test("Dataverse client retries 5xx with backoff and then delivers", async () => {
  await withFake(async (fake, { client, sleeper }) => {
    fake.upsertScript.push({ status: 503 }, { status: 500 });
    const result = await client.upsertStatuses([aCertificationStatus(1)], signal());
    assert.equal(result.accepted.size, 1);
    assert.deepEqual(sleeper.pauses, [100, 200]);
  });
});

Deno.test("Dataverse client refreshes the token once after a 401 and resends", async () => {
  await withFake(async (fake, { client }) => {
    await client.upsertStatuses([aCertificationStatus(1)], signal());
    fake.expireTokens();
    const result = await client.upsertStatuses([aCertificationStatus(2)], signal());
    assert.equal(result.accepted.size, 1);
    assert.equal(fake.tokensIssued, 2);
    assert.deepEqual(fake.upserts().map((r) => r.headers.get("authorization")), [
      "Bearer token-1",
      "Bearer token-1",
      "Bearer token-2",
    ]);
  });
});

Deno.test("Dataverse client reports a permanent failure without retrying and keeps secrets out of it", async () => {
  await withFake(async (fake, { client, sleeper }) => {
    const bad = aCertificationStatus(2);
    fake.alwaysFail.set(bad.certificationId, { status: 400, errorCode: "0x80040203" });
    const result = await client.upsertStatuses(
      [aCertificationStatus(1), bad, aCertificationStatus(3)],
      signal(),
    );
    assert.deepEqual([...result.accepted], [aCertificationStatus(1).certificationId]);
    assert.deepEqual(result.rejected, [{
      certificationId: bad.certificationId,
      reason: "HTTP 400 ('0x80040203')",
      retryable: false,
    }]);
    assert.deepEqual(sleeper.pauses, []);
    assert.equal(fake.upserts().length, 2, "the record after the failure is not started");
    assert.doesNotMatch(JSON.stringify(result.rejected), /secret|Scripted failure|x@y/);
  });
});
