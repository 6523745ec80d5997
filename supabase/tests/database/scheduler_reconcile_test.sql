-- The reconciliation sweep's decisions, at chosen instants: a dispatch answered
-- non-2xx is lost at once, a silent one only after the grace; retries wait out
-- their backoff (except a run whose worker died), stop at max_attempts and at
-- the window's end; a job that runs
-- after another starts once that one is done with the slot. Everything happens
-- inside one transaction that is rolled back, so nothing pg_net queues is sent.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(19);

-- These nights are dispatched by hand below; no catch-up of earlier nights (issue 17) joins them.
alter table scheduler_nightly_job alter column catch_up set default 'none';
update scheduler_nightly_job set catch_up = 'none';

-- tap_late's first attempt is made by hand just before its window ends, so its
-- time of night is after the window (the sweep does not start it at 02:00).
insert into scheduler_nightly_job (job_name, max_attempts, retry_backoff_ms, run_at) values
  ('tap_first', 2, 60000, null), ('tap_silent', 3, 60000, null), ('tap_late', 3, 0, '23:00');
insert into scheduler_nightly_job (job_name, run_after, latest_start) values
  ('tap_after', 'tap_first', '04:00');

-- Attempt 1 of tap_first answered 500; tap_silent's dispatch got no answer at all.
insert into net._http_response (id, status_code, content, timed_out, created)
values (900000000001, 500, 'boom', false, '2100-01-01 02:00:01+00');
insert into scheduler_dispatch (id, job_name, slot, attempt, kind, request_id, created_at) values
  ('00000000-0000-4000-8000-0000000000a1', 'tap_first', '2100-01-01', 1, 'cron', 900000000001,
   '2100-01-01 02:00:00+00'),
  ('00000000-0000-4000-8000-0000000000b1', 'tap_silent', '2100-01-01', 1, 'cron', 900000000002,
   '2100-01-01 02:00:00+00');

select * from scheduler_reconcile('2100-01-01 02:00:30+00');
select results_eq(
  $$select status, attempt, trigger, error_message from scheduler_execution_log
    where job_name = 'tap_first'$$,
  $$values ('lost'::text, 1, 'cron'::text, 'The function URL answered HTTP 500'::text)$$,
  'a dispatch answered 500 is recorded lost, with the status code'
);
select is(
  (select outcome from scheduler_dispatch where id = '00000000-0000-4000-8000-0000000000b1'),
  null, 'a silent dispatch is not lost within the grace'
);
select is(
  (select count(*)::int from scheduler_dispatch where job_name = 'tap_first'), 1,
  'no retry before the backoff has passed'
);

select * from scheduler_reconcile('2100-01-01 02:01:02+00');
select results_eq(
  $$select d.attempt, d.kind, d.previous_execution_id = l.id from scheduler_dispatch d
    join scheduler_execution_log l on l.job_name = d.job_name and l.attempt = 1
    where d.job_name = 'tap_first' and d.attempt = 2$$,
  $$values (2, 'retry'::text, true)$$,
  'after 60 s the sweep retries as attempt 2, following the lost run'
);
-- Dispatches the sweep makes are stamped with the real now(); move this one to the test's night.
update scheduler_dispatch set created_at = '2100-01-01 02:01:02+00'
where job_name = 'tap_first' and attempt = 2;
select is(
  (select count(*)::int from scheduler_dispatch where job_name = 'tap_after'), 0,
  'the job that runs after tap_first waits while tap_first has attempts left'
);

select * from scheduler_reconcile('2100-01-01 02:02:01+00');
select is(
  (select lost_reason from scheduler_dispatch where id = '00000000-0000-4000-8000-0000000000b1'),
  'No answer from pg_net within 00:02:00', 'a silent dispatch is lost after the grace'
);

-- Attempt 2 of tap_first runs and fails.
update scheduler_dispatch set outcome = 'delivered',
  execution_id = '00000000-0000-4000-8000-0000000000f2'
where job_name = 'tap_first' and attempt = 2;
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at,
  dispatch_id, slot, attempt)
select '00000000-0000-4000-8000-0000000000f2', 'tap_first', 'retry', 'failed',
  '2100-01-01 02:01:03+00', '2100-01-01 02:01:30+00', id, slot, attempt
from scheduler_dispatch where job_name = 'tap_first' and attempt = 2;

select * from scheduler_reconcile('2100-01-01 02:30:00+00');
select is(
  (select max(attempt) from scheduler_dispatch where job_name = 'tap_first'), 2,
  'no attempt past max_attempts'
);
select ok(
  scheduler_slot_settled('tap_first', '2100-01-01', '2100-01-01 02:30:00+00'),
  'a job out of attempts is done with the slot'
);
select results_eq(
  $$select attempt, kind from scheduler_dispatch where job_name = 'tap_after'$$,
  $$values (1, 'cron'::text)$$,
  'the job that runs after tap_first is dispatched once tap_first is done'
);
update scheduler_dispatch set created_at = '2100-01-01 02:30:00+00' where job_name = 'tap_after';
select * from scheduler_reconcile('2100-01-01 02:31:00+00');
select is(
  (select count(*)::int from scheduler_dispatch where job_name = 'tap_after'), 1,
  'and only once'
);

