-- Every night accounted for, part 2: the run's life in the database. Starting
-- a run (dispatch check, lease, row) and finishing it (row, lease) are each one
-- function, so one round trip each, and a crash between them can no longer
-- leave a lease without a row. Leases are short and renewed by heartbeats; one
-- function closes a run whose heartbeats stopped. Time comes in from the
-- function's clock (p_now), as before.

-- Closes a run whose lease lapsed (its isolate died, or its final write never
-- arrived) as timed_out, ending at its last heartbeat: the last instant it is
-- known to have been alive, with stop_reason 'worker_lost' (the sweep retries
-- it without the failure backoff: a dead worker is not the job's failure).
-- Frees its lease. The one place this is decided:
-- the lease takeover in scheduler_start_run and the sweep both call it.
create function public.scheduler_close_dead_run(p_execution_id uuid)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_end timestamptz;
begin
  update public.scheduler_execution_log
  set status = 'timed_out',
      stop_reason = 'worker_lost',
      finished_at = greatest(started_at, coalesce(heartbeat_at, started_at)),
      error_message = 'The run stopped renewing its lease before it recorded its end; '
        'the function was probably stopped. finished_at is its last heartbeat'
  where id = p_execution_id and status = 'running'
  returning finished_at into v_end;
  -- A run an operator asked to cancel that then died ends cancelled all the same.
  update public.scheduler_execution_log
  set status = 'cancelled'
  where id = p_execution_id and v_end is not null and cancel_requested_at is not null;
  update public.scheduler_job_lease
  set owner = null, released_at = coalesce(v_end, released_at), expires_at = coalesce(v_end, expires_at)
  where owner = p_execution_id;
  return v_end is not null;
end;
$$;

-- Starts a run in one transaction. The dispatch decides the trigger: a call
-- carrying the id of an unused, recent dispatch of this job is that dispatch's
-- kind (cron, retry, continuation, replay, catch_up); a used one is a duplicate
-- delivery; no or an unknown id is manual. Then, under the job's lease row
-- lock: a lapsed lease closes its dead run; a slot that already has a live or
-- successful run makes this a duplicate (a replay asks for the slot again, so
-- only runs since the slot's latest replay count); a live lease makes it skipped; otherwise the lease is taken
-- and the row written as running, started no earlier than the last run ended.
-- p_unknown_job_message records a failed run without a lease (no handler).
-- p_runner: who calls, the function or the sweep's SQL runner (issue 16); a
-- dispatch meant for the other runner is not run (and stays for its own),
-- so a replayed id cannot make the function take the SQL runner's slot.
-- status: running | skipped | duplicate | failed | refused (manual not allowed; nothing written).
create function public.scheduler_start_run(
  p_execution_id uuid,
  p_job_name text,
  p_dispatch_id uuid,
  p_now timestamptz,
  p_lease_ttl_ms integer,
  p_allow_manual boolean,
  p_unknown_job_message text default null,
  p_runner text default 'function'
) returns table (
  status text,
  trigger text,
  slot date,
  attempt integer,
  started_at timestamptz,
  held_by uuid,
  budget_ms integer
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_dispatch public.scheduler_dispatch%rowtype;
  v_trigger text := 'manual';
  v_lease public.scheduler_job_lease%rowtype;
  v_started timestamptz := p_now;
  v_status text;
  v_message text;
  v_budget integer;
begin
  if p_lease_ttl_ms is null or p_lease_ttl_ms not between 1000 and 3600000 then
    raise exception 'p_lease_ttl_ms must be from 1000 to 3600000, got %', p_lease_ttl_ms
      using errcode = '22023';
  end if;
  if p_dispatch_id is not null then
    select * into v_dispatch from public.scheduler_dispatch d
    where d.id = p_dispatch_id and d.job_name = p_job_name
      and d.created_at > p_now - interval '1 hour'
    for update;
    if found then
      v_trigger := v_dispatch.kind;
    end if;
  end if;
  if v_trigger = 'manual' and not p_allow_manual then
    return query select 'refused', v_trigger, null::date, null::integer, p_now, null::uuid, null::integer;
    return;
  end if;

  if v_dispatch.id is not null and v_dispatch.runner <> p_runner then
    v_status := 'duplicate';
    v_message := format('Dispatch ''%s'' is for the %s runner; this delivery by the %s did not run the job',
      v_dispatch.id, v_dispatch.runner, p_runner);
  elsif v_dispatch.id is not null and v_dispatch.outcome is not null then
    v_status := 'duplicate';
    v_message := format('Dispatch ''%s'' was already %s; this delivery did not run the job',
      v_dispatch.id, case v_dispatch.outcome when 'lost' then 'recorded lost' else 'used' end);
  elsif p_unknown_job_message is not null then
    v_status := 'failed';
    v_message := p_unknown_job_message;
  else
    -- The lease row is the job's mutex: starts of one job queue here.
    insert into public.scheduler_job_lease as l (job_name, owner, acquired_at, expires_at)
    values (p_job_name, null, p_now, p_now)
    on conflict (job_name) do nothing;
    select * into v_lease from public.scheduler_job_lease l where l.job_name = p_job_name for update;
    if v_lease.owner is not null and v_lease.expires_at <= p_now then
      perform public.scheduler_close_dead_run(v_lease.owner);
      select * into v_lease from public.scheduler_job_lease l where l.job_name = p_job_name;
    end if;
    if v_dispatch.id is not null and exists (
      select from public.scheduler_execution_log x
      where x.job_name = p_job_name and x.slot = v_dispatch.slot
        and x.status in ('running', 'succeeded')
        and x.started_at >= coalesce((
          select max(r.created_at) from public.scheduler_dispatch r
          where r.job_name = p_job_name and r.slot = v_dispatch.slot and r.kind = 'replay'
            and r.created_at <= v_dispatch.created_at), '-infinity')
    ) then
      v_status := 'duplicate';
      v_message := format('Slot %s of job ''%s'' already has a running or successful run',
        v_dispatch.slot, p_job_name);
    elsif v_lease.owner is not null then
      v_status := 'skipped';
      v_message := format('Job ''%s'' is already running as execution ''%s''', p_job_name, v_lease.owner);
    else
      v_status := 'running';
      v_started := greatest(p_now, v_lease.released_at);
      update public.scheduler_job_lease l
      set owner = p_execution_id, acquired_at = v_started,
          expires_at = v_started + make_interval(secs => p_lease_ttl_ms / 1000.0)
      where l.job_name = p_job_name;
    end if;
  end if;

  insert into public.scheduler_execution_log as x (
    id, job_name, trigger, status, started_at, finished_at, error_message,
    dispatch_id, slot, attempt, previous_execution_id, heartbeat_at, runner, runner_reason
  ) values (
    p_execution_id, p_job_name, v_trigger, v_status, v_started,
    case when v_status = 'running' then null else v_started end, v_message,
    v_dispatch.id, v_dispatch.slot, v_dispatch.attempt, v_dispatch.previous_execution_id,
    case when v_status = 'running' then v_started end, p_runner, v_dispatch.runner_reason
  );
  if v_dispatch.id is not null and v_dispatch.outcome is null and v_dispatch.runner = p_runner then
    update public.scheduler_dispatch d
    set execution_id = p_execution_id, outcome = 'delivered'
    where d.id = v_dispatch.id;
  end if;
  select j.budget_ms into v_budget from public.scheduler_nightly_job j where j.job_name = p_job_name;
  return query select v_status, v_trigger, v_dispatch.slot, v_dispatch.attempt, v_started,
    v_lease.owner, v_budget;
end;
$$;

-- Renews a running run's lease for p_lease_ttl_ms from p_now and notes the
-- heartbeat on its row. 'held', 'cancel_requested' (held, and an operator asked
-- the run to stop: scheduler_cancel) or 'lost' (no longer the run's lease).
create function public.scheduler_heartbeat(
  p_execution_id uuid,
  p_job_name text,
  p_now timestamptz,
  p_lease_ttl_ms integer
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_cancel timestamptz;
begin
  update public.scheduler_job_lease
  set expires_at = p_now + make_interval(secs => p_lease_ttl_ms / 1000.0)
  where job_name = p_job_name and owner = p_execution_id and expires_at > p_now;
  if not found then
    return 'lost';
  end if;
  update public.scheduler_execution_log
  set heartbeat_at = p_now
  where id = p_execution_id and status = 'running'
  returning cancel_requested_at into v_cancel;
  return case when v_cancel is null then 'held' else 'cancel_requested' end;
end;
$$;

-- Ends a run in one transaction: the final row, the lease released (marked
-- with the run's end), and, once the slot's attempts have ended, the first
-- dispatch of every job that runs after this one. Idempotent, so a retried call
-- whose first try committed changes nothing. p_keep_lease: the handler ignored
-- its signal and still runs, so the lease stays (heartbeats go on) until a
-- later call without it, made when the handler stops. p_cost: what the run
-- cost its worker, {"cpu_ms", "peak_rss_mb", "stop_reason"} (each may be
-- null; stop_reason when the Edge Runtime stopped or was stopping the worker).
create function public.scheduler_finish_run(
  p_execution_id uuid,
  p_job_name text,
  p_status text,
  p_finished_at timestamptz,
  p_error_message text,
  p_summary jsonb,
  p_keep_lease boolean default false,
  p_cost jsonb default null
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_slot date;
begin
  if p_status not in ('succeeded', 'partial', 'failed', 'timed_out', 'cancelled') then
    raise exception 'A run cannot finish as ''%''', p_status using errcode = '22023';
  end if;
  update public.scheduler_execution_log x
  set status = p_status,
      finished_at = greatest(p_finished_at, x.started_at),
      error_message = p_error_message,
      summary = p_summary,
      cpu_ms = (p_cost ->> 'cpu_ms')::integer,
      peak_rss_mb = (p_cost ->> 'peak_rss_mb')::integer,
      stop_reason = p_cost ->> 'stop_reason'
  where x.id = p_execution_id and x.job_name = p_job_name and x.status = 'running'
  returning x.slot into v_slot;
  if not p_keep_lease then
    update public.scheduler_job_lease
    set owner = null, released_at = p_finished_at, expires_at = p_finished_at
    where job_name = p_job_name and owner = p_execution_id;
  end if;
  -- (issue 10) A part that ran out of time hands over to the next one (the lease is free
  -- now; pg_net posts the dispatch when this transaction commits).
  if v_slot is not null and p_status = 'partial' then
    perform public.scheduler_continue(p_execution_id, p_job_name, v_slot, p_finished_at);
  end if;
  if v_slot is not null then
    perform public.scheduler_dispatch_dependents(p_job_name, v_slot, p_finished_at);
  end if;
end;
$$;
