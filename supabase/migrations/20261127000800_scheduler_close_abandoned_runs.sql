-- Closes runs the log still shows as running although nothing runs them any
-- more: the function was stopped (wall clock, crash, deploy) before it wrote the
-- end of the run. A live run always holds its job's lease (RunJob keeps it while
-- the handler runs, and while its final write is unconfirmed), so a running row
-- whose lease is gone or lapsed is abandoned. Taking over a lapsed lease closes
-- such a row too, but only when the same job runs again; this sweep does not wait.

create function public.scheduler_close_abandoned_runs()
returns integer
language sql
set search_path = ''
as $$
  with closed as (
    update public.scheduler_execution_log l
    set status = 'timed_out',
        finished_at = greatest(
          l.started_at,
          coalesce((select s.expires_at from public.scheduler_job_lease s where s.owner = l.id), now())
        ),
        error_message = 'The run ended without recording its end (its lease lapsed or is gone); '
          'the function was probably stopped'
    where l.status = 'running'
      and not exists (
        select from public.scheduler_job_lease s where s.owner = l.id and s.expires_at > now()
      )
    returning 1
  )
  select count(*)::integer from closed;
$$;

revoke all on function public.scheduler_close_abandoned_runs()
  from public, anon, authenticated, service_role;

-- Same name = update, so re-running this is harmless.
select cron.schedule(
  'nightly-scheduler-close-abandoned-runs',
  '*/10 * * * *',
  'select public.scheduler_close_abandoned_runs()'
);
