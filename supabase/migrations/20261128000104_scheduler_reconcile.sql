-- Every night accounted for, part 4: the reconciliation sweep and the grants.
-- scheduler_reconcile() runs every five minutes (well inside pg_net's 6 h
-- response TTL). It matches dispatches with runs and pg_net's responses, so a
-- request that never became a run is recorded (lost) and retried instead of
-- vanishing with net._http_response. A lost dispatch ends when it became known
-- lost (pg_net's answer; for a time-out, when the timeout ran out; or the end
-- of its grace), not at the sweep's "now", so a sweep that comes late does not
-- stretch it.

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
  v_end timestamptz;
  v_retry_at timestamptz;
  v_window_end timestamptz;
  v_stop text;
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
    -- (issue 16) The SQL runner's dispatches are never posted: the sweep's SQL
    -- runner takes them within a minute unless its pg_cron job is not running.
    if v_row.runner = 'sql' then
      continue when v_row.created_at >= p_now - greatest(p_lost_after, interval '10 minutes');
      v_reason := format('The SQL runner did not take the dispatch within %s: is the pg_cron job '
        'nightly-scheduler-sql-runner active?', greatest(p_lost_after, interval '10 minutes'));
    end if;
    select r.status_code, r.timed_out, r.error_msg, r.created into v_response
    from net._http_response r where r.id = v_row.request_id;
    if v_reason is not null then
      null;
    elsif found then
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
    -- When it became known lost: pg_net's answer (its batch's start, when the
    -- request was sent), or for a time-out that start plus the timeout, or the
    -- end of the grace. The retry's backoff counts from there.
    v_end := case
      when v_response.timed_out then least(p_now, v_response.created
        + make_interval(secs => public.scheduler_dispatch_timeout_ms() / 1000.0))
      else coalesce(v_response.created, least(p_now, v_row.created_at + p_lost_after))
    end;
    perform public.scheduler_record_lost_dispatch(v_row.id, v_reason, v_end);
    v_lost := v_lost + 1;
  end loop;

  -- 3. Retries: the latest attempt of a recent slot ended without success,
  -- attempts and window remain, and its backoff has passed. (issue 16) A slot
  -- whose every attempt was lost, of a job with a SQL runner, goes to that
  -- runner once when no function attempt can follow in time (attempts spent,
  -- or the next one due within 15 minutes of the window's end, leaving the
  -- SQL runner time to do the night's work), and nothing retries it after.
  for v_row in
    select distinct on (d.job_name, d.slot) d.*, j.max_attempts, j.retry_backoff_ms,
      j.runner as job_runner, j.sql_runner
    from public.scheduler_dispatch d
    join public.scheduler_nightly_job j on j.job_name = d.job_name
    where d.slot >= v_today - 1 and j.enabled and j.pause_reason is null
    order by d.job_name, d.slot, d.attempt desc, d.created_at desc
  loop
    continue when v_row.outcome is null;
    -- An operator's replay and a catch-up run once (nor do they fall back to
    -- the SQL runner); a cancelled run is not retried.
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
    continue when exists (select from public.scheduler_dispatch d
                          where d.job_name = v_row.job_name and d.slot = v_row.slot
                            and d.kind = 'fallback');
    select x.finished_at, x.stop_reason into v_end, v_stop from public.scheduler_execution_log x
    where x.id = v_row.execution_id;
    -- A run whose worker died (closed at its lapsed lease) did not fail: no backoff.
    v_retry_at := coalesce(v_end, v_row.created_at)
      + make_interval(secs => case when v_stop = 'worker_lost' then 0
          else v_row.retry_backoff_ms / 1000.0 * 2 ^ (v_row.attempt - 1) end);
    v_window_end := public.scheduler_slot_window_end(v_row.job_name, v_row.slot);
    if v_row.sql_runner is not null and v_row.job_runner = 'function' and p_now < v_window_end
       and (v_row.attempt >= v_row.max_attempts
            or v_retry_at >= v_window_end - interval '15 minutes')
       and not exists (select from public.scheduler_execution_log x
                       where x.job_name = v_row.job_name and x.slot = v_row.slot
                         and x.status <> 'lost') then
      perform public.scheduler_enqueue_dispatch(
        v_row.job_name, v_row.slot, 'fallback', v_row.attempt, v_row.execution_id, v_row.payload
      );
      perform public.scheduler_alert_sql_fallback(v_row.job_name, v_row.slot, p_now);
      v_retried := v_retried + 1;
      continue;
    end if;
    continue when v_row.attempt >= v_row.max_attempts;
    continue when p_now < v_retry_at;
    continue when p_now >= v_window_end;
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
revoke all on function public.scheduler_start_run(uuid, text, uuid, timestamptz, integer, boolean, text, text)
  from public, anon, authenticated;
revoke all on function public.scheduler_heartbeat(uuid, text, timestamptz, integer)
  from public, anon, authenticated;
revoke all on function public.scheduler_finish_run(uuid, text, text, timestamptz, text, jsonb, boolean, jsonb)
  from public, anon, authenticated;
grant execute on function public.scheduler_start_run(uuid, text, uuid, timestamptz, integer, boolean, text, text)
  to service_role;
grant execute on function public.scheduler_heartbeat(uuid, text, timestamptz, integer) to service_role;
grant execute on function public.scheduler_finish_run(uuid, text, text, timestamptz, text, jsonb, boolean, jsonb)
  to service_role;
revoke all on function public.scheduler_close_dead_run(uuid)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_slot_window_end(text, date)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_slot_night_start(text, date)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_dispatch_timeout_ms()
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_enqueue_dispatch(text, date, text, integer, uuid, jsonb, text, text)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_local_instant(date, time, text)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_slot_due_at(text, date)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_dispatch_due(timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_record_lost_dispatch(uuid, text, timestamptz)
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
