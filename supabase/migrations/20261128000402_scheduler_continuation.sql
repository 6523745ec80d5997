-- Continuation (issue 10): a run that stops between batches because its
-- budget ran out, with work left and no error, ends as 'partial' and at once
-- dispatches the next part of the same slot through scheduler_enqueue_dispatch
-- (kind 'continuation', the same attempt number, previous_execution_id = the
-- part before), like a retry. Parts go on until the work is done, the job's
-- window ends or its max_parts is reached; the lease keeps parts from
-- overlapping (the next part starts only once this transaction has freed it).
-- Replaces scheduler_finish_run (accepts 'partial', continues; from
-- 20261128000103) and scheduler_reconcile (does not retry a partial part; from
-- 20261128000105); each differs from its original only where marked.

alter table public.scheduler_execution_log
  drop constraint scheduler_execution_log_status_check,
  add constraint scheduler_execution_log_status_check
    check (status in ('running', 'succeeded', 'partial', 'failed', 'skipped', 'timed_out', 'lost',
                      'duplicate'));

-- 100 parts of 150 s cover the 02:00-06:00 window: a 1M-row first load drains in one night.
alter table public.scheduler_nightly_job
  add column max_parts integer not null default 100 check (max_parts between 1 and 1000);

comment on column public.scheduler_nightly_job.max_parts is
  'Parts (runs ending partial, each followed by the next) one nightly slot may take.';

