-- Every night accounted for, part 3: dispatching and the reconciliation sweep.
-- Every request to the function goes through scheduler_enqueue_dispatch(), which
-- records it before pg_net posts it, with a short pg_net timeout: the function
-- answers as soon as the run is recorded and its lease held, so pg_net's batch
-- (one open transaction on the real worker) ends in well under a second and
-- nothing queues behind a nightly job. scheduler_reconcile() (pg_cron, every
-- 10 seconds, or every minute on pg_cron 1.4; 20261128000104) records dispatches that never became runs as lost, closes dead
-- runs, retries bad attempts with backoff inside the job's window, and starts
-- jobs whose time of night (or predecessor) has come.

-- The instant after which no new attempt of p_job_name's p_slot starts: the
-- job's window_end on the slot's date, or, for a slot first dispatched later
-- than its night (by hand, in the day), as long a window from that dispatch.
create function public.scheduler_slot_window_end(p_job_name text, p_slot date)
returns timestamptz
language sql
stable
set search_path = ''
as $$
  select greatest(
    (p_slot + j.window_end) at time zone 'utc',
    (select min(d.created_at) from public.scheduler_dispatch d where d.slot = p_slot)
      + (j.window_end - coalesce(j.run_at, time '02:00'))
  )
  from public.scheduler_nightly_job j
  where j.job_name = p_job_name;
$$;

-- Records one dispatch of p_job_name for p_slot and posts it through pg_net.
-- The one path that creates dispatch records (cron, retry, continuation).
create function public.scheduler_enqueue_dispatch(
  p_job_name text,
  p_slot date,
  p_kind text,
  p_attempt integer,
  p_previous_execution_id uuid default null,
  p_payload jsonb default '{}'
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
begin
  select decrypted_secret into v_url from vault.decrypted_secrets
  where name = 'nightly_scheduler_url';
  select decrypted_secret into v_secret from vault.decrypted_secrets
  where name = 'nightly_scheduler_secret';
  if v_url is null or v_secret is null then
    raise exception 'nightly-scheduler is not configured: Vault needs the secrets '
      'nightly_scheduler_url and nightly_scheduler_secret';
  end if;
  insert into public.scheduler_dispatch
    (id, job_name, slot, attempt, kind, previous_execution_id, payload)
  values (v_id, p_job_name, p_slot, p_attempt, p_kind, p_previous_execution_id,
    coalesce(p_payload, '{}'));
  -- 10 s covers a cold start and the acknowledgement (p99 well under 100 ms
  -- warm); the run itself goes on after the answer.
  v_request := net.http_post(
    url := v_url,
    body := jsonb_build_object('job_name', p_job_name, 'dispatch_id', v_id,
      'payload', coalesce(p_payload, '{}')),
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'Authorization', 'Bearer ' || v_secret
    ),
    timeout_milliseconds := 10000
  );
  update public.scheduler_dispatch set request_id = v_request where id = v_id;
  return v_id;
end;
$$;

-- Dispatches p_job_name now for p_slot (default: today, UTC) as its next
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
  v_slot date := coalesce(p_slot, (now() at time zone 'utc')::date);
  v_attempt integer;
begin
  select coalesce(max(d.attempt), 0) + 1 into v_attempt
  from public.scheduler_dispatch d where d.job_name = p_job_name and d.slot = v_slot;
  return public.scheduler_enqueue_dispatch(
    p_job_name, v_slot, case when v_attempt = 1 then 'cron' else 'retry' end, v_attempt,
    null, p_payload
  );
end;
$$;

-- What pg_cron runs at 02:00 UTC: the first attempt of every enabled, unpaused
-- job on the 02:00 schedule (no run_at, no run_after) that has none yet for the slot.
create function public.scheduler_dispatch_nightly(p_slot date default null)
returns setof uuid
language sql
security definer
set search_path = ''
as $$
  select public.scheduler_enqueue_dispatch(j.job_name, s.slot, 'cron', 1)
  from public.scheduler_nightly_job j
  cross join (select coalesce(p_slot, (now() at time zone 'utc')::date) as slot) s
  where j.enabled and j.pause_reason is null and j.run_at is null and j.run_after is null
    and not exists (
      select from public.scheduler_dispatch d where d.job_name = j.job_name and d.slot = s.slot
    )
  order by j.job_name;
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
    select j.job_name, j.latest_start from public.scheduler_nightly_job j
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
                  (p_slot + v_job.latest_start) at time zone 'utc',
                  (select min(d.created_at) from public.scheduler_dispatch d where d.slot = p_slot)
                    + (v_job.latest_start - time '02:00'))))
    then
      perform public.scheduler_enqueue_dispatch(v_job.job_name, p_slot, 'cron', 1);
      v_count := v_count + 1;
    end if;
  end loop;
  return v_count;
end;
$$;
