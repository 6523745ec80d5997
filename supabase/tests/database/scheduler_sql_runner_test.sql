-- The SQL runner's parts (issue 16), in a rolled-back transaction: the budget
-- rule and its one-batch-always progress, work remaining until the last window
-- is walked, the same p_now twice changing nothing, errors and a lost lease
-- stopping the part, the retention runner, a job without a SQL runner refused
-- in words, and the sweep's fallback: once, only when every attempt was lost
-- and no function attempt can follow in time, with one alert. The COMMIT
-- between batches (scheduler_run_sql_part) cannot run inside a transaction;
-- tests/integration/sql_runner_test.ts runs it.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(25);

-- Year 2001: nothing else on the stack expires that early, so counts are exact.
-- Due on 2001-06-01: three. Expiring within 30 days: two (one within 7).
insert into organisation (id, code, name)
values ('00000000-0000-0000-0000-0000000005f1', 'pgtap_sqlrunner', 'pgTAP SQL runner');
insert into peer_mentor (id, organisation_id, full_name)
values ('00000000-0000-0000-0000-0000000005f2', '00000000-0000-0000-0000-0000000005f1', 'M');
insert into certification (id, peer_mentor_id, certification_type, issued_at, expires_at)
select ('00000000-0000-0000-0000-0000000005' || lpad(n::text, 2, '0'))::uuid,
       '00000000-0000-0000-0000-0000000005f2', 'basic', '2000-01-01', at
from (values (1, '2001-01-01T00:00:00Z'::timestamptz), (2, '2001-02-01T00:00:00Z'),
             (3, '2001-05-31T00:00:00Z'), (4, '2001-06-05T00:00:00Z'),
             (5, '2001-06-20T00:00:00Z'), (6, '2001-09-01T00:00:00Z')) as c(n, at);

-- One step of certification_expiry_check's runner with no run (no lease).
create function pg_temp.step(p_deadline timestamptz, p_part jsonb,
  p_payload jsonb default '{"batch_size": 2}', p_now timestamptz default '2001-06-01')
returns jsonb language sql as $$
  select public.scheduler_sql_step(null, 'certification_expiry_check', 'certification_expiry_check_sql',
    p_now, p_deadline, p_payload, p_part);
$$;
-- A whole part with all the time in the world: steps until done or stopped.
create function pg_temp.part(p_runner text, p_job text, p_payload jsonb, p_now timestamptz,
  p_part jsonb default null)
returns jsonb language plpgsql as $$
declare v_part jsonb := p_part;
begin
  loop
    v_part := public.scheduler_sql_step(null, p_job, p_runner, p_now, 'infinity', p_payload, v_part);
    exit when (v_part ->> 'done')::boolean or v_part ->> 'stopped_by' is not null;
  end loop;
  return v_part;
end;
$$;
create function pg_temp.expired() returns bigint language sql as $$
  select count(*) from certification
  where peer_mentor_id = '00000000-0000-0000-0000-0000000005f2' and status = 'expired';
$$;

-- Budget: the first batch always runs, even past the deadline, so a part makes progress.
create temp table first_part as select pg_temp.step('2000-01-01', null) as p;
select is((select p ->> 'batches' from first_part), '1', 'the first batch runs even past the deadline');
select is((select p -> 'summary' ->> 'expired' from first_part), '2', 'it expired one batch (2)');
select is((select (p ->> 'done')::boolean from first_part), false, 'work remains after it');
-- ... and then no further batch starts once the deadline is near.
create temp table stopped as select pg_temp.step('2000-01-01', (select p from first_part)) as p;
select is((select p ->> 'stopped_by' from stopped), 'deadline',
  'past the deadline the next batch does not start');
select is(pg_temp.expired(), 2::bigint, 'and nothing more was expired');
select is((select p ->> 'batches' from stopped), '1', 'the part still counts one batch');

-- Work remains: the part goes on from its state until every window is walked.
create temp table finished as select pg_temp.part('certification_expiry_check_sql',
  'certification_expiry_check', '{"batch_size": 2}', '2001-06-01', (select p from first_part)) as p;
select is((select (p ->> 'done')::boolean from finished), true, 'the part ends done');
select is((select p -> 'summary' from finished),
  '{"as_of": "2001-06-01T00:00:00.000Z", "expired": 3, "notices": {"7": 1, "30": 2}}'::jsonb,
  'its summary: the three due expired, two 30-day notices and one 7-day notice');
