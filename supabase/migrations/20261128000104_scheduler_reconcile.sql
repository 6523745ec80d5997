-- Every night accounted for, part 4: the reconciliation sweep and the grants.
-- scheduler_reconcile() runs every five minutes (well inside pg_net's 6 h
-- response TTL). It matches dispatches with runs and pg_net's responses, so a
-- request that never became a run is recorded (lost) and retried instead of
-- vanishing with net._http_response. A lost dispatch ends when it became known
-- lost (pg_net's answer, or the end of its grace), not at the sweep's "now", so
-- a sweep that comes late does not stretch it.

-- p_now: the sweep's "now" (tests pass their own); p_lost_after: how long a
-- dispatch may stay without an answer or a run before it counts as lost (well
-- past pg_net's 10 s timeout). Returns what it did.
create function public.scheduler_reconcile(
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
    -- An operator's replay and a catch-up run once; a cancelled run is not retried.
    continue when v_row.kind in ('replay', 'catch_up') or exists (
      select from public.scheduler_execution_log x
      where x.id = v_row.execution_id and x.status = 'cancelled');
    -- The last part ended partial: stopped at its part cap, not failed.
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

  -- 4. First attempts: jobs whose time of night has come in their time zone
  -- (the sweep decides what is due), and jobs waiting for a predecessor that
  -- is done with the slot (or past their latest start).
  select count(*)::integer into v_started from public.scheduler_dispatch_due(p_now);
  for v_row in
    select distinct d.job_name, d.slot from public.scheduler_dispatch d
    where d.slot >= v_today - 1
      and exists (select from public.scheduler_nightly_job j where j.run_after = d.job_name)
  loop
    v_started := v_started + public.scheduler_dispatch_dependents(v_row.job_name, v_row.slot, p_now);
  end loop;

  -- 5. Nights never dispatched (the database or pg_cron was down through their
  -- window), as each job's catch_up policy says: one at a time.
  v_started := v_started + public.scheduler_catch_up(p_now);

  return query select v_closed, v_lost, v_retried, v_started;
end;
$$;

-- The function (service role) starts, renews and finishes runs; everything
-- that posts requests or sweeps is for postgres (pg_cron, operators) alone.
revoke all on function public.scheduler_start_run(uuid, text, uuid, timestamptz, integer, boolean, text)
  from public, anon, authenticated;
revoke all on function public.scheduler_heartbeat(uuid, text, timestamptz, integer)
  from public, anon, authenticated;
revoke all on function public.scheduler_finish_run(uuid, text, text, timestamptz, text, jsonb, boolean)
  from public, anon, authenticated;
grant execute on function public.scheduler_start_run(uuid, text, uuid, timestamptz, integer, boolean, text)
  to service_role;
grant execute on function public.scheduler_heartbeat(uuid, text, timestamptz, integer) to service_role;
grant execute on function public.scheduler_finish_run(uuid, text, text, timestamptz, text, jsonb, boolean)
  to service_role;
revoke all on function public.scheduler_close_dead_run(uuid)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_slot_window_end(text, date)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_enqueue_dispatch(text, date, text, integer, uuid, jsonb, text, text)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_local_instant(date, time, text)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_slot_due_at(text, date)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_dispatch_due(timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_dispatch(text, date, jsonb)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_dispatch_nightly(date)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_slot_ended_partial(text, date)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_slot_settled(text, date, timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_dispatch_dependents(text, date, timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_reconcile(timestamptz, interval)
  from public, anon, authenticated, service_role;

-- Same name = update. How soon a dead run is retried depends on this cadence:
-- pg_cron 1.5+ (hosted Supabase runs 1.6) takes seconds schedules, so every 10
-- seconds there; pg_cron 1.4 (Debian's, the local stack) has minutes only, so
-- every minute. The sweep is a few index lookups when there is nothing to do,
-- and takes an advisory lock, so two sweeps never overlap.
select cron.schedule(
  'nightly-scheduler-reconcile',
  case
    -- extversion is '1.6' on hosted, '1.4-1' from Debian: compare major and minor.
    when (
      select regexp_match(extversion, '^(\d+)\.(\d+)')::int[]
      from pg_catalog.pg_extension where extname = 'pg_cron'
    ) >= array[1, 5]
      then '10 seconds'
    else '* * * * *'
  end,
  'select public.scheduler_reconcile()'
);