-- Dispatches the part after p_execution_id (just recorded partial) for
-- p_slot, unless the job's window has ended, its max_parts is reached, or it
-- was switched off or paused meanwhile. Returns the dispatch id, or null.
create function public.scheduler_continue(
  p_execution_id uuid,
  p_job_name text,
  p_slot date,
  p_now timestamptz
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job public.scheduler_nightly_job%rowtype;
  v_parts integer;
  v_attempt integer;
  v_payload jsonb;
begin
  select * into v_job from public.scheduler_nightly_job j where j.job_name = p_job_name;
  if not found or not v_job.enabled or v_job.pause_reason is not null
     or p_now >= public.scheduler_slot_window_end(p_job_name, p_slot) then
    return null;
  end if;
  -- Serialises with the sweep and dependants deciding for the same slot.
  perform pg_advisory_xact_lock(hashtext('scheduler_dispatch:' || p_job_name || ':' || p_slot));
  select count(*) into v_parts from public.scheduler_execution_log x
  where x.job_name = p_job_name and x.slot = p_slot and x.status = 'partial';
  if v_parts >= v_job.max_parts then
    return null;
  end if;
  -- The next part gets the payload the slot's dispatches carry.
  select x.attempt, coalesce(d.payload, '{}') into v_attempt, v_payload
  from public.scheduler_execution_log x
  left join public.scheduler_dispatch d on d.id = x.dispatch_id
  where x.id = p_execution_id;
  return public.scheduler_enqueue_dispatch(
    p_job_name, p_slot, 'continuation', v_attempt, p_execution_id, v_payload
  );
end;
$$;

create or replace function public.scheduler_finish_run(
  p_execution_id uuid,
  p_job_name text,
  p_status text,
  p_finished_at timestamptz,
  p_error_message text,
  p_summary jsonb,
  p_keep_lease boolean default false
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_slot date;
begin
  if p_status not in ('succeeded', 'partial', 'failed', 'timed_out') then
    raise exception 'A run cannot finish as ''%''', p_status using errcode = '22023';
  end if;
  update public.scheduler_execution_log x
  set status = p_status,
      finished_at = greatest(p_finished_at, x.started_at),
      error_message = p_error_message,
      summary = p_summary
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

create or replace function public.scheduler_reconcile(
  p_now timestamptz default now(),
  p_lost_after interval default interval '2 minutes'
) returns table (closed integer, lost integer, retried integer, started integer)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_today date := (p_now at time zone 'utc')::date;
  v_closed integer := 0;
  v_lost integer := 0;
  v_retried integer := 0;
  v_started integer := 0;
  v_row record;
  v_response record;
  v_reason text;
  v_lost_id uuid;
  v_end timestamptz;
begin
  -- One sweep at a time; a second caller finds the work being done.
  if not pg_try_advisory_xact_lock(hashtext('scheduler_reconcile')) then
    return query select 0, 0, 0, 0;
    return;
  end if;

  -- 1. Runs whose lease lapsed or is gone: their isolate died.
  for v_row in
    select x.id from public.scheduler_execution_log x
    where x.status = 'running'
      and not exists (select from public.scheduler_job_lease l
                      where l.owner = x.id and l.expires_at > p_now)
  loop
    if public.scheduler_close_dead_run(v_row.id) then
      v_closed := v_closed + 1;
    end if;
  end loop;

  -- 2. Dispatches the function never took: answered non-2xx, timed out, or silent.
  for v_row in
    select d.* from public.scheduler_dispatch d
    where d.outcome is null and d.created_at <= p_now
    order by d.created_at
    for update skip locked
  loop
    v_reason := null;
    select r.status_code, r.timed_out, r.error_msg, r.created into v_response
    from net._http_response r where r.id = v_row.request_id;
    if found then
      if v_response.timed_out then
        v_reason := 'pg_net timed out before the function acknowledged the dispatch';
      elsif v_response.status_code is null then
        v_reason := format('pg_net could not deliver the dispatch: %s',
          coalesce(v_response.error_msg, 'no status'));
      elsif v_response.status_code not between 200 and 299 then
        v_reason := format('The function URL answered HTTP %s', v_response.status_code);
      elsif v_row.created_at < p_now - p_lost_after then
        v_reason := format('The function answered HTTP %s but recorded no run',
          v_response.status_code);
      end if;
    elsif v_row.created_at < p_now - p_lost_after then
      v_reason := format('No answer from pg_net within %s', p_lost_after);
    end if;
    continue when v_reason is null;
    v_lost_id := gen_random_uuid();
    insert into public.scheduler_execution_log (
      id, job_name, trigger, status, started_at, finished_at, error_message,
      dispatch_id, slot, attempt, previous_execution_id
    ) values (
      v_lost_id, v_row.job_name, v_row.kind, 'lost', v_row.created_at,
      greatest(v_row.created_at, coalesce(v_response.created, p_now)), v_reason,
      v_row.id, v_row.slot, v_row.attempt, v_row.previous_execution_id
    );
    update public.scheduler_dispatch
    set outcome = 'lost', lost_reason = v_reason, execution_id = v_lost_id
    where id = v_row.id;
    v_lost := v_lost + 1;
  end loop;

  -- 3. Retries: the latest attempt of a recent slot ended without success,
  -- attempts and window remain, and its backoff has passed.
  for v_row in
    select distinct on (d.job_name, d.slot) d.*, j.max_attempts, j.retry_backoff_ms
    from public.scheduler_dispatch d
    join public.scheduler_nightly_job j on j.job_name = d.job_name
    where d.slot >= v_today - 1 and j.enabled and j.pause_reason is null
    order by d.job_name, d.slot, d.attempt desc, d.created_at desc
  loop
    continue when v_row.outcome is null or v_row.attempt >= v_row.max_attempts;
    continue when exists (
      select from public.scheduler_execution_log x
      where x.job_name = v_row.job_name and x.slot = v_row.slot
        and x.status in ('running', 'succeeded')
    );
    -- (issue 10) A part that ended partial was followed by its continuation,
    -- or stopped at the window or the part cap: not a failure to retry.
    continue when exists (
      select from public.scheduler_execution_log x
      where x.id = v_row.execution_id and x.status = 'partial'
    );
    select x.finished_at into v_end from public.scheduler_execution_log x
    where x.id = v_row.execution_id;
    continue when p_now < coalesce(v_end, v_row.created_at)
      + make_interval(secs => v_row.retry_backoff_ms / 1000.0 * 2 ^ (v_row.attempt - 1));
    continue when p_now >= public.scheduler_slot_window_end(v_row.job_name, v_row.slot);
    perform public.scheduler_enqueue_dispatch(
      v_row.job_name, v_row.slot, 'retry', v_row.attempt + 1, v_row.execution_id, v_row.payload
    );
    v_retried := v_retried + 1;
  end loop;

  -- 4. First attempts: jobs with their own time of night, and jobs waiting for
  -- a predecessor that is done with the slot (or past their latest start).
  for v_row in
    select j.job_name from public.scheduler_nightly_job j
    where j.enabled and j.pause_reason is null and j.run_at is not null
      and p_now >= (v_today + j.run_at) at time zone 'utc'
      and p_now < public.scheduler_slot_window_end(j.job_name, v_today)
      and not exists (select from public.scheduler_dispatch d
                      where d.job_name = j.job_name and d.slot = v_today)
  loop
    perform public.scheduler_enqueue_dispatch(v_row.job_name, v_today, 'cron', 1);
    v_started := v_started + 1;
  end loop;
  for v_row in
    select distinct d.job_name, d.slot from public.scheduler_dispatch d
    where d.slot >= v_today - 1
      and exists (select from public.scheduler_nightly_job j where j.run_after = d.job_name)
  loop
    v_started := v_started + public.scheduler_dispatch_dependents(v_row.job_name, v_row.slot, p_now);
  end loop;

  return query select v_closed, v_lost, v_retried, v_started;
end;
$$;


-- One row per job and night: its parts as one run. outcome is the last part's
-- status; parts counts the runs that did work (partial, succeeded, failed,
-- timed_out), retries included; attempts the distinct attempts.
create view public.scheduler_night
with (security_invoker = true) as
select x.job_name,
       x.slot,
       count(*) filter (where x.status in ('partial', 'succeeded', 'failed', 'timed_out'))::integer
         as parts,
       count(distinct x.attempt)::integer as attempts,
       (array_agg(x.status order by x.started_at desc, x.finished_at desc nulls first)
         filter (where x.status not in ('skipped', 'duplicate')))[1] as outcome,
       min(x.started_at) as started_at,
       max(x.finished_at) as finished_at
from public.scheduler_execution_log x
where x.slot is not null
group by x.job_name, x.slot;

comment on view public.scheduler_night is
  'Each job''s night as one run: its parts and attempts, and how the last part ended.';

revoke all on public.scheduler_night from public, anon, authenticated;
grant select on public.scheduler_night to service_role;
revoke all on function public.scheduler_continue(uuid, text, date, timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_finish_run(uuid, text, text, timestamptz, text, jsonb, boolean)
  from public, anon, authenticated;
grant execute on function public.scheduler_finish_run(uuid, text, text, timestamptz, text, jsonb, boolean)
  to service_role;
revoke all on function public.scheduler_reconcile(timestamptz, interval)
  from public, anon, authenticated, service_role;