select is(pg_temp.expired(), 3::bigint, 'all three due certifications are expired');
select cmp_ok((select (p ->> 'batches')::int from finished), '>=', 4,
  'in batches of two, over the expiry and both windows');

-- Idempotence: the same p_now again changes nothing.
create temp table again as select pg_temp.part('certification_expiry_check_sql',
  'certification_expiry_check', '{}', '2001-06-01') as p;
select is((select p -> 'summary' from again),
  '{"as_of": "2001-06-01T00:00:00.000Z", "expired": 0, "notices": {"7": 0, "30": 0}}'::jsonb,
  'a second part at the same instant expires and queues nothing');
select is((select count(*) from certification_expiry_notice
           where peer_mentor_id = '00000000-0000-0000-0000-0000000005f2'), 3::bigint,
  'the notices stay three');

-- A bad payload stops the part with the error; a lost lease stops it before any batch.
select matches((select p ->> 'error' from (select pg_temp.step('infinity', null, '{"windows": [1]}') as p) s),
  'unknown payload field ''windows''', 'a payload the job does not know stops the part with its error');
select is(
  (select p ->> 'stopped_by' from (select public.scheduler_sql_step(gen_random_uuid(),
    'certification_expiry_check', 'certification_expiry_check_sql', '2001-06-01', 'infinity', '{}',
    null) as p) s),
  'lease_lost', 'a run that does not hold the job''s lease runs no batch');

-- The retention runner: the same purge, target by target, and then nothing.
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at)
select gen_random_uuid(), 'tap_old', 'manual', 'succeeded', t, t
from generate_series('1999-01-01'::timestamptz, '1999-01-03', interval '1 day') t;
select is((select p -> 'summary' -> 'deleted' from (select pg_temp.part('scheduler_retention_sql',
  'scheduler_retention', '{"batch_size": 2}', '2000-01-01') as p) s),
  '{"cron.job_run_details": 0, "scheduler_alert": 0, "scheduler_dispatch": 0, "scheduler_execution_log": 3}'::jsonb,
  'scheduler_retention_sql purges every target, in batches');
select is((select p -> 'summary' -> 'deleted' ->> 'scheduler_execution_log' from (select pg_temp.part(
  'scheduler_retention_sql', 'scheduler_retention', '{}', '2000-01-01') as p) s), '0',
  'and a second part finds nothing');

-- hlf_dynamics_sync has no SQL runner, and says why when pinned.
select throws_like($$update scheduler_nightly_job set runner = 'sql' where job_name = 'hlf_dynamics_sync'$$,
  '%has no SQL runner, so it cannot be pinned%Dynamics portal over HTTP%',
  'pinning the sync to SQL is refused with the reason');

-- The fallback. tap_fb (one attempt) is lost; tap_failed's attempt failed; tap_late is
-- lost near its window's end with attempts left.
insert into scheduler_nightly_job (job_name, max_attempts, retry_backoff_ms, sql_runner) values
  ('tap_fb', 1, 0, 'certification_expiry_check_sql'),
  ('tap_failed', 1, 0, 'certification_expiry_check_sql'),
  ('tap_late', 3, 600000, 'certification_expiry_check_sql');
insert into net._http_response (id, status_code, error_msg, timed_out, created) values
  (900000005001, null, 'Connection refused', false, '2100-01-01 02:00:01+00'),
  (900000005003, null, 'Connection refused', false, '2100-01-01 05:50:01+00');
insert into scheduler_dispatch (id, job_name, slot, attempt, kind, request_id, created_at) values
  ('00000000-0000-4000-8000-0000000005a1', 'tap_fb', '2100-01-01', 1, 'cron', 900000005001,
   '2100-01-01 02:00:00+00'),
  ('00000000-0000-4000-8000-0000000005a3', 'tap_late', '2100-01-01', 1, 'cron', 900000005003,
   '2100-01-01 05:50:00+00');
insert into scheduler_dispatch (id, job_name, slot, attempt, kind, created_at, outcome, execution_id)
values ('00000000-0000-4000-8000-0000000005a2', 'tap_failed', '2100-01-01', 1, 'cron',
  '2100-01-01 02:00:00+00', 'delivered', '00000000-0000-4000-8000-0000000005e2');
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at,
  dispatch_id, slot, attempt)
values ('00000000-0000-4000-8000-0000000005e2', 'tap_failed', 'cron', 'failed',
  '2100-01-01 02:00:01+00', '2100-01-01 02:00:02+00', '00000000-0000-4000-8000-0000000005a2',
  '2100-01-01', 1);

