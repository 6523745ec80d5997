-- Continuation (issue 10): a run that stops between batches because its
-- budget ran out, with work left and no error, ends as 'partial' and at once
-- dispatches the next part of the same slot through scheduler_enqueue_dispatch
-- (kind 'continuation', the same attempt number, previous_execution_id = the
-- part before), like a retry. Parts go on until the work is done, the job's
-- window ends or its max_parts is reached; the lease keeps parts from
-- overlapping (the next part starts only once this transaction has freed it).
-- scheduler_finish_run (20261128000103) accepts 'partial' and calls
-- scheduler_continue; the sweep (20261128000104) does not retry a slot whose
-- last part ended partial, and scheduler_slot_settled counts it as settled.

alter table public.scheduler_execution_log
  drop constraint scheduler_execution_log_status_check,
  add constraint scheduler_execution_log_status_check
    check (status in ('running', 'succeeded', 'partial', 'failed', 'skipped', 'timed_out',
                      'cancelled', 'lost', 'duplicate'));

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
       max(x.finished_at) as finished_at,
       -- (issue 16) who did the night's work: the runner of its last working part.
       (array_agg(x.runner order by x.started_at desc, x.finished_at desc nulls first)
         filter (where x.status in ('running', 'partial', 'succeeded', 'failed', 'timed_out')))[1]
         as runner
from public.scheduler_execution_log x
where x.slot is not null
group by x.job_name, x.slot;

comment on view public.scheduler_night is
  'Each job''s night as one run: its parts and attempts, how the last part ended, and which runner did it.';

revoke all on public.scheduler_night from public, anon, authenticated;
grant select on public.scheduler_night to service_role;
revoke all on function public.scheduler_continue(uuid, text, date, timestamptz)
  from public, anon, authenticated, service_role;
