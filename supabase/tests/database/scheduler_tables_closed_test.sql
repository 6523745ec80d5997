-- The scheduler's own tables are closed to the API roles: RLS on, and no
-- privilege for anon or authenticated on any of them. Runs under pg_prove (the
-- way `supabase test db` runs supabase/tests/database), inside a transaction
-- that is rolled back.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(18);

select ok(
  (select relrowsecurity from pg_class where oid = format('public.%I', t)::regclass),
  format('row level security is on for %s', t)
)
from unnest(array[
  'scheduler_execution_log', 'scheduler_job_lease', 'scheduler_nightly_job', 'scheduler_dispatch',
  'scheduler_cron_watch'
]) as t;

select is(
  (select has_table_privilege(r, format('public.%I', t), 'select, insert, update, delete')),
  false,
  format('%s has no privilege on %s', r, t)
)
from unnest(array[
  'scheduler_execution_log', 'scheduler_job_lease', 'scheduler_nightly_job', 'scheduler_dispatch',
  'scheduler_cron_watch'
]) as t
cross join unnest(array['anon', 'authenticated']) as r;

select is(
  has_function_privilege('anon', 'public.scheduler_current_secret()', 'execute'),
  false,
  'anon cannot read the shared secret'
);
select is(
  has_function_privilege('authenticated', 'public.scheduler_current_secret()', 'execute'),
  false,
  'authenticated cannot read the shared secret'
);
select is(
  has_function_privilege('service_role', 'public.scheduler_current_secret()', 'execute'),
  true,
  'service_role can read the shared secret'
);

select * from finish();
rollback;
