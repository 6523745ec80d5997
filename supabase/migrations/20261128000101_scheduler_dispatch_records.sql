-- Every night accounted for, part 1: the data. A dispatch record per request
-- pg_cron (or the sweep) posts, the nightly slot and attempt on every run, the
-- per-job policy, and leases that heartbeat. Functions come in the next file.

-- Whether p_zone is a time zone PostgreSQL knows (an IANA name such as
-- 'Europe/Oslo', or 'UTC'). Immutable for the check below: zone names do not
-- disappear from the time zone database.
create function public.scheduler_is_time_zone(p_zone text)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
  perform pg_catalog.now() at time zone p_zone;
  return true;
exception when invalid_parameter_value then
  return false;
end;
$$;

-- Per-job policy: one row per nightly job; adding a nightly job stays one insert.
alter table public.scheduler_nightly_job
  add column pause_reason text,
  add column max_attempts integer not null default 3 check (max_attempts between 1 and 10),
  add column budget_ms integer check (budget_ms between 1000 and 390000),
  add column run_at time,
  add column run_after text references public.scheduler_nightly_job (job_name),
  add column latest_start time,
  add column window_end time not null default '06:00',
  add column retry_backoff_ms integer not null default 60000
    check (retry_backoff_ms between 0 and 3600000),
  -- Times of night (run_at, latest_start, window_end) are local times in this
  -- IANA zone, and a slot is a local date (issue 17).
  add column time_zone text not null default 'UTC'
    check (pg_catalog.length(time_zone) between 1 and 64 and public.scheduler_is_time_zone(time_zone)),
  -- Nights never dispatched (database or pg_cron down through the window): none,
  -- latest (the most recent such night, once) or all (oldest first, one at a
  -- time) within catch_up_window nights.
  add column catch_up text not null default 'latest' check (catch_up in ('none', 'latest', 'all')),
  add column catch_up_window integer not null default 7 check (catch_up_window between 1 and 60),
  add constraint scheduler_nightly_job_one_start_rule check (run_at is null or run_after is null),
  add constraint scheduler_nightly_job_not_after_itself check (run_after <> job_name),
  add constraint scheduler_nightly_job_latest_start_needs_run_after
    check (latest_start is null or run_after is not null),
  -- Who does the job's work: the Edge Function, or its SQL runner (issue 16;
  -- the runners themselves are in 20261202000200_scheduler_sql_runner.sql).
  add column runner text not null default 'function' check (runner in ('function', 'sql')),
  add column sql_runner text check (sql_runner ~ '^[a-z0-9_]{1,63}$'),
  add column no_sql_runner_reason text,
  add constraint scheduler_nightly_job_sql_needs_runner check (runner = 'function' or sql_runner is not null),
  add constraint scheduler_nightly_job_sql_runner_or_reason
    check (sql_runner is null or no_sql_runner_reason is null);

comment on column public.scheduler_nightly_job.pause_reason is
  'Non-null: the job is paused (not dispatched), and this says why.';
comment on column public.scheduler_nightly_job.run_at is
  'Local time (in time_zone) of the first attempt; null with run_after null means 02:00.';
comment on column public.scheduler_nightly_job.run_after is
  'Start once this job''s attempts for the same slot have ended (or at latest_start).';
comment on column public.scheduler_nightly_job.window_end is
  'Local time (in time_zone) after which no new attempt of the night''s slot starts.';
comment on column public.scheduler_nightly_job.time_zone is
  'IANA zone of the job''s times of night; its slots are local dates there.';
comment on column public.scheduler_nightly_job.catch_up is
  'Nights never dispatched: none, latest (the most recent, once) or all (oldest first) within catch_up_window.';
comment on column public.scheduler_nightly_job.retry_backoff_ms is
  'Wait before attempt 2; doubles for each further attempt.';
comment on column public.scheduler_nightly_job.runner is
  'function: dispatched to the Edge Function through pg_net (the SQL runner is the fallback when '
  'every attempt is lost); sql: pinned to its SQL runner, run by the sweep with no HTTP call.';
comment on column public.scheduler_nightly_job.sql_runner is
  'The job''s SQL runner: a function public.<name>(p_now, p_payload, p_state) doing one batch; null: none.';
comment on column public.scheduler_nightly_job.no_sql_runner_reason is
  'Why the job has no SQL runner (it cannot run without the function).';

