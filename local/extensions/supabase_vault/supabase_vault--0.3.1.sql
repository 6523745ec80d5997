-- LOCAL STAND-IN for supabase_vault 0.3.1 (supabase/vault). NEVER reaches production.
-- The same objects as the real 0.3.1 (its 0.3.0 script; 0.3.1 changes no SQL):
-- table, view, function names, arguments, defaults and bodies, SECURITY DEFINER
-- on create_secret and update_secret, EXECUTE revoked from PUBLIC on all five
-- functions, and no grants (hosted Supabase adds its grants afterwards:
-- local/bootstrap.sql does the same).
-- What differs, because the real crypto is libsodium in C:
--   vault._crypto_aead_det_encrypt / _decrypt are SQL over pgcrypto: AES-256-CBC
--   with the nonce as IV, plus an HMAC-SHA256 tag over (additional, ciphertext),
--   so a ciphertext moved to another row (another id) fails to decrypt, as an
--   AEAD does. Their key is derived from the file $PGDATA/supabase_vault_local.key
--   (written once per data directory, mode 0600), which only a superuser can
--   read: so these two are SECURITY DEFINER here (owned by the superuser that
--   installs the extension); the real ones are not, and read their key from the
--   server's memory. Who may call them is decided by EXECUTE grants either way.
-- The stand-in's own helper lives in schema supabase_vault_local.

\echo Use "CREATE EXTENSION supabase_vault" to load this file. \quit

create schema supabase_vault_local;
revoke all on schema supabase_vault_local from public;

-- The key for (key_id, context); superuser-only, like pgsodium's root key.
create function supabase_vault_local.derived_key(key_id bigint, context bytea) returns bytea
language sql volatile as $$
  select sha256(convert_to(pg_read_file('supabase_vault_local.key'), 'utf8')
    || convert_to(key_id::text, 'utf8') || coalesce(context, ''::bytea))
$$;
revoke all on function supabase_vault_local.derived_key(bigint, bytea) from public;

-- Output: tag (32 bytes) || iv (16) || AES-CBC body. A null nonce derives the IV
-- from the message (deterministic, like the real det mode).
CREATE OR REPLACE FUNCTION vault._crypto_aead_det_encrypt(message bytea, additional bytea, key_id bigint, context bytea = 'pgsodium', nonce bytea = NULL)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER
AS $$
declare
  k bytea := supabase_vault_local.derived_key(key_id, context);
  iv bytea := coalesce(nonce, substring(hmac(message, k, 'sha256') for 16));
  body bytea := iv || encrypt_iv(message, k, iv, 'aes-cbc/pad:pkcs');
begin
  return hmac(coalesce(additional, ''::bytea) || body, k, 'sha256') || body;
end
$$;

CREATE OR REPLACE FUNCTION vault._crypto_aead_det_decrypt(message bytea, additional bytea, key_id bigint, context bytea = 'pgsodium', nonce bytea = NULL)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER
AS $$
declare
  k bytea := supabase_vault_local.derived_key(key_id, context);
  body bytea := substring(message from 33);
begin
  if octet_length(message) < 49
     or substring(message for 32) <> hmac(coalesce(additional, ''::bytea) || body, k, 'sha256')
     or (nonce is not null and substring(body for 16) <> nonce) then
    raise exception 'pgsodium_crypto_aead_det_decrypt_by_id: invalid ciphertext';
  end if;
  return decrypt_iv(substring(body from 17), k, substring(body for 16), 'aes-cbc/pad:pkcs');
end
$$;

CREATE OR REPLACE FUNCTION vault._crypto_aead_det_noncegen()
RETURNS bytea
LANGUAGE sql IMMUTABLE
AS $$ select gen_random_bytes(16) $$;

-- pgcrypto lives in whatever schema the project put it in (extensions on Supabase).
do $$
declare s text := (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace
                   where e.extname = 'pgcrypto');
