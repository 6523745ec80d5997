-- LOCAL ONLY: what a new hosted Supabase database already has before the
-- project's migrations run (after supabase/postgres init-scripts and
-- migrations). Run by local/stack.sh as postgres before `migration up`.
-- Idempotent: safe on every `up`.

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

-- Short timeouts for API roles, as hosted.
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';

-- Extensions live in their own schema; pgcrypto and uuid-ossp are there from day one.
create schema if not exists extensions;
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgcrypto with schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
alter role postgres set search_path to "$user", public, extensions;

-- Default privileges on public: every new table/function/sequence is granted
-- to the API roles, so RLS (not grants) is what protects tables, as hosted.
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;

-- Vault comes preinstalled on hosted projects, so a migration's
-- `create extension if not exists supabase_vault with schema vault` is a no-op
-- there. That form fails unless schema vault exists, so create it here
-- without `with schema` (PostgreSQL then makes the control file's schema).
-- pg_net and pg_cron are NOT preinstalled: migrations create them.
create extension if not exists supabase_vault;

-- Supabase Auth's schema, as far as the project uses it: auth.users and the
-- helpers RLS policies and RPCs call. Hosted, the auth service (supabase_auth_admin)
-- owns these objects; auth.uid()/jwt()/role() read the JWT claims PostgREST
-- puts in `request.jwt.claims` (and the older one-setting-per-claim form
-- `request.jwt.claim.*`), so a direct SQL session can act as a user with
-- `set local role authenticated; set local request.jwt.claims = '{"sub": ...}'`.
do $$
begin
  if not exists (select from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin nologin noinherit;
  end if;
end
$$;
create schema if not exists auth authorization supabase_auth_admin;

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