-- The sync reads what the expiry check changed the same night.
update public.scheduler_nightly_job
set run_after = 'certification_expiry_check', latest_start = '04:00'
where job_name = 'hlf_dynamics_sync';

-- One row per request the database posts to the function.
create table public.scheduler_dispatch (
  id uuid primary key default gen_random_uuid(),
  job_name text not null check (job_name ~ '^[a-z0-9_]{1,64}$'),
  slot date not null,
  attempt integer not null check (attempt between 1 and 100),
  -- fallback: the SQL runner taking over a slot whose every attempt was lost.
  kind text not null check (kind in ('cron', 'retry', 'continuation', 'replay', 'catch_up', 'fallback')),
  previous_execution_id uuid,
  request_id bigint,
  created_at timestamptz not null default now(),
  -- The run that consumed it (one use only), or the row that records it lost.
  execution_id uuid,
  -- null: waiting for the function; delivered: consumed; lost: the sweep gave up on it.
  outcome text check (outcome in ('delivered', 'lost')),
  lost_reason text,
  -- What the job is sent; a retry or a continuation resends the first attempt's payload.
  payload jsonb not null default '{}',
  -- Who takes it: the function (posted through pg_net) or the SQL runner (taken
  -- by the sweep, never posted), and why the SQL runner when it is.
  runner text not null default 'function' check (runner in ('function', 'sql')),
  runner_reason text,
  -- replay: who asked for it (the operator's name) and why.
  requested_by text check (pg_catalog.length(requested_by) <= 200),
  reason text check (pg_catalog.length(reason) <= 500),
  -- Made by hand for this one job (scheduler_dispatch()): it moves only its own
  -- window and its dependants', never the rest of the night's (a replay neither).
  by_hand boolean not null default false,
  constraint scheduler_dispatch_used_when_closed check (outcome is not null or execution_id is null)
);

comment on table public.scheduler_dispatch is
  'Requests posted to nightly-scheduler through pg_net; the sweep matches them with runs and responses.';

create index scheduler_dispatch_job_slot_idx on public.scheduler_dispatch (job_name, slot, attempt);
create index scheduler_dispatch_slot_idx on public.scheduler_dispatch (slot, created_at);
create index scheduler_dispatch_pending_idx on public.scheduler_dispatch (created_at)
  where outcome is null;

alter table public.scheduler_dispatch enable row level security;
revoke all on public.scheduler_dispatch from public, anon, authenticated;
grant select on public.scheduler_dispatch to service_role;

-- Runs know their dispatch, slot and attempt; manual runs have none.
alter table public.scheduler_execution_log
  add column dispatch_id uuid,
  add column slot date,
  add column attempt integer,
  add column previous_execution_id uuid,
  add column heartbeat_at timestamptz,
  -- An operator's cancel (scheduler_cancel): the run's heartbeat reads it.
  add column cancel_requested_at timestamptz,
  add column cancel_requested_by text check (pg_catalog.length(cancel_requested_by) <= 200),
  -- Which runner did (or was to do) the work, copied from the dispatch; manual runs are the function's.
  add column runner text not null default 'function' check (runner in ('function', 'sql')),
  add column runner_reason text,
  drop constraint scheduler_execution_log_trigger_check,
  add constraint scheduler_execution_log_trigger_check
    check (trigger in ('cron', 'retry', 'continuation', 'replay', 'catch_up', 'fallback', 'manual')),
  drop constraint scheduler_execution_log_status_check,
  add constraint scheduler_execution_log_status_check
    check (status in ('running', 'succeeded', 'failed', 'skipped', 'timed_out', 'lost', 'duplicate')),
  add constraint scheduler_execution_log_slot_iff_dispatch
    check ((slot is null) = (dispatch_id is null) and (slot is null) = (attempt is null));

-- "What ran for this job's slot": duplicate detection and the sweep.
create index scheduler_execution_log_slot_idx on public.scheduler_execution_log (job_name, slot)
  where slot is not null;
-- A dispatch runs at most once; further deliveries of it are recorded as duplicates.
create unique index scheduler_execution_log_dispatch_once_idx
  on public.scheduler_execution_log (dispatch_id)
  where dispatch_id is not null and status <> 'duplicate';

-- The lease row stays once made: a free lease has no owner and remembers when
-- it was released, so the next run cannot start before the last one ended.
alter table public.scheduler_job_lease
  alter column owner drop not null,
  add column released_at timestamptz;
