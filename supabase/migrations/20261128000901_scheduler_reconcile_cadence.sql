-- How soon a dead run is retried: the sweep (scheduler_reconcile) closes a run
-- whose lease lapsed (30 s without a heartbeat) and dispatches its next attempt
-- once the job's backoff has passed. Every five minutes made that up to five
-- minutes late. pg_cron 1.5+ (hosted Supabase runs 1.6) takes seconds
-- schedules: every 10 seconds there. pg_cron 1.4 (Debian's, the local stack)
-- has minutes only: every minute. The sweep is a few index lookups when there
-- is nothing to do, and takes an advisory lock, so two sweeps never overlap.

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
