-- Every night accounted for, part 3: dispatching and the reconciliation sweep.
-- Every request to the function goes through scheduler_enqueue_dispatch(), which
-- records it before pg_net posts it, with a short pg_net timeout: the function
-- answers as soon as the run is recorded and its lease held, so pg_net's batch
-- (one open transaction on the real worker) ends in well under a second and
-- nothing queues behind a nightly job. scheduler_reconcile() (pg_cron, every
-- 10 seconds, or every minute on pg_cron 1.4; 20261128000104) records dispatches that never became runs as lost, closes dead
-- runs, retries bad attempts with backoff inside the job's window, and starts
-- jobs whose time of night (or predecessor) has come.

-- The instant local time p_time on local date p_date is in zone p_zone. A
-- time the spring-forward gap skips (02:30 on Oslo's last Sunday of March) is
-- the first minute after it that exists (03:00 local); a time the fall-back
-- night has twice (02:30 on Oslo's last Sunday of October) is its first
-- occurrence (summer time). So every local date has exactly one instant, and a
-- slot keyed by date runs once.
create function public.scheduler_local_instant(p_date date, p_time time, p_zone text)
returns timestamptz
language plpgsql
stable
set search_path = ''
as $$
declare
  v_local timestamp := p_date + p_time;
  v_try timestamp;
begin
  -- Gaps are at most an hour or two; three hours bounds the search.
  for v_minute in 0..180 loop
    v_try := v_local + pg_catalog.make_interval(mins => v_minute);
    if (v_try at time zone p_zone) at time zone p_zone = v_try then
      -- PostgreSQL reads a repeated time as the later one; an hour earlier is the first.
      if ((v_try at time zone p_zone) - interval '1 hour') at time zone p_zone = v_try then
        return (v_try at time zone p_zone) - interval '1 hour';
      end if;
      return v_try at time zone p_zone;
    end if;
  end loop;
  return v_local at time zone p_zone;
end;
$$;

-- When p_job_name's first attempt of p_slot is due: its run_at (02:00 when it
-- has none) on the slot's local date in its time zone.
create function public.scheduler_slot_due_at(p_job_name text, p_slot date)
returns timestamptz
language sql
stable
set search_path = ''
as $$
  select public.scheduler_local_instant(p_slot, coalesce(j.run_at, time '02:00'), j.time_zone)
  from public.scheduler_nightly_job j where j.job_name = p_job_name;
$$;

-- When p_slot's night began for p_job_name: the slot's first dispatch made by
-- the schedule (the sweep, pg_cron's 02:00 job, scheduler_dispatch_nightly()
-- for a given date, a catch-up), or of the job itself or a job it runs after.
-- Never another job's dispatch by hand (scheduler_dispatch(), a replay): one
-- manual heartbeat in the afternoon does not open the night's 03:30 job then.
-- Null when none.
create function public.scheduler_slot_night_start(p_job_name text, p_slot date)
returns timestamptz
language sql
stable
set search_path = ''
as $$
  with recursive chain(job_name, depth) as (
    select p_job_name, 0
    union all
    select j.run_after, c.depth + 1
    from chain c join public.scheduler_nightly_job j on j.job_name = c.job_name
    where j.run_after is not null and c.depth < 20
  )
  select min(d.created_at) from public.scheduler_dispatch d
  where d.slot = p_slot
    and ((not d.by_hand and d.kind <> 'replay')
         or d.job_name in (select c.job_name from chain c));
$$;

-- The instant after which no new attempt of p_job_name's p_slot starts: the
-- job's window_end on the slot's date, or, for a night that began later than
-- its time (dispatched by hand, in the day), as long a window from then.
create function public.scheduler_slot_window_end(p_job_name text, p_slot date)
returns timestamptz
language sql
stable
set search_path = ''
as $$
  select greatest(
    public.scheduler_local_instant(p_slot, j.window_end, j.time_zone),
    public.scheduler_slot_night_start(p_job_name, p_slot)
      + (j.window_end - coalesce(j.run_at, time '02:00'))
  )
  from public.scheduler_nightly_job j
  where j.job_name = p_job_name;
$$;

-- pg_net's timeout for a dispatch: a dispatch it timed out on was lost at its
-- batch's start plus this.
create function public.scheduler_dispatch_timeout_ms()
returns integer
language sql
immutable
set search_path = ''
as $$
  select 10000;
$$;

-- Records a dispatch that will never become a run as lost: a `lost` row in the
-- execution log, ending at p_end, with p_reason, which the dispatch keeps too.
-- The sweep calls it for dispatches the function never took; dispatching calls
-- it at once when pg_net refuses the URL. Returns the lost row's id.
create function public.scheduler_record_lost_dispatch(
  p_dispatch_id uuid,
  p_reason text,
  p_end timestamptz
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_lost_id uuid := gen_random_uuid();
begin
  insert into public.scheduler_execution_log (
    id, job_name, trigger, status, started_at, finished_at, error_message,
    dispatch_id, slot, attempt, previous_execution_id, runner, runner_reason
  )
  select v_lost_id, d.job_name, d.kind, 'lost', d.created_at,
         greatest(d.created_at, p_end), p_reason,
         d.id, d.slot, d.attempt, d.previous_execution_id, d.runner, d.runner_reason
  from public.scheduler_dispatch d where d.id = p_dispatch_id;
  update public.scheduler_dispatch
  set outcome = 'lost', lost_reason = p_reason, execution_id = v_lost_id
  where id = p_dispatch_id;
  return v_lost_id;
end;
$$;

-- Records one dispatch of p_job_name for p_slot and posts it through pg_net.
-- The one path that creates dispatch records (cron, retry, continuation,
-- replay, catch_up, fallback); a replay carries who asked for it and why. A
-- dispatch for the job's SQL runner (issue 16: the job is pinned to it, the
-- dispatch is the fallback of a slot whose attempts were all lost, or it
-- continues a part the SQL runner ran) is recorded only: the SQL runner's
-- pg_cron job takes it (20261202000200), so it needs neither pg_net nor Vault.
-- A function URL in Vault that pg_net cannot use never raises here: the real
-- pg_net raises inside this transaction on a malformed URL (0.20.0: "Out of
-- memory"; 0.20.4: "invalid URL ..."), which would roll back the dispatch
-- record and leave the night unrecorded and unalerted; instead the dispatch is
-- recorded lost at once with the reason, and the sweep (its fallback too), the
-- alerts and doctor take it from there.
create function public.scheduler_enqueue_dispatch(
  p_job_name text,
  p_slot date,
  p_kind text,
  p_attempt integer,
  p_previous_execution_id uuid default null,
  p_payload jsonb default '{}',
  p_requested_by text default null,
  p_reason text default null
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid := gen_random_uuid();
  v_url text;
  v_secret text;
  v_request bigint;
  v_runner text := 'function';
  v_reason text;
begin
  if p_kind = 'fallback' then
    v_runner := 'sql';
    v_reason := format('Fallback: every attempt of the night was lost, so the function never ran it '
      '(last: %s)', (select d.lost_reason from public.scheduler_dispatch d
                     where d.job_name = p_job_name and d.slot = p_slot and d.outcome = 'lost'
                     order by d.created_at desc limit 1));
  elsif exists (select from public.scheduler_nightly_job j
                where j.job_name = p_job_name and j.runner = 'sql') then
    v_runner := 'sql';
    v_reason := 'Pinned: scheduler_nightly_job.runner is ''sql''';
  elsif p_kind = 'continuation' then
    -- The next part goes to the runner that ran the part before.
    select x.runner, x.runner_reason into v_runner, v_reason
    from public.scheduler_execution_log x where x.id = p_previous_execution_id;
    v_runner := coalesce(v_runner, 'function');
  end if;
  insert into public.scheduler_dispatch
    (id, job_name, slot, attempt, kind, previous_execution_id, payload, requested_by, reason,
     runner, runner_reason)
  values (v_id, p_job_name, p_slot, p_attempt, p_kind, p_previous_execution_id,
    coalesce(p_payload, '{}'), p_requested_by, p_reason, v_runner, v_reason);
  if v_runner = 'sql' then
    return v_id;
  end if;
  select decrypted_secret into v_url from vault.decrypted_secrets
  where name = 'nightly_scheduler_url';
  select decrypted_secret into v_secret from vault.decrypted_secrets
  where name = 'nightly_scheduler_secret';
  if v_url is null or v_secret is null then
    raise exception 'nightly-scheduler is not configured: Vault needs the secrets '
      'nightly_scheduler_url and nightly_scheduler_secret';
  end if;
  -- The timeout covers a cold start and the acknowledgement (p99 well under
  -- 100 ms warm); the run itself goes on after the answer.
  begin
    v_request := net.http_post(
      url := v_url,
      body := jsonb_build_object('job_name', p_job_name, 'dispatch_id', v_id,
        'payload', coalesce(p_payload, '{}')),
      headers := jsonb_build_object(
        'Content-Type', 'application/json',
        'Authorization', 'Bearer ' || v_secret
      ),
      timeout_milliseconds := public.scheduler_dispatch_timeout_ms()
    );
  exception when others then
    perform public.scheduler_record_lost_dispatch(v_id,
      format('The function URL in Vault is not a valid URL: %s', left(sqlerrm, 300)), now());
    return v_id;
  end;
  update public.scheduler_dispatch set request_id = v_request where id = v_id;
  return v_id;
end;
$$;

-- Dispatches p_job_name now for p_slot (default: today in its time zone) as its next
-- attempt, with p_payload for the job: what an operator or a test calls.
-- Returns the dispatch id.
create function public.scheduler_dispatch(
  p_job_name text,
  p_slot date default null,
  p_payload jsonb default '{}'
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_slot date := coalesce(p_slot, (select (now() at time zone j.time_zone)::date
    from public.scheduler_nightly_job j where j.job_name = p_job_name),
    (now() at time zone 'utc')::date);
  v_attempt integer;
  v_id uuid;
begin
  select coalesce(max(d.attempt), 0) + 1 into v_attempt
  from public.scheduler_dispatch d where d.job_name = p_job_name and d.slot = v_slot;
  v_id := public.scheduler_enqueue_dispatch(
    p_job_name, v_slot, case when v_attempt = 1 then 'cron' else 'retry' end, v_attempt,
    null, p_payload
  );
  -- By hand for this job alone: the rest of the night's windows stay as they are.
  update public.scheduler_dispatch set by_hand = true where id = v_id;
  return v_id;
end;
$$;

-- The first attempts due at p_now: every enabled, unpaused job with its own
-- time of night (run_at, or 02:00; not one that runs after another) whose slot
-- has come in its time zone, whose window is open and which has no dispatch
-- for the slot yet. The slot is the local date; yesterday's is looked at too,
-- for a window that runs past local midnight. What the sweep (and the 02:00
-- pg_cron job) calls: the sweep decides what is due, so one pg_cron entry
-- drives jobs in every time zone.
create function public.scheduler_dispatch_due(p_now timestamptz)
returns setof uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job record;
  v_slot date;
begin
  for v_job in
    select j.job_name, j.time_zone from public.scheduler_nightly_job j
    where j.enabled and j.pause_reason is null and j.run_after is null
    order by j.job_name
  loop
    foreach v_slot in array array[(p_now at time zone v_job.time_zone)::date - 1,
                                  (p_now at time zone v_job.time_zone)::date]
    loop
      continue when p_now < public.scheduler_slot_due_at(v_job.job_name, v_slot)
        or p_now >= public.scheduler_slot_window_end(v_job.job_name, v_slot);
      -- Serialises with the sweep, the 02:00 job and dependants deciding for the same slot.
      perform pg_advisory_xact_lock(hashtext('scheduler_dispatch:' || v_job.job_name || ':' || v_slot));
      continue when exists (select from public.scheduler_dispatch d
                            where d.job_name = v_job.job_name and d.slot = v_slot);
      return next public.scheduler_enqueue_dispatch(v_job.job_name, v_slot, 'cron', 1);
    end loop;
  end loop;
end;
$$;

-- What pg_cron runs at 02:00 UTC: the first attempts due now (as the sweep
-- does; for a UTC job at 02:00 this is on the minute). Given p_slot (tests,
-- scripts/run_nightly.ts), the first attempt of every enabled, unpaused job on
-- the 02:00 schedule (no run_at, no run_after) with none yet for that slot.
create function public.scheduler_dispatch_nightly(p_slot date default null)
returns setof uuid
language sql
security definer
set search_path = ''
as $$
  select public.scheduler_dispatch_due(now()) where p_slot is null
  union all
  (select public.scheduler_enqueue_dispatch(j.job_name, p_slot, 'cron', 1)
  from public.scheduler_nightly_job j
  where p_slot is not null
    and j.enabled and j.pause_reason is null and j.run_at is null and j.run_after is null
    and not exists (
      select from public.scheduler_dispatch d where d.job_name = j.job_name and d.slot = p_slot
    )
  order by j.job_name);
$$;

-- Whether p_slot's last dispatch ran and ended partial with no part after it.
-- (Its dispatch is the one the sweep would retry: latest attempt, latest created.)
create function public.scheduler_slot_ended_partial(p_job_name text, p_slot date)
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce((
    select x.status = 'partial'
    from public.scheduler_dispatch d
    join public.scheduler_execution_log x on x.id = d.execution_id
    where d.job_name = p_job_name and d.slot = p_slot
    order by d.attempt desc, d.created_at desc
    limit 1
  ), false);
$$;

-- Whether p_job_name is done with p_slot: it succeeded, or no further attempt
-- will come (none running or pending, and attempts or window used up). A job
-- due to run that has not been dispatched for the slot is not done.
create function public.scheduler_slot_settled(p_job_name text, p_slot date, p_now timestamptz)
returns boolean
language sql
stable
set search_path = ''
as $$
  select case
    when exists (select from public.scheduler_execution_log x
                 where x.job_name = p_job_name and x.slot = p_slot and x.status = 'succeeded')
      then true
    when exists (select from public.scheduler_execution_log x
                 where x.job_name = p_job_name and x.slot = p_slot and x.status = 'running')
      or exists (select from public.scheduler_dispatch d
                 where d.job_name = p_job_name and d.slot = p_slot and d.outcome is null)
      then false
    when not exists (select from public.scheduler_dispatch d
                     where d.job_name = p_job_name and d.slot = p_slot)
      then not coalesce((select j.enabled and j.pause_reason is null
                         from public.scheduler_nightly_job j where j.job_name = p_job_name), false)
    -- An operator cancelled its last run: nothing follows it.
    when (select x.status from public.scheduler_execution_log x
          where x.job_name = p_job_name and x.slot = p_slot
            and x.status not in ('skipped', 'duplicate')
          order by x.started_at desc limit 1) = 'cancelled'
      then true
    -- Its last part ended partial (part cap, window or pause): no part and no retry follows.
    when public.scheduler_slot_ended_partial(p_job_name, p_slot) then true
    else (select max(d.attempt) from public.scheduler_dispatch d
          where d.job_name = p_job_name and d.slot = p_slot)
           >= (select j.max_attempts from public.scheduler_nightly_job j where j.job_name = p_job_name)
      or p_now >= public.scheduler_slot_window_end(p_job_name, p_slot)
  end;
$$;

-- First dispatch of each job that runs after p_job_name in p_slot, once
-- p_job_name is done with the slot or the dependant's latest start has come.
create function public.scheduler_dispatch_dependents(p_job_name text, p_slot date, p_now timestamptz)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job record;
  v_count integer := 0;
begin
  for v_job in
    select j.job_name, j.latest_start, j.time_zone from public.scheduler_nightly_job j
    where j.run_after = p_job_name and j.enabled and j.pause_reason is null
    order by j.job_name
  loop
    -- Serialises the finishing run and the sweep deciding for the same slot.
    perform pg_advisory_xact_lock(hashtext('scheduler_dispatch:' || v_job.job_name || ':' || p_slot));
    if not exists (select from public.scheduler_dispatch d
                   where d.job_name = v_job.job_name and d.slot = p_slot)
       and p_now < public.scheduler_slot_window_end(v_job.job_name, p_slot)
       and (public.scheduler_slot_settled(p_job_name, p_slot, p_now)
            or (v_job.latest_start is not null and p_now >= greatest(
                  public.scheduler_local_instant(p_slot, v_job.latest_start, v_job.time_zone),
                  public.scheduler_slot_night_start(v_job.job_name, p_slot)
                    + (v_job.latest_start - time '02:00'))))
    then
      perform public.scheduler_enqueue_dispatch(v_job.job_name, p_slot, 'cron', 1);
      v_count := v_count + 1;
    end if;
  end loop;
  return v_count;
end;
$$;
