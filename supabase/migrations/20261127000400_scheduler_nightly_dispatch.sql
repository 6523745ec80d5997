-- The nightly schedule. pg_cron runs scheduler_dispatch_nightly() at 02:00 UTC;
-- it reads the function URL and the shared secret from Vault at run time and
-- posts one request per nightly job through pg_net. Neither the URL nor the
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

-- Queues one pg_net request that runs p_job_name with trigger 'cron'. Returns
-- pg_net's request id. The timeout covers the whole run: the function answers
-- when the job ends, and a later timeout only loses the answer, not the run.
create function public.scheduler_dispatch(
  p_job_name text,
  p_timeout_milliseconds integer default 150000
) returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_url text;
  v_secret text;
begin
  select decrypted_secret into v_url from vault.decrypted_secrets
  where name = 'nightly_scheduler_url';
  select decrypted_secret into v_secret from vault.decrypted_secrets
  where name = 'nightly_scheduler_secret';
  if v_url is null or v_secret is null then
    raise exception 'nightly-scheduler is not configured: Vault needs the secrets '
      'nightly_scheduler_url and nightly_scheduler_secret';
  end if;
  return net.http_post(
    url := v_url,
    body := jsonb_build_object('job_name', p_job_name, 'trigger', 'cron'),
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'Authorization', 'Bearer ' || v_secret
    ),
    timeout_milliseconds := p_timeout_milliseconds
  );
end;
$$;

-- Posts every enabled nightly job; what pg_cron runs at 02:00 UTC.
create function public.scheduler_dispatch_nightly()
returns setof bigint
language sql
security definer
set search_path = ''
as $$
  select public.scheduler_dispatch(job_name)
  from public.scheduler_nightly_job
  where enabled
  order by job_name;
$$;

revoke all on function public.scheduler_dispatch(text, integer) from public, anon, authenticated, service_role;
revoke all on function public.scheduler_dispatch_nightly() from public, anon, authenticated, service_role;

-- Same name = update, so re-running this is harmless. UTC on pg_cron 1.4 and 1.6.
select cron.schedule(
  'nightly-scheduler',
  '0 2 * * *',
  'select public.scheduler_dispatch_nightly()'
);

-- pg_cron never trims its run history; keep two weeks.
select cron.schedule(
  'nightly-scheduler-trim-cron-history',
  '30 3 * * *',
  $$delete from cron.job_run_details where end_time < now() - interval '14 days'$$
);
