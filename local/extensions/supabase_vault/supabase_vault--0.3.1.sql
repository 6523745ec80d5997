-- LOCAL STAND-IN for supabase_vault 0.3.1 (supabase/vault). NEVER reaches production.
-- Written for this project from Vault 0.3.1's documented API: the same table,
-- view, function names, arguments and defaults, SECURITY DEFINER
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
create function vault._crypto_aead_det_encrypt(
  message bytea, additional bytea, key_id bigint, context bytea = 'pgsodium', nonce bytea = null
) returns bytea
language plpgsql immutable security definer
as $$
declare
  k bytea := supabase_vault_local.derived_key(key_id, context);
  iv bytea := coalesce(nonce, substring(hmac(message, k, 'sha256') for 16));
  body bytea := iv || encrypt_iv(message, k, iv, 'aes-cbc/pad:pkcs');
begin
  return hmac(coalesce(additional, ''::bytea) || body, k, 'sha256') || body;
end
$$;

create function vault._crypto_aead_det_decrypt(
  message bytea, additional bytea, key_id bigint, context bytea = 'pgsodium', nonce bytea = null
) returns bytea
language plpgsql immutable security definer
as $$
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

-- A fresh random nonce per secret (the real one is libsodium's).
create function vault._crypto_aead_det_noncegen() returns bytea
language sql immutable
as $$ select gen_random_bytes(16) $$;

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

create table vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea default vault._crypto_aead_det_noncegen(),
  created_at timestamptz not null default current_timestamp,
  updated_at timestamptz not null default current_timestamp
);

comment on table vault.secrets is
  'Secrets, stored encrypted (base64 ciphertext bound to the row id); read them through vault.decrypted_secrets.';

create unique index on vault.secrets using btree (name) where name is not null;

-- The stored ciphertext, decrypted. convert_from(..., 'utf8'::name) gives
-- decrypted_secret the collation "C", which is how the real view presents it.
create view vault.decrypted_secrets as
select
  s.id,
  s.name,
  s.description,
  s.secret,
  convert_from(
    vault._crypto_aead_det_decrypt(
      message := decode(s.secret, 'base64'),
      additional := convert_to(s.id::text, 'utf8'),
      key_id := 0,
      context := 'pgsodium'::bytea,
      nonce := s.nonce
    ),
    'utf8'::name
  ) as decrypted_secret,
  s.key_id,
  s.nonce,
  s.created_at,
  s.updated_at
from vault.secrets s;

-- Stores a secret and returns its id. The row is written first, so its id (the
-- ciphertext's additional data) exists; then the plaintext is replaced by the
-- ciphertext in the same transaction. new_key_id is accepted and ignored.
create function vault.create_secret(
  new_secret text,
  new_name text = null,
  new_description text = '',
  new_key_id uuid = null
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  created vault.secrets;
begin
  insert into vault.secrets (secret, name, description)
  values (new_secret, new_name, new_description)
  returning * into created;
  update vault.secrets
  set secret = encode(
    vault._crypto_aead_det_encrypt(
      message := convert_to(new_secret, 'utf8'),
      additional := convert_to(created.id::text, 'utf8'),
      key_id := 0,
      context := 'pgsodium'::bytea,
      nonce := created.nonce
    ),
    'base64'
  )
  where id = created.id;
  return created.id;
end
$$;

-- Changes what is given; a null argument keeps the current value. new_key_id is
-- accepted and ignored.
create function vault.update_secret(
  secret_id uuid,
  new_secret text = null,
  new_name text = null,
  new_description text = null,
  new_key_id uuid = null
) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update vault.secrets s
  set secret = case
        when new_secret is null then s.secret
        else encode(
          vault._crypto_aead_det_encrypt(
            message := convert_to(new_secret, 'utf8'),
            additional := convert_to(s.id::text, 'utf8'),
            key_id := 0,
            context := 'pgsodium'::bytea,
            nonce := s.nonce
          ),
          'base64'
        )
      end,
      name = coalesce(new_name, s.name),
      description = coalesce(new_description, s.description),
      updated_at = now()
  where s.id = secret_id;
end
$$;

-- pg_dump keeps the rows of this extension table.
select pg_catalog.pg_extension_config_dump('vault.secrets', '');

-- No role may call the functions until granted (hosted Supabase grants
-- service_role and postgres afterwards; local/bootstrap.sql does the same).
revoke all on function
  vault._crypto_aead_det_encrypt,
  vault._crypto_aead_det_decrypt,
  vault._crypto_aead_det_noncegen,
  vault.create_secret,
  vault.update_secret
from public;
