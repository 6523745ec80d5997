-- The nightly schedule. pg_cron runs scheduler_dispatch_nightly() (defined with
-- the dispatch records, 20261128000102) at 02:00 UTC, and the sweep
-- (20261128000104) makes the same decision every few seconds: each job is
-- dispatched once its time of night has come in its time zone. Dispatches read
-- the function URL and the shared secret from Vault at run time and post one
-- request per nightly job through pg_net. Neither the URL nor the
-- secret ever appears in cron.job.command, and rotating either needs no deploy.
--
-- Per environment, create these Vault secrets (see README):
--   nightly_scheduler_url     https://<ref>.supabase.co/functions/v1/nightly-scheduler
--   nightly_scheduler_secret  the shared secret the function checks

-- Which jobs run nightly. Adding a nightly job: one insert here (in a new migration).
create table public.scheduler_nightly_job (
  job_name text primary key check (job_name ~ '^[a-z0-9_]{1,64}$'),
  enabled boolean not null default true,
  added_at timestamptz not null default now()
);

comment on table public.scheduler_nightly_job is
  'Jobs scheduler_dispatch_nightly() posts to the nightly-scheduler function every night.';

alter table public.scheduler_nightly_job enable row level security;
revoke all on public.scheduler_nightly_job from public, anon, authenticated;
grant select on public.scheduler_nightly_job to service_role;

-- The heartbeat runs nightly too: a daily row that proves the whole path works.
insert into public.scheduler_nightly_job (job_name) values ('heartbeat')
on conflict (job_name) do nothing;

-- The shared secret, for the function (through PostgREST as service_role) to
-- check callers against. Security definer: only postgres may read Vault.
create function public.scheduler_current_secret()
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select decrypted_secret from vault.decrypted_secrets
  where name = 'nightly_scheduler_secret'
  limit 1;
$$;

revoke all on function public.scheduler_current_secret() from public, anon, authenticated;
grant execute on function public.scheduler_current_secret() to service_role;

-- Same name = update, so re-running this is harmless. UTC on pg_cron 1.4 and 1.6.
select cron.schedule(
  'nightly-scheduler',
  '0 2 * * *',
  'select public.scheduler_dispatch_nightly()'
);

