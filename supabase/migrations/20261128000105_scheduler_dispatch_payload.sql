-- Every night accounted for, part 5: a dispatch carries the job's payload, so
-- a retry (and a continuation) sends the job what its first attempt got, and an
-- operator can dispatch a job with a payload. Replaces the two dispatching
-- functions with versions taking p_payload (default '{}', so callers of the
-- old signatures are unchanged) and the sweep with one that passes it on.

alter table public.scheduler_dispatch add column payload jsonb not null default '{}';

drop function public.scheduler_enqueue_dispatch(text, date, text, integer, uuid);
drop function public.scheduler_dispatch(text, date);

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

revoke all on function public.scheduler_enqueue_dispatch(text, date, text, integer, uuid, jsonb)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_dispatch(text, date, jsonb)
  from public, anon, authenticated, service_role;