begin
  execute format('alter function supabase_vault_local.derived_key(bigint, bytea) set search_path = pg_catalog, %I', s);
  execute format('alter function vault._crypto_aead_det_encrypt(bytea, bytea, bigint, bytea, bytea) set search_path = pg_catalog, %I', s);
  execute format('alter function vault._crypto_aead_det_decrypt(bytea, bytea, bigint, bytea, bytea) set search_path = pg_catalog, %I', s);
  execute format('alter function vault._crypto_aead_det_noncegen() set search_path = pg_catalog, %I', s);
end
$$;

CREATE TABLE vault.secrets (
  id uuid     PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text,
  description text NOT NULL default '',
  secret      text NOT NULL,
  key_id      uuid,
  nonce       bytea DEFAULT vault._crypto_aead_det_noncegen(),
  created_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);

COMMENT ON TABLE vault.secrets IS 'Table with encrypted `secret` column for storing sensitive information on disk.';

CREATE UNIQUE INDEX ON vault.secrets USING btree (name) WHERE name IS NOT NULL;

-- convert_from(..., 'utf8'::name) gives decrypted_secret the collation "C", as in the real view.
CREATE VIEW vault.decrypted_secrets AS
SELECT s.id,
  s.name,
  s.description,
  s.secret,
  convert_from(
    vault._crypto_aead_det_decrypt(
      message := decode(s.secret, 'base64'::text),
      additional := convert_to(s.id::text, 'utf8'),
      key_id := 0,
      context := 'pgsodium'::bytea,
      nonce := s.nonce
    ),
    'utf8'::name
  ) AS decrypted_secret,
  s.key_id,
  s.nonce,
  s.created_at,
  s.updated_at
FROM vault.secrets s;

CREATE OR REPLACE FUNCTION vault.create_secret(
  new_secret text,
  new_name text = NULL,
  new_description text = '',
  -- unused
  new_key_id uuid = NULL
)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
  rec record;
BEGIN
  INSERT INTO vault.secrets (secret, name, description)
  VALUES (
    new_secret,
    new_name,
    new_description
  )
  RETURNING * INTO rec;
  UPDATE vault.secrets s
  SET secret = encode(vault._crypto_aead_det_encrypt(
    message := convert_to(rec.secret, 'utf8'),
    additional := convert_to(s.id::text, 'utf8'),
    key_id := 0,
    context := 'pgsodium'::bytea,
    nonce := rec.nonce
  ), 'base64')
  WHERE id = rec.id;
  RETURN rec.id;
END
$$;

CREATE OR REPLACE FUNCTION vault.update_secret(
  secret_id uuid,
  new_secret text = NULL,
  new_name text = NULL,
  new_description text = NULL,
  -- unused
  new_key_id uuid = NULL
)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
  decrypted_secret text := (SELECT decrypted_secret FROM vault.decrypted_secrets WHERE id = secret_id);
BEGIN
  UPDATE vault.secrets s
  SET
    secret = CASE WHEN new_secret IS NULL THEN s.secret
                  ELSE encode(vault._crypto_aead_det_encrypt(
                    message := convert_to(new_secret, 'utf8'),
                    additional := convert_to(s.id::text, 'utf8'),
                    key_id := 0,
                    context := 'pgsodium'::bytea,
                    nonce := s.nonce
                  ), 'base64') END,
    name = coalesce(new_name, s.name),
    description = coalesce(new_description, s.description),
    updated_at = now()
  WHERE s.id = secret_id;
END
$$;

SELECT pg_catalog.pg_extension_config_dump('vault.secrets', '');

-- As the real 0.3 ends: no role may call the functions until granted.
REVOKE ALL ON FUNCTION
  vault._crypto_aead_det_encrypt,
  vault._crypto_aead_det_decrypt,
  vault._crypto_aead_det_noncegen,
  vault.create_secret,
  vault.update_secret
FROM PUBLIC;