-- tap_late: lost just before its window ends, swept just after.
insert into scheduler_dispatch (id, job_name, slot, attempt, kind, created_at) values
  ('00000000-0000-4000-8000-0000000000c1', 'tap_late', '2100-01-01', 1, 'cron',
   '2100-01-01 05:57:00+00');
select * from scheduler_reconcile('2100-01-01 06:00:30+00');
select is(
  (select count(*)::int from scheduler_dispatch where job_name = 'tap_late'), 1,
  'no new attempt after the window ends'
);
select is(
  (select status from scheduler_execution_log where job_name = 'tap_late'), 'lost',
  'what is left at the window''s end stays recorded as lost'
);

-- A slot first dispatched late (by hand, in the day) gets a window as long, from then.
select is(
  scheduler_slot_window_end('tap_late', '2100-01-02'),
  '2100-01-02 06:00:00+00'::timestamptz, 'the window ends at window_end on the slot''s date'
);
insert into scheduler_dispatch (job_name, slot, attempt, kind, created_at) values
  ('tap_late', '2100-01-03', 1, 'cron', '2100-01-03 14:00:00+00');
select is(
  scheduler_slot_window_end('tap_silent', '2100-01-03'),
  '2100-01-03 18:00:00+00'::timestamptz, 'a late slot gets the same length of window'
);
-- One job dispatched by hand late (scheduler_dispatch()) moves its own window only.
insert into scheduler_dispatch (job_name, slot, attempt, kind, created_at, by_hand) values
  ('tap_first', '2100-01-04', 1, 'cron', '2100-01-04 14:00:00+00', true);
select results_eq(
  $$select scheduler_slot_window_end('tap_first', '2100-01-04'),
           scheduler_slot_window_end('tap_silent', '2100-01-04')$$,
  $$values ('2100-01-04 18:00:00+00'::timestamptz, '2100-01-04 06:00:00+00'::timestamptz)$$,
  'a job dispatched late by hand gets its own window, and moves no other job''s'
);

-- A paused job is not dispatched at 02:00.
update scheduler_nightly_job set pause_reason = 'tap test' where job_name <> 'heartbeat';
select scheduler_dispatch_nightly('2100-02-01');
select results_eq(
  $$select job_name from scheduler_dispatch where slot = '2100-02-01'$$,
  $$values ('heartbeat'::text)$$,
  'scheduler_dispatch_nightly() skips paused jobs'
);
select is(
  (select payload from scheduler_dispatch where slot = '2100-02-01'), '{}'::jsonb,
  'the nightly dispatch carries an empty payload'
);

-- A run whose worker died (its lease lapsed): closed as worker_lost and retried by the same
-- sweep, without the 60 s failure backoff.
insert into scheduler_nightly_job (job_name, max_attempts, retry_backoff_ms) values ('tap_dead', 3, 60000);
insert into scheduler_dispatch (id, job_name, slot, attempt, kind, created_at, outcome, execution_id)
values ('00000000-0000-4000-8000-0000000000d1', 'tap_dead', '2100-01-01', 1, 'cron',
  '2100-01-01 02:00:00+00', 'delivered', '00000000-0000-4000-8000-0000000000d2');
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, heartbeat_at,
  dispatch_id, slot, attempt)
values ('00000000-0000-4000-8000-0000000000d2', 'tap_dead', 'cron', 'running',
  '2100-01-01 02:00:01+00', '2100-01-01 02:00:21+00', '00000000-0000-4000-8000-0000000000d1',
  '2100-01-01', 1);
insert into scheduler_job_lease (job_name, owner, acquired_at, expires_at)
values ('tap_dead', '00000000-0000-4000-8000-0000000000d2', '2100-01-01 02:00:01+00',
  '2100-01-01 02:00:51+00');
select * from scheduler_reconcile('2100-01-01 02:00:55+00');
select results_eq(
  $$select status, stop_reason, finished_at from scheduler_execution_log
    where id = '00000000-0000-4000-8000-0000000000d2'$$,
  $$values ('timed_out'::text, 'worker_lost'::text, '2100-01-01 02:00:21+00'::timestamptz)$$,
  'a run whose lease lapsed is closed at its last heartbeat as worker_lost'
);
select results_eq(
  $$select attempt, kind from scheduler_dispatch where job_name = 'tap_dead' and attempt = 2$$,
  $$values (2, 'retry'::text)$$,
  'and retried by the same sweep, 34 s after its end, inside the 60 s failure backoff'
);

select * from finish();
rollback;
