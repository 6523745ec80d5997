-- Alerts, from the database itself. A pg_cron check (every five minutes)
-- decides, per enabled job and nightly slot, whether the slot succeeded. One
-- that did not (failed, timed out or lost after its last attempt, never
-- dispatched, or still running past its window) raises one alert row per job
-- and slot, never two, and, when Vault holds nightly_scheduler_alert_webhook_url,
-- one JSON POST through pg_net with a Slack/Teams-style `text`. A later success
-- for the same slot resolves the alert. A job that fails
-- pause_after_failed_nights nights in a row is paused with that reason. The
-- webhook URL is read at every alert, so setting, rotating or removing it needs
-- no deploy.
--
-- Parts and quarantine: `attempts` counts attempts (distinct attempt numbers,
-- as scheduler_job_health does), not continuation parts. A night whose last
-- part ended partial (part cap or window) with no success is 'unfinished',
-- saying how many parts ran. While a job's sync has quarantined records left
-- for a person it has one open 'quarantined' alert (raised once, with the UTC
-- day as its slot; resolved by no run, once none waits), which is not a failed
-- night; other alerts carry quarantined_needs_person, kept current while open.
--
-- SQL runner (issue 16): a night whose every attempt was lost and that its
-- job's SQL runner took over raises one 'sql_fallback' alert (the night ran
-- without the function; raised by the sweep when it hands the slot over,
-- scheduler_alert_sql_fallback in 20261202000200). It is not a failed night and
-- does not take the night's place for a failure alert; the next run of the job
-- through the function that succeeds resolves it.

alter table public.scheduler_nightly_job
  add column pause_after_failed_nights integer default 3
    check (pause_after_failed_nights between 1 and 365),
  -- Slots that started before this are never alerted on: history from before
  -- the alerts existed (or the job did) has no dispatch records to judge it by.
  add column alerts_from timestamptz not null default now();

comment on column public.scheduler_nightly_job.pause_after_failed_nights is
  'Pause the job after this many failed nights in a row (null: never pause).';
comment on column public.scheduler_nightly_job.alerts_from is
  'Nightly slots that start before this instant raise no alerts.';

create table public.scheduler_alert (
  id bigint generated always as identity primary key,
  job_name text not null,
  slot date not null,
  kind text not null
    check (kind in ('failed', 'timed_out', 'lost', 'missed', 'overran', 'unfinished', 'quarantined',
                    'sql_fallback')),
  last_status text,
  last_error text,
  attempts integer not null,
  raised_at timestamptz not null,
  resolved_at timestamptz,
  -- The successful run that resolved it.
  resolved_by uuid,
  -- This alert's failed night paused the job.
  paused boolean not null default false,
  -- pg_net's request id of the webhook POST; null when no webhook URL was configured.
  notify_request_id bigint,
  -- Quarantined records of this job waiting for a person (kept current while open).
  quarantined_needs_person integer not null default 0,
  -- A quarantine alert is resolved by no run: it ends when nothing waits any more.
  constraint scheduler_alert_resolved_by_success
    check (case when kind = 'quarantined' then resolved_by is null
                else (resolved_at is null) = (resolved_by is null) end)
);

comment on table public.scheduler_alert is
  'One row per nightly job and slot that did not succeed; resolved by a later success of that slot.';

comment on column public.scheduler_alert.quarantined_needs_person is
  'Quarantined records of this job waiting for a person (kept current while the alert is open).';

-- One alert per job and night, never two (as before), the quarantine and the
-- SQL runner's fallback aside; at most one open quarantine alert per job, and
-- one fallback alert per job and night.
create unique index scheduler_alert_once on public.scheduler_alert (job_name, slot)
  where kind not in ('quarantined', 'sql_fallback');
create unique index scheduler_alert_sql_fallback_once on public.scheduler_alert (job_name, slot)
  where kind = 'sql_fallback';
create unique index scheduler_alert_quarantined_open on public.scheduler_alert (job_name)
  where kind = 'quarantined' and resolved_at is null;

create index scheduler_alert_open_idx on public.scheduler_alert (job_name, slot)
  where resolved_at is null;
create index scheduler_alert_resolved_idx on public.scheduler_alert (resolved_at)
  where resolved_at is not null;

alter table public.scheduler_alert enable row level security;
revoke all on public.scheduler_alert from public, anon, authenticated;
grant select on public.scheduler_alert to service_role;

