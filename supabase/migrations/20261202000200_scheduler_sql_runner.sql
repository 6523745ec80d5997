-- The SQL runner (issue 16): database-only jobs run without the Edge Function.
-- A job may register a SQL runner in its policy (scheduler_nightly_job.sql_runner):
-- a function public.<name>(p_now, p_payload, p_state) returning (state, summary,
-- work_remains) that does ONE batch of the job over the job's own batch
-- functions (certification_expiry_check_sql, scheduler_retention_sql). Its
-- dispatches (runner 'sql': the job pinned with runner = 'sql', or the sweep's
-- fallback for a slot whose every attempt was lost) are recorded like any
-- other but never posted; pg_cron's nightly-scheduler-sql-runner job takes them:
-- scheduler_start_run (the same duplicate check and lease), then a part of
-- batches, each its own transaction, within the job's budget, then
-- scheduler_finish_run (partial parts continue, dependants start), so the run
-- is logged, leased, retried, continued, alerted and shown like the function's.
--
-- Why procedures and COMMIT between batches: pg_cron runs a command in one
-- transaction unless it is a CALL of a procedure, and a part in one
-- transaction would hold it (and every row it wrote) for the whole budget.
-- Why the runner is a per-batch function the procedure calls, not a procedure
-- that commits itself: it is named in the policy, so it is called through
-- EXECUTE, and a routine called through EXECUTE cannot COMMIT ("invalid
-- transaction termination", checked on PostgreSQL 15). Why its own pg_cron job
-- rather than inside scheduler_reconcile: the sweep is a function (one
-- transaction), and a part running for its budget inside the sweep's job would
-- hold back lost-dispatch detection and retries of every other job meanwhile.
-- The procedures carry neither SECURITY DEFINER nor SET (either forbids
-- transaction control): they run as postgres (pg_cron's user), every name in
-- them is schema-qualified, and no other role may call them.

-- The job's SQL runners, and why the sync has none.
update public.scheduler_nightly_job set sql_runner = 'certification_expiry_check_sql'
where job_name = 'certification_expiry_check';
update public.scheduler_nightly_job set sql_runner = 'scheduler_retention_sql'
where job_name = 'scheduler_retention';
update public.scheduler_nightly_job
set no_sql_runner_reason = 'It sends certification changes to HLF''s Dynamics portal over HTTP, '
  'which only the function can do'
where job_name = 'hlf_dynamics_sync';
update public.scheduler_nightly_job
set no_sql_runner_reason = 'It proves the path through the function; run in SQL it would prove nothing'
where job_name = 'heartbeat';

-- One batch of a SQL part: whether another batch fits p_deadline (one batch
-- always runs, so every part makes progress; then another only when one as
-- long as the longest so far still ends by the deadline, BatchPacer's rule
-- without its margin: the final write is local and needs none), whether the
-- run still holds its lease and no operator cancelled it (scheduler_cancel),
-- then the job's runner once, its lease renewed after (the heartbeat also
-- reads a cancel asked for meanwhile: the part stops after this batch). p_part
-- carries the part so far: {state, summary, batches, longest_batch_ms, done,
-- stopped_by, error}; the returned one says what happened. A runner error rolls back its batch only (the earlier batches are
-- committed) and stops the part with the error. p_execution_id null: no run
-- (a test); nothing is leased.
create function public.scheduler_sql_step(
  p_execution_id uuid,
  p_job_name text,
  p_runner text,
  p_now timestamptz,
  p_deadline timestamptz,
  p_payload jsonb,
  p_part jsonb
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_part jsonb := coalesce(p_part, '{}') || jsonb_build_object(
    'batches', coalesce((p_part ->> 'batches')::integer, 0),
    'longest_batch_ms', coalesce((p_part ->> 'longest_batch_ms')::integer, 0));
  v_started timestamptz := clock_timestamp();
  v_result record;
  v_ms integer;
  v_beat text;
begin
  if (v_part ->> 'batches')::integer > 0 and v_started
       + make_interval(secs => (v_part ->> 'longest_batch_ms')::integer / 1000.0) > p_deadline then
    return v_part || jsonb_build_object('stopped_by', 'deadline');
  end if;
  if p_execution_id is not null and not exists (
    select from public.scheduler_job_lease l
    where l.job_name = p_job_name and l.owner = p_execution_id and l.expires_at > v_started
  ) then
    return v_part || jsonb_build_object('stopped_by', 'lease_lost');
  end if;
  if p_execution_id is not null and exists (
    select from public.scheduler_execution_log x
    where x.id = p_execution_id and x.cancel_requested_at is not null
  ) then
    return v_part || jsonb_build_object('stopped_by', 'cancelled');
  end if;
  begin
    execute format('select r.state, r.summary, r.work_remains from public.%I($1, $2, $3) r', p_runner)
      into v_result using p_now, p_payload, v_part -> 'state';
  exception when others then
    return v_part || jsonb_build_object('stopped_by', 'error', 'error', sqlerrm);
  end;
  v_ms := (extract(epoch from clock_timestamp() - v_started) * 1000)::integer;
  if p_execution_id is not null then
    v_beat := public.scheduler_heartbeat(p_execution_id, p_job_name, clock_timestamp(), 60000);
  end if;
  return v_part || jsonb_build_object(
    'state', v_result.state,
    'summary', v_result.summary,
    'batches', (v_part ->> 'batches')::integer + 1,
    'longest_batch_ms', greatest((v_part ->> 'longest_batch_ms')::integer, v_ms),
    'done', not coalesce(v_result.work_remains, false))
    || case when not coalesce(v_result.work_remains, false) then '{}'::jsonb
            when v_beat = 'cancel_requested' then jsonb_build_object('stopped_by', 'cancelled')
            when v_beat = 'lost' then jsonb_build_object('stopped_by', 'lease_lost')
            else '{}'::jsonb end;
end;
$$;

-- One part of p_job_name by its SQL runner, within p_deadline: batches until
-- the runner says no work remains, the budget is spent, the lease is lost or
-- a batch fails, committing after each, so no transaction outlives its batch.
-- Returns the part (see scheduler_sql_step) in p_part. Must be CALLed outside
-- a transaction block (pg_cron's CALL, or psql's autocommit).
create procedure public.scheduler_run_sql_part(
  p_execution_id uuid,
  p_job_name text,
  p_now timestamptz,
  p_deadline timestamptz,
  p_payload jsonb,
  inout p_part jsonb default null
)
language plpgsql
as $$
declare
  v_runner text;
  v_reason text;
begin
  select j.sql_runner, j.no_sql_runner_reason into v_runner, v_reason
  from public.scheduler_nightly_job j where j.job_name = p_job_name;
  if v_runner is null then
    p_part := jsonb_build_object('batches', 0, 'stopped_by', 'error', 'error',
      format('Job ''%s'' has no SQL runner%s', p_job_name, coalesce(': ' || v_reason, '')));
    return;
  end if;
  p_part := coalesce(p_part, '{}'::jsonb);
  loop
    p_part := public.scheduler_sql_step(p_execution_id, p_job_name, v_runner, p_now, p_deadline,
      p_payload, p_part);
    commit;
    exit when coalesce((p_part ->> 'done')::boolean, false) or p_part ->> 'stopped_by' is not null;
  end loop;
end;
$$;

-- What pg_cron's nightly-scheduler-sql-runner job calls: takes the SQL
-- runner's pending dispatches, oldest first, at most p_max_runs of them (a
-- continuation it dispatches is taken in the same call), and runs each as a
-- run of its job: started like the function's (scheduler_start_run, runner
-- 'sql': a slot that already has a live or successful run makes it a
-- duplicate, a live lease makes it skipped), one part within the job's
-- budget_ms (default 60 s), then finished (succeeded, partial with work left,
-- failed with the runner's error, timed_out when it lost its lease, cancelled
-- when an operator cancelled it: scheduler_cancel, read between batches). The
-- summary is the runner's plus the part's batches, longest batch, complete and
-- stopped_by, as the function's jobs report them. A dispatch older than ten
-- minutes is left to the sweep, which records it lost.
create procedure public.scheduler_run_sql_dispatches(p_max_runs integer default 20)
language plpgsql
as $$
declare
  v_dispatch record;
  v_execution uuid;
  v_start record;
  v_part jsonb;
  v_status text;
  v_runs integer := 0;
