-- Issue 17 in SQL, at chosen instants in a rolled-back transaction (nothing
-- pg_net queues is sent): nightly times in Europe/Oslo across both DST nights
-- of 2027 (each night dispatched exactly once, at the right UTC instant),
-- catch-up after an outage (latest: one night; all: oldest first, one at a
-- time, within the window; none: nothing), cancel, pause and resume, replay.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(34);

-- The background sweep waits for this transaction.
select pg_advisory_xact_lock(hashtext('scheduler_reconcile'));

-- Time zones ------------------------------------------------------------------
insert into scheduler_nightly_job (job_name, run_at, time_zone, catch_up, added_at)
values ('tap_oslo', '02:30', 'Europe/Oslo', 'none', '2027-01-01');

select is(scheduler_slot_due_at('tap_oslo', '2027-03-27'), '2027-03-27 01:30+00'::timestamptz,
  'a winter night: 02:30 in Oslo is 01:30 UTC');
select is(scheduler_slot_due_at('tap_oslo', '2027-03-28'), '2027-03-28 01:00+00'::timestamptz,
  'spring forward: 02:30 does not exist, the first valid minute after it is 03:00 CEST (01:00 UTC)');
select is(scheduler_slot_due_at('tap_oslo', '2027-03-29'), '2027-03-29 00:30+00'::timestamptz,
  'a summer night: 02:30 in Oslo is 00:30 UTC');
select is(scheduler_slot_due_at('tap_oslo', '2027-10-31'), '2027-10-31 00:30+00'::timestamptz,
  'fall back: 02:30 happens twice; the night''s instant is the first (00:30 UTC)');
select is(scheduler_slot_due_at('tap_oslo', '2027-11-01'), '2027-11-01 01:30+00'::timestamptz,
  'winter again: 02:30 in Oslo is 01:30 UTC');

-- The sweep's due step, every five minutes for three days around each change
-- (the dispatch ids first: rows a statement inserts are not visible to its own joins).
create temporary table tap_swept on commit drop as
select t as swept_at, f.id
from generate_series('2027-03-26 12:00+00'::timestamptz, '2027-03-29 12:00+00', interval '5 minutes') t
cross join lateral scheduler_dispatch_due(t) as f(id);
insert into tap_swept
select t, f.id
from generate_series('2027-10-29 12:00+00'::timestamptz, '2027-11-01 12:00+00', interval '5 minutes') t
cross join lateral scheduler_dispatch_due(t) as f(id);
create temporary table tap_fired on commit drop as
select s.swept_at, d.job_name, d.slot from tap_swept s join scheduler_dispatch d on d.id = s.id
where d.job_name = 'tap_oslo';

select results_eq(
  $$select slot, count(*)::int, min(swept_at) from tap_fired
    where slot between '2027-03-27' and '2027-03-29' group by slot order by slot$$,
  $$values ('2027-03-27'::date, 1, '2027-03-27 01:30+00'::timestamptz),
           ('2027-03-28'::date, 1, '2027-03-28 01:00+00'::timestamptz),
           ('2027-03-29'::date, 1, '2027-03-29 00:30+00'::timestamptz)$$,
  'around spring forward each Oslo night is dispatched exactly once, at its UTC instant'
);
select results_eq(
  $$select slot, count(*)::int, min(swept_at) from tap_fired
    where slot between '2027-10-30' and '2027-11-01' group by slot order by slot$$,
  $$values ('2027-10-30'::date, 1, '2027-10-30 00:30+00'::timestamptz),
           ('2027-10-31'::date, 1, '2027-10-31 00:30+00'::timestamptz),
           ('2027-11-01'::date, 1, '2027-11-01 01:30+00'::timestamptz)$$,
  'around fall back each Oslo night is dispatched exactly once, the repeated 02:30 included'
);
select is(
  (select count(*)::int from scheduler_dispatch where job_name = 'tap_oslo'), 6,
  'six nights, six dispatches, all of kind cron'
);
select is(scheduler_slot_window_end('tap_oslo', '2027-03-28'), '2027-03-28 04:00+00'::timestamptz,
  'the window ends at 06:00 local time (04:00 UTC in summer)');
select throws_ok(
  $$update scheduler_nightly_job set time_zone = 'Europe/Atlantis' where job_name = 'tap_oslo'$$,
  '23514', null, 'a time zone PostgreSQL does not know is refused'
);

