-- The run functions the Edge Function relies on (scheduler_start_run,
-- scheduler_heartbeat, scheduler_finish_run) and the one dead-run closer
-- (scheduler_close_dead_run), as postgres, in one rolled-back transaction.
-- The two-session case (a start waiting on a finishing run's lock) needs two
-- connections and stays in tests/integration/lease_test.ts.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(10);

select results_eq(
  $$select status, trigger, started_at from scheduler_start_run('00000000-0000-0000-0000-00000000000a',
    'pgtap_lease', null, '2026-01-01T02:00:00Z', 30000, true)$$,
  $$values ('running'::text, 'manual'::text, '2026-01-01T02:00:00Z'::timestamptz)$$,
  'a free lease is taken and the run recorded running, in one call');
select is(
  scheduler_heartbeat('00000000-0000-0000-0000-00000000000a', 'pgtap_lease',
    '2026-01-01T02:00:10Z', 30000),
  'held', 'a heartbeat renews the lease for the TTL');
select results_eq(
  $$select status, held_by from scheduler_start_run('00000000-0000-0000-0000-00000000000b',
    'pgtap_lease', null, '2026-01-01T02:00:39Z', 30000, true)$$,
  $$values ('skipped'::text, '00000000-0000-0000-0000-00000000000a'::uuid)$$,
  'a live lease is refused, recorded skipped, and names its holder');
select is(
  (select status from scheduler_start_run('00000000-0000-0000-0000-00000000000c',
    'pgtap_lease', null, '2026-01-01T02:00:40Z', 30000, true)),
  'running', 'a lapsed lease is taken over');
select results_eq(
  $$select status, finished_at from scheduler_execution_log
    where id = '00000000-0000-0000-0000-00000000000a'$$,
  $$values ('timed_out'::text, '2026-01-01T02:00:10Z'::timestamptz)$$,
  'the takeover closes the dead run as timed_out at its last heartbeat');
select scheduler_finish_run('00000000-0000-0000-0000-00000000000a', 'pgtap_lease', 'succeeded',
  '2026-01-01T02:00:41Z', null, null);
select is(
  (select owner from scheduler_job_lease where job_name = 'pgtap_lease'),
  '00000000-0000-0000-0000-00000000000c'::uuid,
  'a stale owner cannot release a lease taken over');
select scheduler_finish_run('00000000-0000-0000-0000-00000000000c', 'pgtap_lease', 'succeeded',
  '2026-01-01T02:00:50Z', null, '{"n": 1}');
select results_eq(
  $$select l.owner, l.released_at, x.status, x.duration_ms from scheduler_job_lease l
    join scheduler_execution_log x on x.id = '00000000-0000-0000-0000-00000000000c'
    where l.job_name = 'pgtap_lease'$$,
  $$values (null::uuid, '2026-01-01T02:00:50Z'::timestamptz, 'succeeded'::text, 10000)$$,
  'the finish writes the row and frees the lease, remembering when');
select is(
  (select started_at from scheduler_start_run('00000000-0000-0000-0000-00000000000d',
    'pgtap_lease', null, '2026-01-01T02:00:45Z', 30000, true)),
  '2026-01-01T02:00:50Z'::timestamptz,
  'a start with an earlier clock begins when the previous run ended, not before');
select is(
  (select status from scheduler_start_run('00000000-0000-0000-0000-00000000000e',
    'pgtap_lease_prod', null, '2026-01-01T02:00:45Z', 30000, false)),
  'refused', 'without a dispatch, production refuses');
select is_empty(
  $$select from scheduler_execution_log where id = '00000000-0000-0000-0000-00000000000e'$$,
  'and writes nothing');

select * from finish();
rollback;
