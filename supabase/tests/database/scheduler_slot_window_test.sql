-- A job's window comes from its own slot's schedule: the night's dispatches by
-- the schedule (02:00, or late through scheduler_dispatch_nightly('<date>')),
-- its own dispatches and those of the jobs it runs after; never another job's
-- dispatch by hand (scheduler_dispatch()). Rolled back, so nothing pg_net
-- queues is sent.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(7);

-- Catching up nights never dispatched is a policy of its own (issue 17), off here.
alter table scheduler_nightly_job alter column catch_up set default 'none';
update scheduler_nightly_job set catch_up = 'none';
insert into scheduler_nightly_job (job_name, run_at) values ('tap_timed', '03:30');
insert into scheduler_nightly_job (job_name, run_after, latest_start) values
  ('tap_next', 'heartbeat', '04:00');

-- One manual heartbeat in the afternoon of a night nothing else dispatched; it ran.
insert into scheduler_dispatch (id, job_name, slot, attempt, kind, created_at, outcome, by_hand)
values ('00000000-0000-4000-8000-0000000004a1', 'heartbeat', '2100-04-01', 1, 'cron',
  '2100-04-01 15:52:00+00', 'delivered', true);
update scheduler_dispatch set execution_id = '00000000-0000-4000-8000-0000000004f1'
where id = '00000000-0000-4000-8000-0000000004a1';
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at,
  dispatch_id, slot, attempt)
values ('00000000-0000-4000-8000-0000000004f1', 'heartbeat', 'cron', 'succeeded', '2100-04-01 15:52:01+00', '2100-04-01 15:52:02+00',
  '00000000-0000-4000-8000-0000000004a1', '2100-04-01', 1);
select is(
  scheduler_slot_window_end('tap_timed', '2100-04-01'),
  '2100-04-01 06:00:00+00'::timestamptz,
  'a manual dispatch of another job does not move a timed job''s window'
);
select is(
  scheduler_slot_window_end('tap_next', '2100-04-01'),
  '2100-04-01 19:52:00+00'::timestamptz,
  'a job that runs after the dispatched one gets its window from that dispatch'
);
select is(
  scheduler_slot_window_end('heartbeat', '2100-04-01'),
  '2100-04-01 19:52:00+00'::timestamptz,
  'and the dispatched job from its own'
);
select * from scheduler_reconcile('2100-04-01 16:00:00+00');
select is(
  (select string_agg(job_name, ', ') from scheduler_dispatch
   where slot = '2100-04-01' and job_name not in ('heartbeat', 'tap_next')),
  null, 'so the sweep starts no other job of that night in the afternoon, 03:30 or 02:00'
);

-- A night dispatched late as a whole moves every job's window, timed ones too.
select scheduler_dispatch_nightly('2100-04-02');
update scheduler_dispatch set created_at = '2100-04-02 15:00:00+00' where slot = '2100-04-02';
select is(
  scheduler_slot_window_end('tap_timed', '2100-04-02'),
  '2100-04-02 17:30:00+00'::timestamptz,
  'a night dispatched late gives its timed job as long a window from then'
);
select is(
  scheduler_slot_window_end('tap_timed', '2100-04-03'),
  '2100-04-03 06:00:00+00'::timestamptz,
  'a night with no dispatch ends at window_end'
);

select scheduler_dispatch('heartbeat', '2100-04-05');
select is(
  (select by_hand from scheduler_dispatch where job_name = 'heartbeat' and slot = '2100-04-05'),
  true, 'scheduler_dispatch() marks its dispatch as made by hand'
);

select * from finish();
rollback;