begin
  loop
    exit when v_runs >= least(greatest(coalesce(p_max_runs, 20), 1), 100);
    select d.id, d.job_name, d.payload into v_dispatch from public.scheduler_dispatch d
    where d.runner = 'sql' and d.outcome is null
      and d.created_at > clock_timestamp() - interval '10 minutes'
    order by d.created_at
    limit 1
    for update skip locked;
    exit when not found;
    v_runs := v_runs + 1;
    v_execution := gen_random_uuid();
    select * into v_start from public.scheduler_start_run(
      v_execution, v_dispatch.job_name, v_dispatch.id, clock_timestamp(), 60000, false, null, 'sql');
    commit;
    continue when v_start.status is distinct from 'running';

    v_part := null;
    call public.scheduler_run_sql_part(v_execution, v_dispatch.job_name, v_start.started_at,
      v_start.started_at + make_interval(secs => coalesce(v_start.budget_ms, 60000) / 1000.0),
      v_dispatch.payload, v_part);
    v_status := case
      when coalesce((v_part ->> 'done')::boolean, false) then 'succeeded'
      when v_part ->> 'stopped_by' = 'deadline' then 'partial'
      when v_part ->> 'stopped_by' = 'lease_lost' then 'timed_out'
      when v_part ->> 'stopped_by' = 'cancelled' then 'cancelled'
      else 'failed' end;
    perform public.scheduler_finish_run(v_execution, v_dispatch.job_name, v_status, clock_timestamp(),
      case v_status
        when 'failed' then left(v_part ->> 'error', 2000)
        when 'timed_out' then 'The SQL runner lost the job''s lease between batches'
        when 'cancelled' then 'Cancelled by an operator; the SQL runner stopped after its current batch'
      end,
      coalesce(v_part -> 'summary', '{}'::jsonb) || jsonb_build_object(
        'batches', (v_part ->> 'batches')::integer,
        'longest_batch_ms', (v_part ->> 'longest_batch_ms')::integer,
        'complete', v_status = 'succeeded',
        'stopped_by', case v_part ->> 'stopped_by' when 'deadline' then 'deadline'
                                                    when 'lease_lost' then 'aborted'
                                                    when 'cancelled' then 'aborted' end));
    commit;
  end loop;
