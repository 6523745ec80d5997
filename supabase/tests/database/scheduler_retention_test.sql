-- scheduler_purge_batch deletes only history past its period, in batches no
-- larger than asked, never a running row, and only for service_role. Runs in a
-- transaction that is rolled back, so the rows it makes never reach other tests.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(14);

-- Log rows around the 90-day boundary (now() is fixed for the transaction).
insert into public.scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at)
select gen_random_uuid(), 'retention_probe', 'cron', 'succeeded', ts, ts + interval '1 second'
from (values
  (now() - interval '91 days'),
  (now() - interval '120 days'),
  (now() - interval '89 days'),
  (now() - interval '1 day')
) as t(ts);
insert into public.scheduler_execution_log (id, job_name, trigger, status, started_at)
values (gen_random_uuid(), 'retention_probe', 'cron', 'running',
  now() - interval '200 days');

-- pg_cron history around its 14-day boundary.
insert into cron.job_run_details (jobid, runid, database, username, command, status, start_time, end_time)
select 0, nextval('cron.runid_seq'), 'postgres', 'postgres', 'retention probe', 'succeeded', ts, ts
from (values
  (now() - interval '15 days'),
  (now() - interval '13 days')
) as t(ts);

set local role service_role;

select is(
  public.scheduler_purge_batch('scheduler_execution_log', now(), 1), 1,
  'a batch deletes at most p_batch_size rows'
);
reset role;
select is(
  (select array_agg(extract(day from now() - started_at)::int order by started_at)
   from public.scheduler_execution_log where job_name = 'retention_probe' and status = 'succeeded'),
  array[91, 89, 1], 'the oldest row goes first'
);
set local role service_role;
select ok(
  public.scheduler_purge_batch('scheduler_execution_log', now(), 50000) >= 1,
  'the next batch deletes the rest'
);
reset role;

select is(
  (select count(*)::int from public.scheduler_execution_log
   where job_name = 'retention_probe' and status = 'succeeded'
     and started_at < now() - interval '90 days'),
  0, 'finished log rows older than 90 days are gone'
);
select is(
  (select count(*)::int from public.scheduler_execution_log
   where job_name = 'retention_probe' and status = 'succeeded'),
  2, 'log rows younger than 90 days stay'
);
select is(
  (select count(*)::int from public.scheduler_execution_log
   where job_name = 'retention_probe' and status = 'running'),
  1, 'a running row stays whatever its age'
);

set local role service_role;
select ok(
  public.scheduler_purge_batch('cron.job_run_details', now(), 50000) >= 1,
  'pg_cron history past 14 days is purged through the function'
);
reset role;
select is(
  (select array_agg(extract(day from now() - end_time)::int)
   from cron.job_run_details where command = 'retention probe'),
  array[13], 'only pg_cron rows older than 14 days went'
);

-- A changed period applies at once.
update public.scheduler_retention_policy set keep_days = 30 where target = 'scheduler_execution_log';
set local role service_role;
select is(
  public.scheduler_purge_batch('scheduler_execution_log', now(), 50000) >= 1,
  true, 'a shorter keep_days purges more'
);
reset role;
select is(
  (select count(*)::int from public.scheduler_execution_log
   where job_name = 'retention_probe' and status = 'succeeded'),
  1, 'with keep_days 30 only the 1-day-old row stays'
);

select throws_ok(
  $$select public.scheduler_purge_batch('pg_authid', now(), 10)$$,
  '22023', null, 'an unknown target is refused'
);
select throws_ok(
  $$select public.scheduler_purge_batch('scheduler_execution_log', now(), 0)$$,
  '22023', null, 'a batch size of 0 is refused'
);
select is(
  has_function_privilege('anon', 'public.scheduler_purge_batch(text, timestamptz, integer)', 'execute'),
  false, 'anon cannot purge'
);
select is(
  has_function_privilege('authenticated', 'public.scheduler_purge_batch(text, timestamptz, integer)', 'execute'),
  false, 'authenticated cannot purge'
);

select * from finish();
rollback;
