import assert from "node:assert/strict";
import { AuthorizeCaller } from "../../src/application/authorize_caller.ts";
import { FakeSecretStore } from "../support/fakes.ts";

Deno.test("AuthorizeCaller.execute() accepts the current secret from the cache", async () => {
  const secrets = new FakeSecretStore("abc");
  const outcome = await new AuthorizeCaller(secrets).execute("Bearer abc");
  assert.deepEqual(outcome, { authorized: true });
  assert.equal(secrets.freshReads, 0);
});

Deno.test("AuthorizeCaller.execute() re-reads the secret once on a mismatch, so a rotation takes effect at once", async () => {
  const secrets = new FakeSecretStore("old");
  const authorize = new AuthorizeCaller(secrets);
  secrets.rotate("new");

  assert.deepEqual(await authorize.execute("Bearer new"), { authorized: true });
  assert.equal(secrets.freshReads, 1);
  assert.deepEqual(await authorize.execute("Bearer old"), {
    authorized: false,
    reason: "mismatch",
  });
});

Deno.test("AuthorizeCaller.execute() names why a header is refused without reading the secret", async () => {
  const secrets = new FakeSecretStore("abc");
  const authorize = new AuthorizeCaller(secrets);
  assert.deepEqual(await authorize.execute(null), { authorized: false, reason: "missing" });
  assert.deepEqual(await authorize.execute("  "), { authorized: false, reason: "missing" });
  assert.deepEqual(await authorize.execute("Token abc"), {
    authorized: false,
    reason: "malformed",
  });
  assert.deepEqual(await authorize.execute("Bearer a b"), {
    authorized: false,
    reason: "malformed",
  });
  assert.equal(secrets.reads, 0);
});

Deno.test("AuthorizeCaller.execute() refuses a prefix or an extension of the secret", async () => {
  const authorize = new AuthorizeCaller(new FakeSecretStore("abcdef"));
  assert.equal((await authorize.execute("Bearer abc")).authorized, false);
  assert.equal((await authorize.execute("Bearer abcdefg")).authorized, false);
  assert.equal((await authorize.execute("bearer abcdef")).authorized, false);
});