end;
$$;

-- The alert that a night ran without the function: raised once per job and
-- night when the sweep hands the slot to the SQL runner (scheduler_reconcile),
-- and POSTed to the webhook like the other alerts. Returns the alert's id, or
-- null when the night already has one.
create function public.scheduler_alert_sql_fallback(p_job_name text, p_slot date, p_now timestamptz)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id bigint;
  v_attempts integer;
  v_reason text;
  v_runner text;
begin
  select count(distinct d.attempt)::integer into v_attempts from public.scheduler_dispatch d
  where d.job_name = p_job_name and d.slot = p_slot and d.runner = 'function';
  select d.lost_reason into v_reason from public.scheduler_dispatch d
  where d.job_name = p_job_name and d.slot = p_slot and d.outcome = 'lost'
  order by d.created_at desc limit 1;
  select j.sql_runner into v_runner from public.scheduler_nightly_job j where j.job_name = p_job_name;
  insert into public.scheduler_alert (job_name, slot, kind, last_status, last_error, attempts, raised_at)
  values (p_job_name, p_slot, 'sql_fallback', 'lost', left(v_reason, 2000), v_attempts, p_now)
  on conflict (job_name, slot) where kind = 'sql_fallback' do nothing
  returning id into v_id;
  if v_id is not null then
    update public.scheduler_alert
    set notify_request_id = public.scheduler_notify_webhook(format(
      'nightly-scheduler: %s ran WITHOUT THE FUNCTION on the night of %s: all %s attempt(s) were lost '
      '(last: %s), so its SQL runner %s does the night''s work. Check: deno task scheduler doctor '
      '(Vault''s nightly_scheduler_url, the deployed function)',
      p_job_name, p_slot, v_attempts, left(regexp_replace(coalesce(v_reason, 'no reason'), '\s+', ' ', 'g'), 300),
      v_runner))
    where id = v_id;
  end if;
  return v_id;
end;
$$;

revoke all on function public.scheduler_sql_step(uuid, text, text, timestamptz, timestamptz, jsonb, jsonb)
  from public, anon, authenticated, service_role;
revoke all on procedure public.scheduler_run_sql_part(uuid, text, timestamptz, timestamptz, jsonb, jsonb)
  from public, anon, authenticated, service_role;
revoke all on procedure public.scheduler_run_sql_dispatches(integer)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_alert_sql_fallback(text, date, timestamptz)
  from public, anon, authenticated, service_role;

-- Same name = update. On the sweep's cadence (20261128000104): every 10 seconds
-- on pg_cron 1.5+ (hosted), every minute on 1.4 (the local stack). pg_cron never
-- runs one job twice at once, and each dispatch is taken under a row lock
-- (skip locked), so two calls never take the same dispatch.
select cron.schedule(
  'nightly-scheduler-sql-runner',
  case
    when (
      select regexp_match(extversion, '^(\d+)\.(\d+)')::int[]
      from pg_catalog.pg_extension where extname = 'pg_cron'
    ) >= array[1, 5]
      then '10 seconds'
    else '* * * * *'
  end,
  'call public.scheduler_run_sql_dispatches()'
);

-- Pinning a job without a SQL runner to 'sql' says why it cannot be, in words
-- (the check constraint alone would only name itself).
create function public.scheduler_nightly_job_check_runner()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.runner = 'sql' and new.sql_runner is null then
    raise exception 'Job ''%'' has no SQL runner, so it cannot be pinned to runner ''sql''%',
      new.job_name, coalesce(': ' || new.no_sql_runner_reason, '') using errcode = '22023';
  end if;
  return new;
end;
$$;

revoke all on function public.scheduler_nightly_job_check_runner()
  from public, anon, authenticated, service_role;

create trigger scheduler_nightly_job_check_runner
  before insert or update of runner, sql_runner on public.scheduler_nightly_job
  for each row execute function public.scheduler_nightly_job_check_runner();