-- Failed nights of p_job_name up to p_slot since its last successful night:
-- the slots with an open alert after the last slot that succeeded (a
-- quarantine alert is not a failed night).
create function public.scheduler_failed_nights(p_job_name text, p_slot date)
returns integer
language sql
stable
set search_path = ''
as $$
  select count(*)::integer from public.scheduler_alert a
  where a.job_name = p_job_name and a.resolved_at is null and a.slot <= p_slot
    and a.kind not in ('quarantined', 'sql_fallback')
    and a.slot > coalesce((
      select max(x.slot) from public.scheduler_execution_log x
      where x.job_name = p_job_name and x.status = 'succeeded' and x.slot <= p_slot
    ), '-infinity'::date);
$$;

-- Posts p_text to the webhook URL in Vault, if one is set; returns pg_net's
-- request id or null. `text` is the field both Slack and Teams incoming webhooks read.
-- A URL pg_net refuses (it raises in the caller's transaction) is a warning and
-- null, so a bad webhook never stops the alerts themselves from being raised.
create function public.scheduler_notify_webhook(p_text text)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_url text;
begin
  select decrypted_secret into v_url from vault.decrypted_secrets
  where name = 'nightly_scheduler_alert_webhook_url';
  if coalesce(trim(v_url), '') = '' then
    return null;
  end if;
  begin
    return net.http_post(
      url := v_url,
      body := jsonb_build_object('text', p_text),
      headers := jsonb_build_object('Content-Type', 'application/json'),
      timeout_milliseconds := 5000
    );
  exception when others then
    raise warning 'The alert webhook URL in Vault is not a valid URL: %', left(sqlerrm, 300);
    return null;
  end;
end;
$$;

-- Quarantined records of p_job_name's sync left for a person.
create function public.scheduler_quarantined_needs_person(p_job_name text)
returns integer
language sql
stable
set search_path = ''
as $$
  select coalesce(sum(q.needs_person), 0)::integer
  from public.scheduler_sync_quarantine_status q where q.sync_name = p_job_name;
$$;


-- Keeps open alerts' quarantine counts current, resolves quarantine alerts
-- with nothing left waiting and raises one for each job that has records
-- left for a person and no open quarantine alert. Returns (raised, resolved).
create function public.scheduler_check_quarantine_alerts(p_now timestamptz)
returns table (raised integer, resolved integer)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_raised integer := 0;
  v_resolved integer := 0;
  v_job record;
  v_alert_id bigint;
begin
  update public.scheduler_alert a
  set quarantined_needs_person = public.scheduler_quarantined_needs_person(a.job_name)
  where a.resolved_at is null
    and a.quarantined_needs_person <> public.scheduler_quarantined_needs_person(a.job_name);
  update public.scheduler_alert a
  set resolved_at = p_now
  where a.kind = 'quarantined' and a.resolved_at is null and a.quarantined_needs_person = 0;
  get diagnostics v_resolved = row_count;

  for v_job in
    select j.job_name, j.max_quarantine_attempts,
           public.scheduler_quarantined_needs_person(j.job_name) as waiting,
           (select q.error_message from public.scheduler_sync_quarantine q
            where q.sync_name = j.job_name and q.attempts >= j.max_quarantine_attempts
            order by q.last_attempt_at desc, q.certification_id limit 1) as last_error
    from public.scheduler_nightly_job j
    where public.scheduler_quarantined_needs_person(j.job_name) > 0
      and not exists (select from public.scheduler_alert a
                      where a.job_name = j.job_name and a.kind = 'quarantined'
                        and a.resolved_at is null)
    order by j.job_name
  loop
    insert into public.scheduler_alert (job_name, slot, kind, last_status, last_error, attempts,
      raised_at, quarantined_needs_person)
    values (v_job.job_name, (p_now at time zone 'utc')::date, 'quarantined', null,
      left(v_job.last_error, 2000), v_job.max_quarantine_attempts, p_now, v_job.waiting)
    returning id into v_alert_id;
    v_raised := v_raised + 1;
    update public.scheduler_alert
    set notify_request_id = public.scheduler_notify_webhook(format(
      'nightly-scheduler: %s has %s quarantined record(s) WAITING FOR A PERSON: the portal refused '
      'each of them at least %s times%s. Check: deno task scheduler status; the records are in '
      'scheduler_sync_quarantine (job_name = ''%s''); once fixed at the source they are sent '
      'again when they change, and leave the quarantine when the portal accepts them',
      v_job.job_name, v_job.waiting, v_job.max_quarantine_attempts,
      coalesce(' (last: ' || left(regexp_replace(v_job.last_error, '\s+', ' ', 'g'), 300) || ')', ''),
      v_job.job_name))
    where id = v_alert_id;
  end loop;

  return query select v_raised, v_resolved;
end;
$$;

-- The check pg_cron runs. p_now: the check's "now" (tests pass their own).
-- Looks at the recent nights of every enabled, unpaused job, oldest first, so
-- a run of failed nights is counted in order. Returns what it did.
create function public.scheduler_check_alerts(p_now timestamptz default now())
returns table (raised integer, resolved integer, paused integer)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_today date := (p_now at time zone 'utc')::date;
  v_raised integer := 0;
  v_resolved integer := 0;
  v_paused integer := 0;
  v_job record;
  v_slot date;
  v_end timestamptz;
  v_last record;
  v_kind text;
  v_attempts integer;
  v_error text;
  v_nights integer;
  v_pause boolean;
  v_text text;
  v_alert_id bigint;
  v_waiting integer;
  v_quarantine record;
begin
  if not pg_try_advisory_xact_lock(hashtext('scheduler_check_alerts')) then
    return query select 0, 0, 0;
    return;
  end if;

  -- A later success of the slot resolves its alert.
  update public.scheduler_alert a
  set resolved_at = p_now,
      resolved_by = (
        select x.id from public.scheduler_execution_log x
        where x.job_name = a.job_name and x.slot = a.slot and x.status = 'succeeded'
        order by x.started_at limit 1
      )
  where a.resolved_at is null and a.kind not in ('quarantined', 'sql_fallback')
    and exists (
      select from public.scheduler_execution_log x
      where x.job_name = a.job_name and x.slot = a.slot and x.status = 'succeeded'
    );
  get diagnostics v_resolved = row_count;
  -- A night the SQL runner took over stays flagged until the function runs the
  -- job successfully again (any night, after the alert was raised).
  with back as (
    update public.scheduler_alert a
    set resolved_at = p_now,
        resolved_by = (
          select x.id from public.scheduler_execution_log x
          where x.job_name = a.job_name and x.runner = 'function' and x.status = 'succeeded'
            and x.started_at > a.raised_at
          order by x.started_at limit 1
        )
    where a.resolved_at is null and a.kind = 'sql_fallback'
      and exists (
        select from public.scheduler_execution_log x
        where x.job_name = a.job_name and x.runner = 'function' and x.status = 'succeeded'
          and x.started_at > a.raised_at
      )
    returning 1
  )
  select v_resolved + count(*) into v_resolved from back;

  for v_job in
    select j.* from public.scheduler_nightly_job j
    where j.enabled and j.pause_reason is null
    order by j.job_name
  loop
    -- The last three nights, and any other night dispatched in the last three
    -- days (an operator re-running an older night by hand).
    for v_slot in
      select s::date from generate_series(v_today - 2, v_today, interval '1 day') s
      union
      select d.slot from public.scheduler_dispatch d
      where d.job_name = v_job.job_name
        and d.created_at > p_now - interval '3 days' and d.created_at <= p_now
      order by 1
    loop
      -- Only nights that started once this job was watched.
      continue when public.scheduler_slot_due_at(v_job.job_name, v_slot) < v_job.alerts_from;
      continue when exists (select from public.scheduler_alert a
                            where a.job_name = v_job.job_name and a.slot = v_slot
                              and a.kind not in ('quarantined', 'sql_fallback'));
      continue when exists (select from public.scheduler_execution_log x
                            where x.job_name = v_job.job_name and x.slot = v_slot
                              and x.status = 'succeeded');
      v_end := public.scheduler_slot_window_end(v_job.job_name, v_slot);
      select x.status, x.error_message, x.attempt into v_last
      from public.scheduler_execution_log x
      where x.job_name = v_job.job_name and x.slot = v_slot and x.status <> 'duplicate'
      order by x.attempt desc, x.started_at desc
      limit 1;
      -- attempts, not dispatches: a continuation is a part of its attempt.
      select count(distinct d.attempt)::integer into v_attempts from public.scheduler_dispatch d
      where d.job_name = v_job.job_name and d.slot = v_slot;

      if v_last.status = 'running' then
        continue when p_now < v_end;
        v_kind := 'overran';
        v_error := format('Still running at the end of its window (%s)', v_end);
      elsif v_attempts = 0 then
        continue when p_now < v_end;
        v_kind := 'missed';
        v_error := 'No dispatch was recorded for this night';
      elsif v_last.status = 'cancelled' then
        continue; -- an operator stopped it on purpose: nothing to alert
      elsif public.scheduler_slot_settled(v_job.job_name, v_slot, p_now) then
        v_kind := case when v_last.status in ('failed', 'timed_out', 'lost') then v_last.status
                       when v_last.status = 'partial' then 'unfinished'
                       else 'failed' end;
        v_error := v_last.error_message;
      else
        continue; -- attempts remain: the sweep retries, or a run is on its way
      end if;

      v_waiting := public.scheduler_quarantined_needs_person(v_job.job_name);
      insert into public.scheduler_alert
        (job_name, slot, kind, last_status, last_error, attempts, raised_at,
         quarantined_needs_person)
      values (v_job.job_name, v_slot, v_kind, v_last.status, left(v_error, 2000), v_attempts, p_now,
        v_waiting)
      on conflict (job_name, slot) where kind not in ('quarantined', 'sql_fallback') do nothing
      returning id into v_alert_id;
      continue when v_alert_id is null;
      v_raised := v_raised + 1;

      v_nights := public.scheduler_failed_nights(v_job.job_name, v_slot);
      v_pause := v_job.pause_after_failed_nights is not null
        and v_nights >= v_job.pause_after_failed_nights;
      if v_pause then
        update public.scheduler_nightly_job
        set pause_reason = format(
          'Paused by the alert check on %s after %s failed nights in a row (last: %s on the night of %s)',
          p_now, v_nights, v_kind, v_slot)
        where job_name = v_job.job_name and pause_reason is null;
        v_paused := v_paused + 1;
      end if;

      v_text := format('nightly-scheduler: %s %s on the night of %s', v_job.job_name,
        case v_kind
          when 'missed' then 'MISSED its run (never dispatched)'
          when 'overran' then 'is STILL RUNNING past its window'
          when 'unfinished' then format('did NOT FINISH (stopped with work left after %s parts, '
            'max_parts %s, in %s of %s attempts)', (select n.parts from public.scheduler_night n
              where n.job_name = v_job.job_name and n.slot = v_slot),
            v_job.max_parts, v_attempts, v_job.max_attempts)
          else format('FAILED (%s after %s of %s attempts)', v_kind, v_attempts, v_job.max_attempts)
        end, v_slot)
        || coalesce(': ' || left(regexp_replace(v_error, '\s+', ' ', 'g'), 300), '')
        || case v_kind
             when 'missed' then '. Check: deno task scheduler doctor (is the pg_cron job nightly-scheduler active?)'
             else format('. Check: deno task scheduler status --job %s', v_job.job_name)
           end
        || case when v_pause then format(
             '. The job is now PAUSED after %s failed nights in a row; resume it with: '
             'deno task scheduler resume %s',
             v_nights, v_job.job_name)
           else '' end
        || case when v_waiting > 0 then format(
             '. %s quarantined record(s) wait for a person (scheduler_sync_quarantine)', v_waiting)
           else '' end;
      update public.scheduler_alert
      set paused = v_pause, notify_request_id = public.scheduler_notify_webhook(v_text)
      where id = v_alert_id;
      -- A paused job raises nothing more until it is resumed.
      exit when v_pause;
    end loop;
  end loop;

  -- records left for a person, whatever the nights did.
  select * into v_quarantine from public.scheduler_check_quarantine_alerts(p_now);
  v_raised := v_raised + v_quarantine.raised;
  v_resolved := v_resolved + v_quarantine.resolved;

  return query select v_raised, v_resolved, v_paused;
end;
$$;

revoke all on function public.scheduler_failed_nights(text, date) from public, anon, authenticated;
grant execute on function public.scheduler_failed_nights(text, date) to service_role;
revoke all on function public.scheduler_notify_webhook(text)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_quarantined_needs_person(text)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_check_quarantine_alerts(timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_check_alerts(timestamptz)
  from public, anon, authenticated, service_role;

-- Same name = update, so re-running this is harmless.
select cron.schedule(
  'nightly-scheduler-alerts',
  '*/5 * * * *',
  'select public.scheduler_check_alerts()'
);
