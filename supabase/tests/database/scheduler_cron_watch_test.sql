-- scheduler_cron_watch: since when the nightly pg_cron job has been active, the
-- instant doctor judges nights from. The alerts sweep keeps it: an active job
-- keeps its first sighting, an inactive or missing one clears it, and one
-- active again starts anew. As postgres, in a rolled-back transaction.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(5);

-- As after a sweep that saw the job inactive: the next one sees it active again.
update scheduler_cron_watch set active_since = null where jobname = 'nightly-scheduler';
select scheduler_check_alerts();
select is(
  (select active_since from scheduler_cron_watch where jobname = 'nightly-scheduler'), now(),
  'an alerts sweep that sees the nightly job active records since when'
);

update scheduler_cron_watch set active_since = '2026-01-01T00:00:00Z'
where jobname = 'nightly-scheduler';
select scheduler_check_alerts();
select is(
  (select active_since from scheduler_cron_watch where jobname = 'nightly-scheduler'),
  '2026-01-01T00:00:00Z'::timestamptz,
  'an alerts sweep keeps the active job''s first sighting'
);

select cron.alter_job((select jobid from cron.job where jobname = 'nightly-scheduler'),
  active := false);
select scheduler_watch_cron();
select is(
  (select active_since from scheduler_cron_watch where jobname = 'nightly-scheduler'), null,
  'an inactive nightly job has no active_since'
);

select cron.alter_job((select jobid from cron.job where jobname = 'nightly-scheduler'),
  active := true);
select scheduler_watch_cron();
select is(
  (select active_since from scheduler_cron_watch where jobname = 'nightly-scheduler'), now(),
  'active again: its nights are judged from now on'
);

select cron.unschedule('nightly-scheduler');
select scheduler_watch_cron();
select is(
  (select active_since from scheduler_cron_watch where jobname = 'nightly-scheduler'), null,
  'a missing nightly job has no active_since'
);

select * from finish();
rollback;
