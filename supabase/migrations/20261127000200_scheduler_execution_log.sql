-- The execution log and the per-job lease. The log is the source of truth for
-- what ran: pg_net's response table only says whether a request was delivered.

create table public.scheduler_execution_log (
  id uuid primary key,                       -- the execution id the function returns
  job_name text not null check (job_name ~ '^[a-z0-9_]{1,64}$'),
  trigger text not null check (trigger in ('cron', 'manual')),
  status text not null
    check (status in ('running', 'succeeded', 'failed', 'skipped', 'timed_out')),
  started_at timestamptz not null,
  finished_at timestamptz,
  duration_ms integer generated always as
    ((extract(epoch from (finished_at - started_at)) * 1000)::integer) stored,
  error_message text,
  summary jsonb,
  constraint scheduler_execution_log_finished_when_not_running
    check ((status = 'running') = (finished_at is null)),
  constraint scheduler_execution_log_finishes_after_start
    check (finished_at is null or finished_at >= started_at)
);

comment on table public.scheduler_execution_log is
  'One row per nightly-scheduler run; written by the Edge Function with the service role.';

-- "Latest runs per job" and "what is still running".
create index scheduler_execution_log_job_started_idx
  on public.scheduler_execution_log (job_name, started_at desc);
create index scheduler_execution_log_running_idx
  on public.scheduler_execution_log (job_name) where status = 'running';

-- One row per job while a run holds it. A lease, not an advisory lock: PostgREST
-- pools connections, so a session lock would stay with whichever request got it.
create table public.scheduler_job_lease (
  job_name text primary key,
  owner uuid not null,
  acquired_at timestamptz not null,
  expires_at timestamptz not null
);

comment on table public.scheduler_job_lease is
  'Keeps one nightly-scheduler job from running twice at once; a lapsed lease may be taken over.';

-- Only the service role (which bypasses RLS) touches these tables.
alter table public.scheduler_execution_log enable row level security;
alter table public.scheduler_job_lease enable row level security;
revoke all on public.scheduler_execution_log, public.scheduler_job_lease
  from public, anon, authenticated;
grant select, insert, update on public.scheduler_execution_log to service_role;
grant select, insert, update, delete on public.scheduler_job_lease to service_role;