-- Catch-up after an outage ----------------------------------------------------
-- Nothing was dispatched from 2100-01-01 to 2100-01-05; the database is back
-- at 01:00 UTC on 2100-01-06, before that night's 02:00.
insert into scheduler_nightly_job (job_name, catch_up, catch_up_window, added_at) values
  ('tap_cu_latest', 'latest', 7, '2100-01-01'),
  ('tap_cu_all', 'all', 3, '2100-01-01'),
  ('tap_cu_none', 'none', 7, '2100-01-01');

-- Ends a job's waiting catch-up dispatch as a successful run.
create function pg_temp.tap_succeed(p_job text) returns void language sql as $$
  with d as (
    update scheduler_dispatch set outcome = 'delivered', execution_id = gen_random_uuid()
    where job_name = p_job and outcome is null returning *
  )
  insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at,
    dispatch_id, slot, attempt)
  select execution_id, job_name, kind, 'succeeded', '2100-01-06 01:00+00', '2100-01-06 01:01+00',
    id, slot, attempt from d;
$$;

select scheduler_catch_up('2100-01-06 01:00+00');
select results_eq(
  $$select job_name, slot, kind, attempt from scheduler_dispatch
    where job_name like 'tap\_cu\_%' order by job_name, slot$$,
  $$values ('tap_cu_all'::text, '2100-01-04'::date, 'catch_up'::text, 1),
           ('tap_cu_latest'::text, '2100-01-05'::date, 'catch_up'::text, 1)$$,
  'latest takes the most recent missed night; all starts with the oldest in its 3-night window; none takes none'
);
select scheduler_catch_up('2100-01-06 01:01+00');
select is(
  (select count(*)::int from scheduler_dispatch where job_name like 'tap\_cu\_%'), 2,
  'one at a time: nothing more while a catch-up waits'
);
select pg_temp.tap_succeed('tap_cu_all');
select pg_temp.tap_succeed('tap_cu_latest');
select scheduler_catch_up('2100-01-06 01:02+00');
select pg_temp.tap_succeed('tap_cu_all');
select scheduler_catch_up('2100-01-06 01:03+00');
select scheduler_catch_up('2100-01-06 01:04+00');
select results_eq(
  $$select slot from scheduler_dispatch where job_name = 'tap_cu_all' order by created_at, slot$$,
  $$values ('2100-01-04'::date), ('2100-01-05'::date)$$,
  'all goes on in order once the previous night ended, and never past its window (01-03 stays)'
);
select results_eq(
  $$select slot from scheduler_dispatch where job_name = 'tap_cu_latest'$$,
  $$values ('2100-01-05'::date)$$,
  'latest runs one night only'
);
select is(
  (select count(*)::int from scheduler_dispatch where job_name = 'tap_cu_none'), 0,
  'none catches up nothing'
);

-- Pause and resume ------------------------------------------------------------
select results_eq(
  $$select status from scheduler_pause_job('tap_cu_none', 'portal maintenance', 'ops@example.org')$$,
  $$values ('paused'::text)$$, 'scheduler_pause_job pauses a job'
);
select results_eq(
  $$select reason, paused_by, resumed_at from scheduler_pause where job_name = 'tap_cu_none'$$,
  $$values ('Paused by ops@example.org: portal maintenance'::text, 'ops@example.org'::text,
            null::timestamptz)$$,
  'the pause is kept with who paused the job and why'
);
select scheduler_dispatch_due('2100-01-06 02:00+00');
select is(
  (select count(*)::int from scheduler_dispatch where job_name = 'tap_cu_none'), 0,
  'a paused job is not dispatched when its night comes'
);
select results_eq(
  $$select status from scheduler_pause_job('tap_cu_none', 'again', 'x')$$,
  $$values ('already_paused'::text)$$, 'pausing a paused job says so'
);
select results_eq(
  $$select status from scheduler_resume_job('tap_cu_none', 'ops@example.org')$$,
  $$values ('resumed'::text)$$, 'scheduler_resume_job resumes it'
);
select scheduler_dispatch_due('2100-01-06 02:01+00');
select results_eq(
  $$select slot, kind from scheduler_dispatch where job_name = 'tap_cu_none'$$,
  $$values ('2100-01-06'::date, 'cron'::text)$$,
  'once resumed it is dispatched again'
);
select results_eq(
  $$select status from scheduler_resume_job('no_such_job', 'x')$$,
  $$values ('unknown_job'::text)$$, 'an unknown job is named as such'
);

