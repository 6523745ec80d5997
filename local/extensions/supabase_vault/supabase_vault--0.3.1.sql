-- LOCAL STAND-IN for supabase_vault 0.3 (supabase/vault). NEVER reaches production.
-- Same table, view, functions and grants as the real one. Encryption:
-- AES-256-CBC (pgcrypto encrypt_iv) with a per-secret random nonce as IV,
-- keyed by sha256 of the file $PGDATA/supabase_vault_local.key, which
-- local/stack.sh writes once per data directory (mode 0600, owner postgres).
-- Like pgsodium's root key file, the key is never in a table, and, unlike a
-- GUC, no role but the superuser can read it (current_setting() is open to all).

\echo Use "CREATE EXTENSION supabase_vault" to load this file. \quit

-- Key and cipher helpers run as the extension owner (superuser) because
-- pg_read_file is superuser-only. pgcrypto's schema is pinned below.
create function vault._local_key() returns bytea
language sql volatile security definer as $$
  select digest(pg_read_file('supabase_vault_local.key'), 'sha256')
$$;

create function vault._encrypt(message text, nonce bytea) returns text
language sql volatile security definer as $$
  select encode(encrypt_iv(convert_to(message, 'utf8'), vault._local_key(), nonce, 'aes-cbc/pad:pkcs'), 'base64')
$$;

create function vault._decrypt(ciphertext text, nonce bytea) returns text
language sql volatile security definer as $$
  select convert_from(decrypt_iv(decode(ciphertext, 'base64'), vault._local_key(), nonce, 'aes-cbc/pad:pkcs'), 'utf8')
$$;

create function vault._noncegen() returns bytea
language sql volatile as $$ select gen_random_bytes(16) $$;

do $$
declare s text := (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace
                   where e.extname = 'pgcrypto');
begin
  execute format('alter function vault._local_key() set search_path = pg_catalog, %I', s);
  execute format('alter function vault._encrypt(text, bytea) set search_path = pg_catalog, %I', s);
  execute format('alter function vault._decrypt(text, bytea) set search_path = pg_catalog, %I', s);
  execute format('alter function vault._noncegen() set search_path = pg_catalog, %I', s);
end
$$;
revoke all on function vault._local_key(), vault._encrypt(text, bytea), vault._decrypt(text, bytea)
  from public;

create table vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea default vault._noncegen(),
  created_at timestamptz not null default current_timestamp,
  updated_at timestamptz not null default current_timestamp
);
comment on table vault.secrets is 'Table with encrypted `secret` column for storing sensitive information on disk.';
create unique index on vault.secrets using btree (name) where name is not null;

create view vault.decrypted_secrets as
select s.id, s.name, s.description, s.secret,
       vault._decrypt(s.secret, s.nonce) as decrypted_secret,
       s.key_id, s.nonce, s.created_at, s.updated_at
from vault.secrets s;

create function vault.create_secret(
  new_secret text,
  new_name text = null,
  new_description text = '',
  new_key_id uuid = null -- unused, as in the real 0.3
) returns uuid
language plpgsql set search_path = '' as $$
declare
  new_nonce bytea := vault._noncegen();
  new_id uuid;
begin
  insert into vault.secrets (secret, name, description, nonce)
  values (vault._encrypt(new_secret, new_nonce), new_name, new_description, new_nonce)
  returning id into new_id;
  return new_id;
end
$$;

create function vault.update_secret(
  secret_id uuid,
  new_secret text = null,
  new_name text = null,
  new_description text = null,
  new_key_id uuid = null -- unused, as in the real 0.3
) returns void
language plpgsql set search_path = '' as $$
begin
  update vault.secrets s
  set secret = case when new_secret is null then s.secret else vault._encrypt(new_secret, s.nonce) end,
      name = coalesce(new_name, s.name),
      description = coalesce(new_description, s.description),
      updated_at = now()
  where s.id = secret_id;
end
$$;

select pg_catalog.pg_extension_config_dump('vault.secrets', '');

-- Grants as hosted Supabase sets them after creating vault: postgres and
-- service_role only; anon/authenticated (and PUBLIC) get nothing.
revoke all on schema vault from public;
revoke all on all tables in schema vault from public;
revoke execute on function vault.create_secret(text, text, text, uuid),
  vault.update_secret(uuid, text, text, text, uuid) from public;
do $$
begin
  if exists (select from pg_roles where rolname = 'service_role') then
    grant usage on schema vault to service_role;
    grant select, delete on vault.secrets, vault.decrypted_secrets to service_role;
    -- The real grant names _crypto_aead_det_decrypt; these are its stand-ins.
    -- A view's functions run with the caller's rights, so the reader needs them.
    grant execute on function vault.create_secret(text, text, text, uuid),
      vault.update_secret(uuid, text, text, text, uuid),
      vault._encrypt(text, bytea), vault._decrypt(text, bytea) to service_role;
  end if;
end
$$;
