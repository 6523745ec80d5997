-- Operators steer nights (issue 17): pause and resume a job (with a history of
-- who paused it, when and why), cancel a running execution, replay a past
-- night, catch up nights an outage left undispatched, and read a month of
-- nights as one grid. The RPCs are security definer and service_role only, as
-- the `scheduler` CLI calls them with the project's secret key; each says what
-- it did as a status the CLI turns into a line. Who asked comes from the CLI
-- (SCHEDULER_OPERATOR, else the user's login name).

-- One row per pause of a job: set when pause_reason becomes non-null (by
-- scheduler_pause, the alert check, or an UPDATE in the SQL editor), closed
-- when it becomes null again. The grid and catch-up read it: a night that was
-- due while its job was paused is "paused", never "missed", and is not caught up.
create table public.scheduler_pause (
  id bigint generated always as identity primary key,
  job_name text not null references public.scheduler_nightly_job (job_name) on delete cascade,
  reason text not null,
  paused_at timestamptz not null,
  paused_by text not null,
  resumed_at timestamptz,
  resumed_by text,
  constraint scheduler_pause_resumed_after check (resumed_at is null or resumed_at >= paused_at)
);

comment on table public.scheduler_pause is
  'Each pause of a nightly job: why, by whom, from when to when.';

create index scheduler_pause_job_idx on public.scheduler_pause (job_name, paused_at);
create unique index scheduler_pause_open_idx on public.scheduler_pause (job_name)
  where resumed_at is null;

alter table public.scheduler_pause enable row level security;
revoke all on public.scheduler_pause from public, anon, authenticated;
grant select on public.scheduler_pause to service_role;

-- Keeps scheduler_pause in step with scheduler_nightly_job.pause_reason.
-- scheduler.actor (set by the RPCs for their transaction) names who did it;
-- otherwise the database role (postgres for pg_cron's alert check).
create function public.scheduler_track_pause()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_actor text := coalesce(nullif(pg_catalog.current_setting('scheduler.actor', true), ''),
    session_user::text);
begin
  if old.pause_reason is null and new.pause_reason is not null then
    insert into public.scheduler_pause (job_name, reason, paused_at, paused_by)
    values (new.job_name, new.pause_reason, pg_catalog.now(), v_actor);
  elsif old.pause_reason is not null and new.pause_reason is null then
    update public.scheduler_pause
    set resumed_at = pg_catalog.now(), resumed_by = v_actor
    where job_name = new.job_name and resumed_at is null;
  end if;
  return new;
end;
$$;

create trigger scheduler_nightly_job_pause_history
after update of pause_reason on public.scheduler_nightly_job
for each row execute function public.scheduler_track_pause();

-- Whether p_job_name was paused at p_at.
create function public.scheduler_paused_at(p_job_name text, p_at timestamptz)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select from public.scheduler_pause p
    where p.job_name = p_job_name and p.paused_at <= p_at
      and (p.resumed_at is null or p.resumed_at > p_at)
  );
$$;

-- Pauses p_job_name: nothing dispatches it (cron, sweep, retries, continuations,
-- catch-up, replay) until scheduler_resume. status: paused | already_paused | unknown_job.
create function public.scheduler_pause_job(p_job_name text, p_reason text, p_by text)
returns table (status text, detail text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_reason text;
begin
  if coalesce(trim(p_reason), '') = '' or length(p_reason) > 500 then
    raise exception 'A pause needs a reason of 1 to 500 characters' using errcode = '22023';
  end if;
  select j.pause_reason into v_reason from public.scheduler_nightly_job j
  where j.job_name = p_job_name for update;
  if not found then
    return query select 'unknown_job', null::text;
    return;
  end if;
  if v_reason is not null then
    return query select 'already_paused', v_reason;
    return;
  end if;
  perform pg_catalog.set_config('scheduler.actor', left(coalesce(p_by, 'unknown'), 200), true);
  update public.scheduler_nightly_job
  set pause_reason = format('Paused by %s: %s', left(coalesce(p_by, 'unknown'), 200), p_reason)
  where job_name = p_job_name;
  return query select 'paused', p_reason;
end;
$$;

-- Resumes p_job_name. status: resumed | not_paused | unknown_job.
create function public.scheduler_resume_job(p_job_name text, p_by text)
returns table (status text, detail text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_reason text;
begin
  select j.pause_reason into v_reason from public.scheduler_nightly_job j
  where j.job_name = p_job_name for update;
  if not found then
    return query select 'unknown_job', null::text;
    return;
  end if;
  if v_reason is null then
    return query select 'not_paused', null::text;
    return;
  end if;
  perform pg_catalog.set_config('scheduler.actor', left(coalesce(p_by, 'unknown'), 200), true);
  update public.scheduler_nightly_job set pause_reason = null where job_name = p_job_name;
  return query select 'resumed', v_reason;
end;
$$;

-- Asks a running execution to stop. Cooperative: the run's next heartbeat
-- (scheduler_heartbeat answers 'cancel_requested') aborts the job's signal, and
-- the run ends 'cancelled' with cancel_requested_by/at kept on its row; a job
-- that ignores its signal is stopped at its budget. status: requested |
-- already_requested | not_running (detail: its status) | unknown_execution.
create function public.scheduler_cancel(p_execution_id uuid, p_by text)
returns table (status text, job_name text, detail text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.scheduler_execution_log%rowtype;
begin
  select * into v_row from public.scheduler_execution_log x where x.id = p_execution_id for update;
  if not found then
    return query select 'unknown_execution', null::text, null::text;
  elsif v_row.status <> 'running' then
    return query select 'not_running', v_row.job_name, v_row.status;
  elsif v_row.cancel_requested_at is not null then
    return query select 'already_requested', v_row.job_name, v_row.cancel_requested_by;
  else
    update public.scheduler_execution_log x
    set cancel_requested_at = now(), cancel_requested_by = left(coalesce(p_by, 'unknown'), 200)
    where x.id = p_execution_id;
    return query select 'requested', v_row.job_name, null::text;
  end if;
end;
$$;

-- Runs p_job_name's night p_slot again: a dispatch of kind 'replay' (the next
-- attempt number of the slot) that keeps who asked and why, so it runs in
-- production too, where only dispatched calls may run. The run belongs to the
-- slot, is never retried, and a success resolves the night's alert. Refused
-- while the job runs or waits for a dispatch, while it is paused, and for a
-- night that has not come. status: dispatched | running | paused | future_night
-- | unknown_job.
create function public.scheduler_replay(
  p_job_name text,
  p_slot date,
  p_by text,
  p_reason text default null
) returns table (status text, dispatch_id uuid, detail text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job public.scheduler_nightly_job%rowtype;
  v_attempt integer;
  v_running uuid;
begin
  if p_slot is null or length(p_reason) > 500 then
    raise exception 'A replay needs a night and a reason of at most 500 characters'
      using errcode = '22023';
  end if;
  select * into v_job from public.scheduler_nightly_job j where j.job_name = p_job_name;
  if not found then
    return query select 'unknown_job', null::uuid, null::text;
    return;
  end if;
  if v_job.pause_reason is not null then
    return query select 'paused', null::uuid, v_job.pause_reason;
    return;
  end if;
  if now() < public.scheduler_slot_due_at(p_job_name, p_slot) then
    return query select 'future_night', null::uuid,
      public.scheduler_slot_due_at(p_job_name, p_slot)::text;
    return;
  end if;
  -- Serialises with the sweep and other replays of the job.
  perform pg_advisory_xact_lock(hashtext('scheduler_dispatch:' || p_job_name || ':' || p_slot));
  select l.owner into v_running from public.scheduler_job_lease l
  where l.job_name = p_job_name and l.owner is not null and l.expires_at > now();
  if v_running is null then
    select d.id into v_running from public.scheduler_dispatch d
    where d.job_name = p_job_name and d.outcome is null limit 1;
  end if;
  if v_running is not null then
    return query select 'running', null::uuid, v_running::text;
    return;
  end if;
  select coalesce(max(d.attempt), 0) + 1 into v_attempt
  from public.scheduler_dispatch d where d.job_name = p_job_name and d.slot = p_slot;
  return query select 'dispatched', public.scheduler_enqueue_dispatch(
    p_job_name, p_slot, 'replay', least(v_attempt, 100), null, '{}'::jsonb,
    left(coalesce(p_by, 'unknown'), 200), p_reason), null::text;
end;
$$;

-- Catch-up after an outage: nights of a job that were never dispatched and
-- whose window has ended (the database or pg_cron was down through it), within
-- the job's catch_up_window nights back from today, due after the job was
-- added and not while it was paused. 'latest' dispatches the most recent such
-- night newer than the job's last catch-up, once; 'all' dispatches them oldest
-- first; 'none' never. One at a time: a job with a dispatch waiting or a run
-- going gets none, so the next night follows once the last one has ended.
-- Each is a dispatch of kind 'catch_up' (attempt 1, never retried). Called by
-- the sweep; returns how many it dispatched.
create function public.scheduler_catch_up(p_now timestamptz)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job record;
  v_slot date;
  v_count integer := 0;
  v_today date;
begin
  for v_job in
    select j.* from public.scheduler_nightly_job j
    where j.enabled and j.pause_reason is null and j.run_after is null and j.catch_up <> 'none'
    order by j.job_name
  loop
    continue when exists (select from public.scheduler_dispatch d
                          where d.job_name = v_job.job_name and d.outcome is null)
      or exists (select from public.scheduler_execution_log x
                 where x.job_name = v_job.job_name and x.status = 'running');
    v_today := (p_now at time zone v_job.time_zone)::date;
    select s.slot into v_slot
    from (select v_today - g as slot from generate_series(0, v_job.catch_up_window - 1) g) s
    where public.scheduler_slot_due_at(v_job.job_name, s.slot) >= v_job.added_at
      and p_now >= public.scheduler_slot_window_end(v_job.job_name, s.slot)
      and not exists (select from public.scheduler_dispatch d
                      where d.job_name = v_job.job_name and d.slot = s.slot)
      and not public.scheduler_paused_at(v_job.job_name,
        public.scheduler_slot_due_at(v_job.job_name, s.slot))
      and (v_job.catch_up = 'all' or s.slot > coalesce(
        (select max(d.slot) from public.scheduler_dispatch d
         where d.job_name = v_job.job_name and d.kind = 'catch_up'), '-infinity'::date))
    order by case when v_job.catch_up = 'all' then s.slot end, s.slot desc
    limit 1;
    continue when v_slot is null;
    perform pg_advisory_xact_lock(hashtext('scheduler_dispatch:' || v_job.job_name || ':' || v_slot));
    continue when exists (select from public.scheduler_dispatch d
                          where d.job_name = v_job.job_name and d.slot = v_slot);
    perform public.scheduler_enqueue_dispatch(v_job.job_name, v_slot, 'catch_up', 1);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

-- A month at a glance: one row per nightly job and night (the p_nights UTC
-- dates up to p_now's; a job's night is its local date), with the night's
-- outcome: running (a run going or a dispatch waiting), succeeded,
-- succeeded_after_retries (more than one attempt), partial_then_done (parts,
-- then done), failed (failed, timed out, or stopped partial with work left),
-- cancelled, lost, other_runner (every delivery found the job already running
-- as another execution, e.g. a manual run), paused (due while paused), missed
-- (never dispatched, window over), none (nothing scheduled: before the job
-- was added, disabled, or not due yet). What `scheduler status --nights N` prints.
create function public.scheduler_night_grid(p_nights integer, p_now timestamptz default now())
returns table (
  job_name text,
  slot date,
  outcome text,
  attempts integer,
  parts integer,
  last_status text,
  replayed boolean
)
language sql
stable
security definer
set search_path = ''
-- The planner's estimates for the per-cell functions cross JIT's threshold; compiling
-- costs ~300 ms for a 30-night grid that runs in ~10 ms without it.
set jit = off
as $$
  with nights as (
    select j.job_name, j.enabled, j.added_at, s::date as slot
    from public.scheduler_nightly_job j
    cross join generate_series(
      (p_now at time zone 'utc')::date - (least(greatest(p_nights, 1), 366) - 1),
      (p_now at time zone 'utc')::date, interval '1 day') s
  ),
  facts as (
    select n.*,
      r.running, r.succeeded, r.partials, r.attempts, r.skipped, r.last_status,
      exists (select from public.scheduler_dispatch d
              where d.job_name = n.job_name and d.slot = n.slot and d.outcome is null) as pending,
      exists (select from public.scheduler_dispatch d
              where d.job_name = n.job_name and d.slot = n.slot) as dispatched,
      exists (select from public.scheduler_dispatch d
              where d.job_name = n.job_name and d.slot = n.slot and d.kind = 'replay') as replayed,
      public.scheduler_slot_due_at(n.job_name, n.slot) as due_at
    from nights n
    left join lateral (
      select
        count(*) filter (where x.status = 'running') as running,
        count(*) filter (where x.status = 'succeeded') as succeeded,
        count(*) filter (where x.status = 'partial') as partials,
        count(distinct x.attempt) filter (where x.status not in ('skipped', 'duplicate'))
          as attempts,
        count(*) filter (where x.status = 'skipped') as skipped,
        (array_agg(x.status order by x.started_at desc, x.finished_at desc nulls first)
          filter (where x.status not in ('skipped', 'duplicate')))[1] as last_status
      from public.scheduler_execution_log x
      where x.job_name = n.job_name and x.slot = n.slot
    ) r on true
  )
  select f.job_name, f.slot,
    case
      when f.running > 0 or f.pending then 'running'
      when f.succeeded > 0 and f.partials > 0 then 'partial_then_done'
      when f.succeeded > 0 and f.attempts > 1 then 'succeeded_after_retries'
      when f.succeeded > 0 then 'succeeded'
      when f.last_status = 'cancelled' then 'cancelled'
      when f.last_status = 'lost' then 'lost'
      when f.last_status in ('failed', 'timed_out', 'partial') then 'failed'
      when f.skipped > 0 then 'other_runner'
      when f.dispatched then 'failed'
      when public.scheduler_paused_at(f.job_name, f.due_at)
        or (f.due_at > p_now and exists (select from public.scheduler_nightly_job j
            where j.job_name = f.job_name and j.pause_reason is not null)) then 'paused'
      when not f.enabled or f.due_at < f.added_at then 'none'
      -- The night's own window (a dispatch of another job for the slot does not move it).
      when p_now >= greatest(f.due_at, (select public.scheduler_local_instant(f.slot, j.window_end,
          j.time_zone) from public.scheduler_nightly_job j where j.job_name = f.job_name))
        then 'missed'
      else 'none'
    end,
    coalesce(f.attempts, 0)::integer, coalesce(f.partials, 0)::integer, f.last_status, f.replayed
  from facts f
  order by f.job_name, f.slot;
$$;

revoke all on function public.scheduler_track_pause() from public, anon, authenticated, service_role;
revoke all on function public.scheduler_paused_at(text, timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_catch_up(timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.scheduler_pause_job(text, text, text) from public, anon, authenticated;
revoke all on function public.scheduler_resume_job(text, text) from public, anon, authenticated;
revoke all on function public.scheduler_cancel(uuid, text) from public, anon, authenticated;
revoke all on function public.scheduler_replay(text, date, text, text) from public, anon, authenticated;
revoke all on function public.scheduler_night_grid(integer, timestamptz)
  from public, anon, authenticated;
grant execute on function public.scheduler_pause_job(text, text, text) to service_role;
grant execute on function public.scheduler_resume_job(text, text) to service_role;
grant execute on function public.scheduler_cancel(uuid, text) to service_role;
grant execute on function public.scheduler_replay(text, date, text, text) to service_role;
grant execute on function public.scheduler_night_grid(integer, timestamptz) to service_role;
