-- scheduler_check_alerts() at chosen instants, on a job of its own: nothing
-- while attempts remain or the window is open, 'missed' and 'overran' once it
-- closes, nothing for nights before alerts_from, and resolution by a later
-- success. In a transaction that is rolled back (pg_net's queue included).
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(15);

-- Whatever the background pg_cron check does, it waits for this transaction.
-- (The checks below also judge the stack's real jobs at these instants; the
-- assertions look at alert_probe only, and everything is rolled back.)
select pg_advisory_xact_lock(hashtext('scheduler_check_alerts'));

insert into public.scheduler_nightly_job (job_name, max_attempts, window_end, alerts_from)
values ('alert_probe', 3, '06:00', '2030-01-02 00:00+00');

-- Night 2030-01-02: one failed attempt of three, window open at 03:00.
insert into public.scheduler_dispatch (id, job_name, slot, attempt, kind, created_at, outcome)
values ('00000000-0000-0000-0000-00000000a001', 'alert_probe', '2030-01-02', 1, 'cron',
  '2030-01-02 02:00+00', 'delivered');
insert into public.scheduler_execution_log
  (id, job_name, trigger, status, started_at, finished_at, error_message, dispatch_id, slot, attempt)
values ('00000000-0000-0000-0000-00000000b001', 'alert_probe', 'cron', 'failed',
  '2030-01-02 02:00+00', '2030-01-02 02:01+00', 'boom', '00000000-0000-0000-0000-00000000a001',
  '2030-01-02', 1);

select public.scheduler_check_alerts('2030-01-02 03:00+00');
select is(
  (select count(*)::int from public.scheduler_alert where job_name = 'alert_probe'), 0,
  'no alert while attempts remain and the window is open'
);

-- Night 2030-01-03: still running at 06:30, past its 06:00 window.
insert into public.scheduler_dispatch (id, job_name, slot, attempt, kind, created_at, outcome)
values ('00000000-0000-0000-0000-00000000a002', 'alert_probe', '2030-01-03', 1, 'cron',
  '2030-01-03 02:00+00', 'delivered');
insert into public.scheduler_execution_log
  (id, job_name, trigger, status, started_at, dispatch_id, slot, attempt, heartbeat_at)
values ('00000000-0000-0000-0000-00000000b002', 'alert_probe', 'cron', 'running',
  '2030-01-03 02:00+00', '00000000-0000-0000-0000-00000000a002', '2030-01-03', 1,
  '2030-01-03 06:29+00');

select public.scheduler_check_alerts('2030-01-03 05:59+00');
select is(
  (select array_agg(to_char(slot, 'MM-DD') || ' ' || kind order by slot)
   from public.scheduler_alert where job_name = 'alert_probe'),
  array['01-02 failed'],
  'at 05:59 on the 3rd the night of the 2nd is settled (its window closed), the 3rd is not'
);
select public.scheduler_check_alerts('2030-01-03 06:30+00');
select is(
  (select kind || ' ' || last_status from public.scheduler_alert
   where job_name = 'alert_probe' and slot = '2030-01-03'),
  'overran running', 'a run still going after its window is reported as overran'
);

-- Night 2030-01-04: nothing dispatched at all.
select public.scheduler_check_alerts('2030-01-04 05:59+00');
select is(
  (select count(*)::int from public.scheduler_alert where job_name = 'alert_probe' and slot = '2030-01-04'),
  0, 'an undispatched night is not missed before its window ends'
);
select public.scheduler_check_alerts('2030-01-04 06:00+00');
select is(
  (select kind || ' ' || attempts from public.scheduler_alert
   where job_name = 'alert_probe' and slot = '2030-01-04'),
  'missed 0', 'an undispatched night is missed once its window ends'
);
select is(
  (select pause_reason is not null from public.scheduler_nightly_job where job_name = 'alert_probe'),
  true, 'the third failed night in a row (failed, overran, missed) pauses the job'
);

-- Nights before alerts_from raise nothing.
update public.scheduler_nightly_job set pause_reason = null, alerts_from = '2030-02-10 00:00+00'
where job_name = 'alert_probe';
select public.scheduler_check_alerts('2030-02-10 12:00+00');
select is(
  (select array_agg(to_char(slot, 'MM-DD') || ' ' || kind order by slot)
   from public.scheduler_alert where job_name = 'alert_probe' and slot >= '2030-02-08'),
  array['02-10 missed'], 'nights before alerts_from (the 8th and 9th) are not alerted on, the 10th is'
);

-- A later success of the 2nd resolves its alert, and only that one.
insert into public.scheduler_dispatch (id, job_name, slot, attempt, kind, created_at, outcome)
values ('00000000-0000-0000-0000-00000000a003', 'alert_probe', '2030-01-02', 2, 'retry',
  '2030-02-10 12:00+00', 'delivered');
insert into public.scheduler_execution_log
  (id, job_name, trigger, status, started_at, finished_at, dispatch_id, slot, attempt)
values ('00000000-0000-0000-0000-00000000b003', 'alert_probe', 'retry', 'succeeded',
  '2030-02-10 12:00+00', '2030-02-10 12:01+00', '00000000-0000-0000-0000-00000000a003',
  '2030-01-02', 2);
select public.scheduler_check_alerts('2030-02-10 12:05+00');
select is(
  (select array_agg(to_char(slot, 'MM-DD') || ' ' || (resolved_by is not null) order by slot)
   from public.scheduler_alert where job_name = 'alert_probe'),
  array['01-02 true', '01-03 false', '01-04 false', '02-10 false'],
  'the success resolves the alert of its own night only'
);
select is(
  (select resolved_by from public.scheduler_alert where job_name = 'alert_probe' and slot = '2030-01-02'),
  '00000000-0000-0000-0000-00000000b003'::uuid, 'resolved_by names the successful run'
);

-- The alert table, the retention policy and the health view are closed to the API roles.
select ok(
  (select relrowsecurity from pg_class where oid = format('public.%I', t)::regclass),
  format('row level security is on for %s', t)
)
from unnest(array['scheduler_alert', 'scheduler_retention_policy']) as t;
select is(
  has_table_privilege(r, format('public.%I', t), 'select, insert, update, delete'), false,
  format('%s has no privilege on %s', r, t)
)
from unnest(array['scheduler_alert', 'scheduler_job_health']) as t
cross join unnest(array['anon', 'authenticated']) as r;

select * from finish();
rollback;
