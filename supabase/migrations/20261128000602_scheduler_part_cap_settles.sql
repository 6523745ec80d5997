-- A night stopped at its part cap ends as it is. scheduler_continue (issue 10,
-- 20261128000402) dispatches no next part once a slot has max_parts partial
-- parts, but scheduler_reconcile (20261128000104) saw the slot's last dispatch
-- delivered, no success and attempts left, and retried it as if it had failed:
-- up to max_attempts - 1 more attempts, each with up to max_parts parts. And
-- scheduler_slot_settled said such a slot was not settled until its window
-- closed, so its alert (and any job running after it) waited for the window.
-- Now a slot whose last part ended partial with nothing after it (stopped by
-- the part cap, or by its window or a pause before that) is settled: the sweep
-- does not retry it, dependants may start, and the alert check reports it.
-- scheduler_reconcile is 20261128000104's with one line added (marked).

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

create or replace function public.scheduler_slot_settled(p_job_name text, p_slot date, p_now timestamptz)
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
    -- (new) stopped partial: no part and no retry follows.
    when public.scheduler_slot_ended_partial(p_job_name, p_slot) then true
    else (select max(d.attempt) from public.scheduler_dispatch d
          where d.job_name = p_job_name and d.slot = p_slot)
           >= (select j.max_attempts from public.scheduler_nightly_job j where j.job_name = p_job_name)
      or p_now >= public.scheduler_slot_window_end(p_job_name, p_slot)
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
      greatest(v_row.created_at,
        coalesce(v_response.created, least(p_now, v_row.created_at + p_lost_after))), v_reason,
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
    -- (new) the last part ended partial: stopped at its part cap, not failed.
    continue when public.scheduler_slot_ended_partial(v_row.job_name, v_row.slot);
    continue when exists (
      select from public.scheduler_execution_log x
      where x.job_name = v_row.job_name and x.slot = v_row.slot
        and x.status in ('running', 'succeeded')
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


revoke all on function public.scheduler_slot_ended_partial(text, date)
  from public, anon, authenticated, service_role;
