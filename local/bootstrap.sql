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