-- Cancel ----------------------------------------------------------------------
insert into scheduler_nightly_job (job_name, catch_up) values ('tap_cancel', 'none');
select scheduler_enqueue_dispatch('tap_cancel', '2100-03-01', 'cron', 1);
update scheduler_dispatch set created_at = '2100-03-01 02:00+00' where job_name = 'tap_cancel';
select status from scheduler_start_run('00000000-0000-4000-8000-0000000017c1', 'tap_cancel',
  (select id from scheduler_dispatch where job_name = 'tap_cancel'), '2100-03-01 02:00:01+00',
  30000, false);
select results_eq(
  $$select status, job_name from scheduler_cancel('00000000-0000-4000-8000-0000000017c1', 'ops')$$,
  $$values ('requested'::text, 'tap_cancel'::text)$$, 'a running execution can be cancelled'
);
select is(
  scheduler_heartbeat('00000000-0000-4000-8000-0000000017c1', 'tap_cancel',
    '2100-03-01 02:00:10+00', 30000),
  'cancel_requested', 'its next heartbeat learns of it (and still holds the lease)'
);
select results_eq(
  $$select status from scheduler_cancel('00000000-0000-4000-8000-0000000017c1', 'ops')$$,
  $$values ('already_requested'::text)$$, 'a second cancel says it was already asked'
);
select scheduler_finish_run('00000000-0000-4000-8000-0000000017c1', 'tap_cancel', 'cancelled',
  '2100-03-01 02:00:12+00', 'Cancelled by an operator; the job stopped at its next safe point', null);
select results_eq(
  $$select status, cancel_requested_by, cancel_requested_at is not null, finished_at
    from scheduler_execution_log where id = '00000000-0000-4000-8000-0000000017c1'$$,
  $$values ('cancelled'::text, 'ops'::text, true, '2100-03-01 02:00:12+00'::timestamptz)$$,
  'the run ends cancelled, with who asked and when'
);
select ok(scheduler_slot_settled('tap_cancel', '2100-03-01', '2100-03-01 02:05+00'),
  'a cancelled night is settled');
select scheduler_reconcile('2100-03-01 02:10+00');
select is((select count(*)::int from scheduler_dispatch where job_name = 'tap_cancel'), 1,
  'and the sweep does not retry it');
select results_eq(
  $$select status, detail from scheduler_cancel('00000000-0000-4000-8000-0000000017c1', 'ops')$$,
  $$values ('not_running'::text, 'cancelled'::text)$$, 'a finished run cannot be cancelled'
);
-- A cancelled run whose isolate died ends cancelled, not timed out.
select status from scheduler_start_run('00000000-0000-4000-8000-0000000017c2', 'tap_cancel', null,
  '2100-03-02 02:00+00', 30000, true);
select scheduler_cancel('00000000-0000-4000-8000-0000000017c2', 'ops');
select scheduler_close_dead_run('00000000-0000-4000-8000-0000000017c2');
select is((select status from scheduler_execution_log where id = '00000000-0000-4000-8000-0000000017c2'),
  'cancelled', 'a cancel-requested run that died is closed as cancelled');

-- Replay ----------------------------------------------------------------------
-- tap_cancel's night of 2100-03-01 ended; replaying it makes a recorded dispatch that runs.
update scheduler_job_lease set owner = null where job_name = 'tap_cancel';
select results_eq(
  $$select status from scheduler_replay('tap_cancel', '2999-01-01', 'ops', null)$$,
  $$values ('future_night'::text)$$, 'a night that has not come cannot be replayed'
);
select results_eq(
  $$select status from scheduler_replay('tap_cancel', '2026-01-01', 'ops@example.org',
      'portal was down')$$,
  $$values ('dispatched'::text)$$, 'a past night of an idle job is replayed'
);
select results_eq(
  $$select kind, attempt, requested_by, reason from scheduler_dispatch
    where job_name = 'tap_cancel' and slot = '2026-01-01'$$,
  $$values ('replay'::text, 1, 'ops@example.org'::text, 'portal was down'::text)$$,
  'a replay is a dispatch of kind replay that keeps who asked and why'
);
select results_eq(
  $$select status from scheduler_replay('tap_cancel', '2026-01-01', 'ops', null)$$,
  $$values ('running'::text)$$, 'a replay is refused while the job has a dispatch waiting'
);

select * from finish();
rollback;