select * from scheduler_reconcile('2100-01-01 05:50:30+00');
select results_eq(
  $$select job_name, kind, attempt, runner, request_id is null from scheduler_dispatch
    where slot = '2100-01-01' and kind = 'fallback' order by job_name$$,
  $$values ('tap_fb'::text, 'fallback'::text, 1, 'sql'::text, true),
           ('tap_late', 'fallback', 1, 'sql', true)$$,
  'every attempt lost and none left (tap_fb), or the next due too near the window''s end (tap_late): '
  'the SQL runner gets the slot, with no HTTP request; a failed attempt (tap_failed) does not');
select alike((select runner_reason from scheduler_dispatch where job_name = 'tap_fb' and kind = 'fallback'),
  'Fallback: every attempt of the night was lost%Connection refused%', 'the dispatch says why');
select results_eq(
  $$select job_name, kind from scheduler_alert where slot = '2100-01-01' order by job_name$$,
  $$values ('tap_fb'::text, 'sql_fallback'::text), ('tap_late', 'sql_fallback')$$,
  'one alert per night that ran without the function');

-- The SQL runner's run of tap_late is lost too: nothing retries or falls back again.
update scheduler_dispatch set created_at = '2100-01-01 05:40:00+00' where kind = 'fallback';
select * from scheduler_reconcile('2100-01-01 05:55:00+00');
select results_eq(
  $$select job_name, count(*)::int from scheduler_dispatch
    where slot = '2100-01-01' and job_name like 'tap\_%'
    group by job_name order by job_name$$,
  $$values ('tap_failed'::text, 1), ('tap_fb', 2), ('tap_late', 2)$$,
  'a later sweep dispatches nothing more: the fallback runs once');
select is((select count(*)::int from scheduler_alert where slot = '2100-01-01'), 2,
  'and alerts once');

-- A job pinned to SQL is retried like any job, by its SQL runner again (no HTTP request).
insert into scheduler_nightly_job (job_name, max_attempts, retry_backoff_ms, runner, sql_runner)
values ('tap_pinned', 2, 0, 'sql', 'certification_expiry_check_sql');
insert into scheduler_dispatch (id, job_name, slot, attempt, kind, created_at, outcome, execution_id,
  runner)
values ('00000000-0000-4000-8000-0000000005a9', 'tap_pinned', '2100-01-01', 1, 'cron',
  '2100-01-01 02:00:00+00', 'delivered', '00000000-0000-4000-8000-0000000005e9', 'sql');
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at,
  dispatch_id, slot, attempt, runner)
values ('00000000-0000-4000-8000-0000000005e9', 'tap_pinned', 'cron', 'failed',
  '2100-01-01 02:00:01+00', '2100-01-01 02:00:02+00', '00000000-0000-4000-8000-0000000005a9',
  '2100-01-01', 1, 'sql');
select * from scheduler_reconcile('2100-01-01 02:01:00+00');
select results_eq(
  $$select attempt, kind, runner, request_id is null from scheduler_dispatch
    where job_name = 'tap_pinned' and attempt = 2$$,
  $$values (2, 'retry'::text, 'sql'::text, true)$$,
  'a pinned job''s failed attempt is retried by its SQL runner');

-- The alert stays open while only the SQL runner succeeds; the function's next success resolves it.
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at, runner)
values ('00000000-0000-4000-8000-0000000005e7', 'tap_fb', 'manual', 'succeeded',
  '2100-01-01 05:56:00+00', '2100-01-01 05:56:01+00', 'sql');
select * from scheduler_check_alerts('2100-01-01 05:57:00+00');
select is((select resolved_at from scheduler_alert where job_name = 'tap_fb' and kind = 'sql_fallback'),
  null, 'a success of the SQL runner does not resolve the fallback alert');
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at, runner)
values ('00000000-0000-4000-8000-0000000005e8', 'tap_fb', 'manual', 'succeeded',
  '2100-01-01 07:00:00+00', '2100-01-01 07:00:01+00', 'function');
select * from scheduler_check_alerts('2100-01-01 07:01:00+00');
select is((select resolved_by from scheduler_alert where job_name = 'tap_fb' and kind = 'sql_fallback'),
  '00000000-0000-4000-8000-0000000005e8'::uuid, 'the function''s next success resolves it');

select * from finish();
rollback;
