-- scheduler_job_health (20261128000503) counted every dispatch of tonight's
-- slot as an attempt, continuations included, so a night of one attempt in
-- 40 parts showed "40/3 attempts". An attempt is a first dispatch or a retry;
-- a continuation (issue 10) is a part of the same attempt and carries its
-- number. The view now counts distinct attempt numbers, and shows the night
-- as one run of N parts (parts_tonight, as scheduler_night counts them) and
-- how many quarantined records of the job's sync wait (retrying nightly, or
-- needing a person, from scheduler_sync_quarantine_status; a sync counts under
-- the job of the same name, as the production sync is named). Same columns as
-- before, in the same order, with the new ones at the end.

create or replace view public.scheduler_job_health as
with nightly_cron as (
  select c.active, c.schedule from cron.job c where c.jobname = 'nightly-scheduler'
)
select
  j.job_name,
  j.enabled,
  j.pause_reason is not null as paused,
  j.pause_reason,
  last_run.status as last_status,
  last_run.started_at as last_started_at,
  last_run.finished_at as last_finished_at,
  last_run.error_message as last_error,
  (select max(s.started_at) from public.scheduler_execution_log s
   where s.job_name = j.job_name and s.status = 'succeeded') as last_success_at,
  public.scheduler_failed_nights(j.job_name, (now() at time zone 'utc')::date)
    as consecutive_failed_nights,
  -- (changed) distinct attempt numbers: a continuation repeats its attempt's
  -- number; a dispatched attempt counts before its run starts.
  (select count(distinct d.attempt)::integer from public.scheduler_dispatch d
   where d.job_name = j.job_name and d.slot = (now() at time zone 'utc')::date) as attempts_tonight,
  j.max_attempts,
  j.run_after,
  case
    when not j.enabled or j.pause_reason is not null then null
    when coalesce(j.run_at, p.run_at) is not null then public.scheduler_next_daily_run(
      format('%s %s * * *', extract(minute from coalesce(j.run_at, p.run_at))::int,
        extract(hour from coalesce(j.run_at, p.run_at))::int), now())
    when (select active from nightly_cron) then
      public.scheduler_next_daily_run((select schedule from nightly_cron), now())
  end as next_run_at,
  (select count(*)::integer from public.scheduler_alert a
   where a.job_name = j.job_name and a.resolved_at is null) as open_alerts,
  -- (new) tonight as one run: the parts that did work, retries' parts included.
  coalesce(night.parts, 0) as parts_tonight,
  j.max_parts,
  coalesce(q.retrying, 0) as quarantined_retrying,
  coalesce(q.needs_person, 0) as quarantined_needs_person
from public.scheduler_nightly_job j
left join public.scheduler_nightly_job p on p.job_name = j.run_after
left join lateral (
  select l.status, l.started_at, l.finished_at, l.error_message
  from public.scheduler_execution_log l
  where l.job_name = j.job_name and l.status <> 'duplicate'
  order by l.started_at desc
  limit 1
) last_run on true
left join public.scheduler_night night
  on night.job_name = j.job_name and night.slot = (now() at time zone 'utc')::date
left join public.scheduler_sync_quarantine_status q on q.sync_name = j.job_name;

comment on view public.scheduler_job_health is
  'One row per nightly job: state, last run, last success, failed nights in a row, attempts and parts tonight, next run, open alerts, quarantined records waiting.';
