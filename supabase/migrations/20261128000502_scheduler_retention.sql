-- Retention: how long the scheduler's history (the execution log, dispatch
-- records, resolved alerts, pg_cron's run history) is kept, and the batch function
-- the nightly job scheduler_retention calls to delete what is past its period.
-- The purge runs through the function like any job, so it is recorded in
-- scheduler_execution_log (and alerted on) like any run. Each call deletes at
-- most p_batch_size rows in one short transaction, so a first purge of a year of
-- history never holds long locks.

-- One row per kind of history; keep_days is per environment (update the row, no deploy).
create table public.scheduler_retention_policy (
  target text primary key,
  keep_days integer not null check (keep_days between 1 and 3650),
  updated_at timestamptz not null default now()
);

comment on table public.scheduler_retention_policy is
  'How many days scheduler_retention keeps each kind of scheduler history.';

insert into public.scheduler_retention_policy (target, keep_days) values
  ('scheduler_execution_log', 90),
  ('scheduler_dispatch', 90),
  ('scheduler_alert', 90),
  ('cron.job_run_details', 14)
on conflict (target) do nothing;

alter table public.scheduler_retention_policy enable row level security;
revoke all on public.scheduler_retention_policy from public, anon, authenticated;
grant select, update on public.scheduler_retention_policy to service_role;

-- The purge walks the log by age; the (job_name, started_at) index cannot.
create index scheduler_execution_log_started_idx on public.scheduler_execution_log (started_at);

-- Deletes up to p_batch_size rows of p_target older than its keep_days before
-- p_now, oldest first; returns how many went. What is still live stays whatever
-- its age: running rows of the log, pending dispatches, open alerts (an alert
-- ages from its resolution, a dispatch from its slot). Security definer: cron.job_run_details belongs to
-- postgres, and service_role may delete nothing there but through this.
create function public.scheduler_purge_batch(
  p_target text,
  p_now timestamptz,
  p_batch_size integer
) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_keep_days integer;
  v_cutoff timestamptz;
  v_deleted integer;
begin
  if p_now is null or p_batch_size is null or p_batch_size not between 1 and 50000 then
    raise exception 'scheduler_purge_batch needs p_now and p_batch_size from 1 to 50000, got %, %',
      p_now, p_batch_size using errcode = '22023';
  end if;
  select keep_days into v_keep_days from public.scheduler_retention_policy where target = p_target;
  if v_keep_days is null then
    raise exception 'No retention policy for ''%''', p_target using errcode = '22023';
  end if;
  v_cutoff := p_now - make_interval(days => v_keep_days);

  if p_target = 'scheduler_execution_log' then
    delete from public.scheduler_execution_log
    where id in (
      select id from public.scheduler_execution_log
      where started_at < v_cutoff and status <> 'running'
      order by started_at
      limit p_batch_size
    );
  elsif p_target = 'scheduler_dispatch' then
    delete from public.scheduler_dispatch
    where id in (
      select id from public.scheduler_dispatch
      where slot < (v_cutoff at time zone 'utc')::date and outcome is not null
      order by slot
      limit p_batch_size
    );
  elsif p_target = 'scheduler_alert' then
    delete from public.scheduler_alert
    where id in (
      select id from public.scheduler_alert
      where resolved_at < v_cutoff
      order by resolved_at
      limit p_batch_size
    );
  elsif p_target = 'cron.job_run_details' then
    -- No index on end_time (the table is pg_cron's); runid grows with time, so
    -- the oldest rows come first and each batch stops as soon as it is full.
    delete from cron.job_run_details
    where runid in (
      select runid from cron.job_run_details
      where end_time < v_cutoff
      order by runid
      limit p_batch_size
    );
  else
    raise exception 'scheduler_purge_batch does not know how to purge ''%''', p_target
      using errcode = '22023';
  end if;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$$;

-- The targets and their periods, for the job to walk.
create function public.scheduler_retention_targets()
returns table (target text, keep_days integer)
language sql
stable
set search_path = ''
as $$
  select target, keep_days from public.scheduler_retention_policy order by target;
$$;

-- The SQL runner of scheduler_retention (issue 16): the job's work without the
-- Edge Function, over the same scheduler_purge_batch, target by target in the
-- same order, with the same payload ({"batch_size": n}, 1-50000, default 5000)
-- and summary. One call is ONE batch (see certification_expiry_check_sql for
-- the contract: the sweep's SQL runner commits between calls and keeps the
-- budget); a target is done when a batch deletes fewer rows than it may.
create function public.scheduler_retention_sql(
  p_now timestamptz,
  p_payload jsonb,
  p_state jsonb
) returns table (state jsonb, summary jsonb, work_remains boolean)
language plpgsql
set search_path = ''
as $$
declare
  v_payload jsonb := coalesce(p_payload, '{}');
  v_batch integer := 5000;
  v_unknown text;
  v_targets text[] := array(select t.target from public.scheduler_retention_targets() t);
  v_state jsonb := coalesce(p_state, jsonb_build_object('target', 0, 'deleted', '{}'::jsonb));
  v_index integer := (v_state ->> 'target')::integer;
  v_target text;
  v_deleted integer;
begin
  select k into v_unknown from jsonb_object_keys(v_payload) k where k <> 'batch_size' limit 1;
  if v_unknown is not null then
    raise exception 'Invalid payload for job ''scheduler_retention'': unknown payload field ''%''',
      v_unknown using errcode = '22023';
  end if;
  if v_payload ? 'batch_size' then
    if jsonb_typeof(v_payload -> 'batch_size') <> 'number'
       or (v_payload ->> 'batch_size')::numeric <> trunc((v_payload ->> 'batch_size')::numeric)
       or (v_payload ->> 'batch_size')::numeric not between 1 and 50000 then
      raise exception 'Invalid payload for job ''scheduler_retention'': ''batch_size'' must be an '
        'integer from 1 to 50000, got ''%''', v_payload -> 'batch_size' using errcode = '22023';
    end if;
    v_batch := (v_payload ->> 'batch_size')::integer;
  end if;

  if v_index < cardinality(v_targets) then
    v_target := v_targets[v_index + 1];
    v_deleted := public.scheduler_purge_batch(v_target, p_now, v_batch);
    v_state := jsonb_set(v_state, array['deleted', v_target],
      to_jsonb(coalesce((v_state -> 'deleted' ->> v_target)::integer, 0) + v_deleted));
    if v_deleted < v_batch then
      v_state := v_state || jsonb_build_object('target', v_index + 1);
    end if;
  end if;
  return query select v_state,
    jsonb_build_object(
      'as_of', to_char(p_now at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'deleted', v_state -> 'deleted'),
    (v_state ->> 'target')::integer < cardinality(v_targets);
end;
$$;

revoke all on function public.scheduler_retention_sql(timestamptz, jsonb, jsonb)
  from public, anon, authenticated, service_role;

revoke all on function public.scheduler_purge_batch(text, timestamptz, integer)
  from public, anon, authenticated;
revoke all on function public.scheduler_retention_targets() from public, anon, authenticated;
grant execute on function public.scheduler_purge_batch(text, timestamptz, integer) to service_role;
grant execute on function public.scheduler_retention_targets() to service_role;

-- At 03:30 UTC, once the 02:00 jobs are done, so the purge's batches never
-- contend with them (the reconcile sweep starts jobs with a run_at).
insert into public.scheduler_nightly_job (job_name, run_at) values ('scheduler_retention', '03:30')
on conflict (job_name) do nothing;
