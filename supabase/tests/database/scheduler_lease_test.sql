-- The lease SQL the function relies on (scheduler_acquire_lease,
-- scheduler_release_lease) and the sweep of abandoned runs
-- (scheduler_close_abandoned_runs), as postgres, in one rolled-back
-- transaction. The two-session race of the acquire loop needs two connections
-- and stays in tests/integration/lease_test.ts.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(11);

-- A lease, a refusal while it lives, a takeover once it lapsed.
insert into scheduler_execution_log (id, job_name, trigger, status, started_at)
values ('00000000-0000-0000-0000-00000000000a', 'pgtap_lease', 'cron', 'running',
        '2026-01-01T02:00:00Z');

select is(
  (select acquired from scheduler_acquire_lease('pgtap_lease',
    '00000000-0000-0000-0000-00000000000a', '2026-01-01T02:00:00Z', '2026-01-01T02:03:00Z')),
  true, 'a free lease is taken');
select results_eq(
  $$select acquired, held_by from scheduler_acquire_lease('pgtap_lease',
    '00000000-0000-0000-0000-00000000000b', '2026-01-01T02:02:59Z', '2026-01-01T02:06:00Z')$$,
  $$values (false, '00000000-0000-0000-0000-00000000000a'::uuid)$$,
  'a live lease is refused and names its holder');
select is(
  (select acquired from scheduler_acquire_lease('pgtap_lease',
    '00000000-0000-0000-0000-00000000000b', '2026-01-01T02:03:00Z', '2026-01-01T02:06:00Z')),
  true, 'a lapsed lease is taken over');
select results_eq(
  $$select status, finished_at from scheduler_execution_log
    where id = '00000000-0000-0000-0000-00000000000a'$$,
  $$values ('timed_out'::text, '2026-01-01T02:03:00Z'::timestamptz)$$,
  'the takeover closes the dead run as timed_out at its lease''s expiry');
select lives_ok(
  $$select scheduler_release_lease('pgtap_lease', '00000000-0000-0000-0000-00000000000a')$$,
  'a stale owner may call release');
select is(
  (select owner from scheduler_job_lease where job_name = 'pgtap_lease'),
  '00000000-0000-0000-0000-00000000000b'::uuid,
  'but cannot release a lease taken over');
select scheduler_release_lease('pgtap_lease', '00000000-0000-0000-0000-00000000000b');
select is_empty(
  $$select from scheduler_job_lease where job_name = 'pgtap_lease'$$,
  'the holder releases its lease');

-- The sweep: a running row with no lease, one with a lapsed lease, one live.
insert into scheduler_execution_log (id, job_name, trigger, status, started_at) values
  ('00000000-0000-0000-0000-0000000000c1', 'pgtap_sweep_a', 'cron', 'running', now() - interval '1 hour'),
  ('00000000-0000-0000-0000-0000000000c2', 'pgtap_sweep_b', 'cron', 'running', now() - interval '10 minutes'),
  ('00000000-0000-0000-0000-0000000000c3', 'pgtap_sweep_c', 'cron', 'running', now());
insert into scheduler_job_lease (job_name, owner, acquired_at, expires_at) values
  ('pgtap_sweep_b', '00000000-0000-0000-0000-0000000000c2', now() - interval '10 minutes',
   now() - interval '7 minutes'),
  ('pgtap_sweep_c', '00000000-0000-0000-0000-0000000000c3', now(), now() + interval '3 minutes');
select ok(scheduler_close_abandoned_runs() >= 2, 'the sweep closes the abandoned runs');
select results_eq(
  $$select job_name, status from scheduler_execution_log
    where job_name like 'pgtap_sweep_%' order by job_name$$,
  $$values ('pgtap_sweep_a', 'timed_out'), ('pgtap_sweep_b', 'timed_out'), ('pgtap_sweep_c', 'running')$$,
  'no lease or a lapsed one: timed_out; a live lease: still running');
select matches(
  (select error_message from scheduler_execution_log where job_name = 'pgtap_sweep_a'),
  'lease lapsed or is gone', 'the closed row says why');
select is(
  (select schedule from cron.job where jobname = 'nightly-scheduler-close-abandoned-runs'),
  '*/10 * * * *', 'pg_cron sweeps every ten minutes');

select * from finish();
rollback;
