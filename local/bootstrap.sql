-- LOCAL ONLY: what a new hosted Supabase database already has before the
-- project's migrations run (supabase/postgres init-scripts and migrations).
-- Run by local/stack.sh as supabase_admin (the cluster's superuser, as on
-- hosted) before `supabase migration up`, which then runs as postgres: a
-- role that is NOT a superuser, as `supabase db push` runs on hosted.
-- Idempotent: safe on every `up`.

-- postgres: what hosted gives it (no superuser; it owns the database, so the
-- public schema and the migration history are its own).
do $$
begin
  if not exists (select from pg_roles where rolname = 'postgres') then
    create role postgres login;
  end if;
end
$$;
alter role postgres nosuperuser createrole createdb replication bypassrls login;
alter database postgres owner to postgres;

-- API roles. Hosted creates them noinherit, then (20230529180330) makes the
-- three API roles inherit; authenticator stays noinherit and only switches
-- into them via SET ROLE, as PostgREST does.
do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
end
$$;
alter role anon inherit;
alter role authenticated inherit;
alter role service_role inherit;
grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;

-- Short timeouts for API roles, as hosted.
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';

-- Extensions live in their own schema; pgcrypto and uuid-ossp are there from
-- day one, owned by supabase_admin.
create schema if not exists extensions;
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgcrypto with schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant usage, create on schema extensions to postgres with grant option;
alter role postgres set search_path to "$user", public, extensions;

-- Default privileges on public: every new table/function/sequence, whether
-- postgres (migrations) or supabase_admin made it, is granted to the API
-- roles, so RLS (not grants) is what protects tables, as hosted.
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on sequences to postgres, anon, authenticated, service_role;

-- Hosted's issue_pg_net_access event trigger: whenever pg_net is created,
-- the API roles get USAGE on schema net (pg_net >= 0.12 needs nothing more).
-- Security definer here only: on hosted, supautils runs the whole CREATE
-- EXTENSION (event triggers included) as supabase_admin.
create or replace function extensions.grant_pg_net_access() returns event_trigger
language plpgsql security definer set search_path = '' as $$
begin
  if exists (
    select 1 from pg_event_trigger_ddl_commands() as ev
    join pg_extension as ext on ev.objid = ext.oid
    where ext.extname = 'pg_net'
  ) then
    if not exists (select 1 from pg_roles where rolname = 'supabase_functions_admin') then
      create user supabase_functions_admin noinherit createrole login noreplication;
    end if;
    grant usage on schema net to supabase_functions_admin, postgres, anon, authenticated, service_role;
  end if;
end;
$$;
drop event trigger if exists issue_pg_net_access;
create event trigger issue_pg_net_access on ddl_command_end when tag in ('CREATE EXTENSION')
  execute function extensions.grant_pg_net_access();

-- pg_net is not a trusted extension: hosted, supautils runs postgres's CREATE
-- EXTENSION as supabase_admin, which then owns it. Without supautils the
-- superuser creates it here (after the event trigger above, so the grants
-- follow), and the migration's `create extension if not exists pg_net with
-- schema extensions` finds it, as pg_cron below.
create extension if not exists pg_net with schema extensions;

-- Vault comes preinstalled on hosted projects, owned by supabase_admin, so a
-- migration's `create extension if not exists supabase_vault with schema
-- vault` is a no-op there. That form fails unless schema vault exists, so
-- create it here without `with schema` (PostgreSQL then makes the control
-- file's schema).
create extension if not exists supabase_vault;
-- The grants hosted Supabase applies to Vault (the bare extension grants none):
-- postgres with grant option, service_role; anon and authenticated get nothing.
grant usage on schema vault to postgres with grant option;
grant usage on schema vault to service_role;
grant select, delete on vault.secrets, vault.decrypted_secrets to postgres with grant option;
grant select, delete on vault.secrets, vault.decrypted_secrets to service_role;
grant execute on function
  vault._crypto_aead_det_decrypt(bytea, bytea, bigint, bytea, bytea),
  vault.create_secret(text, text, text, uuid),
  vault.update_secret(uuid, text, text, text, uuid)
  to postgres with grant option;
grant execute on function
  vault._crypto_aead_det_decrypt(bytea, bytea, bigint, bytea, bytea),
  vault.create_secret(text, text, text, uuid),
  vault.update_secret(uuid, text, text, text, uuid)
  to service_role;

-- pg_cron: hosted lets postgres create it (supautils runs the CREATE as
-- supabase_admin). Without supautils, supabase_admin creates it here, so the
-- migration's `create extension if not exists pg_cron` finds it; then the
-- grants of hosted's grant_pg_cron_access().
create extension if not exists pg_cron with schema pg_catalog;
grant usage on schema cron to postgres with grant option;
grant all on all tables in schema cron to postgres with grant option;
grant all on all functions in schema cron to postgres with grant option;
grant all on all sequences in schema cron to postgres with grant option;
alter default privileges in schema cron grant all on tables to postgres with grant option;
alter default privileges in schema cron grant all on functions to postgres with grant option;
alter default privileges in schema cron grant all on sequences to postgres with grant option;

-- pgTAP for the database tests (supabase/tests/database): hosted lets postgres
-- create it through supautils; here supabase_admin creates it up front, so the
-- tests' `create extension if not exists pgtap` finds it.
create extension if not exists pgtap with schema extensions;

-- Supabase Auth's schema, as far as the project uses it: auth.users and the
-- helpers RLS policies and RPCs call. Hosted, supabase_admin owns the schema
-- and the auth service's role (supabase_auth_admin) its objects.
-- auth.uid()/jwt()/role() read the JWT claims PostgREST puts in
-- `request.jwt.claims` (and the older one-setting-per-claim form
-- `request.jwt.claim.*`), so a direct SQL session can act as a user with
-- `set local role authenticated; set local request.jwt.claims = '{"sub": ...}'`.
do $$
begin
  if not exists (select from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin nologin noinherit;
  end if;
end
$$;
create schema if not exists auth;
grant all on schema auth to supabase_auth_admin;

create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  is_anonymous boolean not null default false
);
alter table auth.users owner to supabase_auth_admin;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
-- Hosted grants: the API roles may use the schema and call the helpers (the
-- functions' default PUBLIC execute), but not read auth.users; postgres may
-- (and may reference it from public tables).
grant usage on schema auth to postgres, anon, authenticated, service_role;
grant all on auth.users to postgres;
