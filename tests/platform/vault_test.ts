// Platform contract: the Vault stand-in has supabase_vault 0.3.1's API and
// privilege model, with the grants hosted Supabase adds (PLATFORM.md "Vault").
import assert from "node:assert/strict";
import { connect, connectAdmin } from "../../local/stack.ts";
import { functionSignatures, rolledBack } from "./catalog.ts";

Deno.test("Vault API: 0.3.1's functions, arguments and defaults; create/update are security definer", async () => {
  const sql = connect();
  try {
    const functions = await functionSignatures(sql, "vault");
    assert.deepEqual(functions.map((f) => f.signature), [
      "_crypto_aead_det_decrypt(message bytea, additional bytea, key_id bigint, " +
      "context bytea DEFAULT '\\x7067736f6469756d'::bytea, nonce bytea DEFAULT NULL::bytea) -> bytea",
      "_crypto_aead_det_encrypt(message bytea, additional bytea, key_id bigint, " +
      "context bytea DEFAULT '\\x7067736f6469756d'::bytea, nonce bytea DEFAULT NULL::bytea) -> bytea",
      "_crypto_aead_det_noncegen() -> bytea",
      "create_secret(new_secret text, new_name text DEFAULT NULL::text, " +
      "new_description text DEFAULT ''::text, new_key_id uuid DEFAULT NULL::uuid) -> uuid",
      "update_secret(secret_id uuid, new_secret text DEFAULT NULL::text, " +
      "new_name text DEFAULT NULL::text, new_description text DEFAULT NULL::text, " +
      "new_key_id uuid DEFAULT NULL::uuid) -> void",
    ]);
    const definer = Object.fromEntries(
      functions.map((f) => [f.signature.split("(")[0], f.securityDefiner]),
    );
    assert.equal(definer.create_secret, true);
    assert.equal(definer.update_secret, true);
    const [column] = await sql`select collation_name from information_schema.columns
      where table_schema = 'vault' and table_name = 'decrypted_secrets'
        and column_name = 'decrypted_secret'`;
    assert.equal(column.collation_name, "C");
  } finally {
    await sql.end();
  }
});

Deno.test("Vault grants: service_role and postgres get what hosted grants them; anon and authenticated nothing", async () => {
  const sql = connect();
  try {
    await rolledBack(sql, async (tx) => {
      await tx`set local role service_role`;
      const [{ id }] = await tx`select vault.create_secret('s1', ${"vt_" + crypto.randomUUID()},
        'd') as id`;
      await tx`select vault.update_secret(${id}, 's2')`;
      const [row] = await tx`select decrypted_secret, description from vault.decrypted_secrets
        where id = ${id}`;
      assert.deepEqual({ ...row }, { decrypted_secret: "s2", description: "d" });
      // Revoked from PUBLIC and not granted on hosted: the definer functions encrypt for it.
      await assert.rejects(
        tx`select vault._crypto_aead_det_encrypt('x', 'y', 0)`,
        /permission denied/,
      );
    });
    const [grants] = await sql`select
      has_function_privilege('postgres', 'vault.create_secret(text, text, text, uuid)',
        'execute with grant option') as postgres_creates,
      has_table_privilege('postgres', 'vault.decrypted_secrets', 'select with grant option')
        as postgres_reads,
      has_schema_privilege('anon', 'vault', 'usage') as anon_usage,
      has_schema_privilege('authenticated', 'vault', 'usage') as authenticated_usage,
      has_table_privilege('service_role', 'vault.secrets', 'insert') as service_inserts_raw,
      has_function_privilege('public', 'vault.create_secret(text, text, text, uuid)', 'execute')
        as public_creates`;
    assert.deepEqual({ ...grants }, {
      postgres_creates: true,
      postgres_reads: true,
      anon_usage: false,
      authenticated_usage: false,
      service_inserts_raw: false,
      public_creates: false,
    });
    for (const role of ["anon", "authenticated"]) {
      await rolledBack(sql, async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        await assert.rejects(tx`select vault.create_secret('x')`, /permission denied/);
      });
    }
  } finally {
    await sql.end();
  }
});

Deno.test("Vault storage: ciphertext at rest, bound to its row, update_secret's nulls keep values", async () => {
  // As the superuser: only it may rewrite vault.secrets to tamper with a row.
  const sql = connectAdmin();
  try {
    await rolledBack(sql, async (tx) => {
      const name = `vt_${crypto.randomUUID()}`;
      const [{ id }] = await tx`select vault.create_secret('plain-value', ${name}, 'about') as id`;
      const [stored] = await tx`select secret from vault.secrets where id = ${id}`;
      assert.ok(!stored.secret.includes("plain-value"));
      assert.notEqual(stored.secret, "plain-value");
      await tx`select vault.update_secret(${id})`;
      const [kept] =
        await tx`select name, description, decrypted_secret from vault.decrypted_secrets
        where id = ${id}`;
      assert.deepEqual({ ...kept }, {
        name,
        description: "about",
        decrypted_secret: "plain-value",
      });
      // The row id is the AEAD's additional data: a ciphertext copied to another row fails.
      const [{ other }] = await tx`select vault.create_secret('other') as other`;
      await tx`update vault.secrets set secret = ${stored.secret},
        nonce = (select nonce from vault.secrets where id = ${id}) where id = ${other}`;
      await assert.rejects(
        tx`select decrypted_secret from vault.decrypted_secrets where id = ${other}`,
        /invalid ciphertext/,
      );
    });
  } finally {
    await sql.end();
  }
});
