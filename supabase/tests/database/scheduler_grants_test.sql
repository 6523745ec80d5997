-- Who may call the scheduler's SQL: the dispatch functions belong to pg_cron
-- (postgres) alone, the function's RPCs to service_role, and the API roles
-- reach neither them nor Vault. As postgres (not a superuser, as on hosted),
-- in a rolled-back transaction. What PostgREST answers those roles stays in
-- tests/integration/access_control_test.ts.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(101);

select is(has_function_privilege(r, f, 'execute'), false, format('%s cannot execute %s', r, f))
from unnest(array[
  'public.scheduler_dispatch(text, date, jsonb)',
  'public.scheduler_dispatch_nightly(date)',
  'public.scheduler_enqueue_dispatch(text, date, text, integer, uuid, jsonb, text, text)',
  'public.scheduler_dispatch_due(timestamptz)',
  'public.scheduler_catch_up(timestamptz)',
  'public.scheduler_track_pause()',
  'public.scheduler_reconcile(timestamptz, interval)',
  'public.scheduler_close_dead_run(uuid)',
  'public.scheduler_dispatch_dependents(text, date, timestamptz)',
  'public.scheduler_slot_settled(text, date, timestamptz)',
  'public.scheduler_slot_window_end(text, date)',
  'public.scheduler_slot_night_start(text, date)',
  'public.scheduler_record_lost_dispatch(uuid, text, timestamptz)',
  'public.scheduler_dispatch_timeout_ms()',
  'public.scheduler_slot_ended_partial(text, date)',
  'public.scheduler_check_quarantine_alerts(timestamptz)',
  'public.scheduler_quarantined_needs_person(text)',
  'public.scheduler_sql_step(uuid, text, text, timestamptz, timestamptz, jsonb, jsonb)',
  'public.scheduler_run_sql_part(uuid, text, timestamptz, timestamptz, jsonb, jsonb)',
  'public.scheduler_run_sql_dispatches(integer)',
  'public.scheduler_alert_sql_fallback(text, date, timestamptz)',
  'public.certification_expiry_check_sql(timestamptz, jsonb, jsonb)',
  'public.scheduler_retention_sql(timestamptz, jsonb, jsonb)',
  'public.scheduler_watch_cron()'
]) as f
cross join unnest(array['anon', 'authenticated', 'service_role']) as r;

select is(has_function_privilege('service_role', f, 'execute'), true,
  format('service_role can execute %s', f))
from unnest(array[
  'public.scheduler_start_run(uuid, text, uuid, timestamptz, integer, boolean, text, text)',
  'public.scheduler_heartbeat(uuid, text, timestamptz, integer)',
  'public.scheduler_finish_run(uuid, text, text, timestamptz, text, jsonb, boolean, jsonb)',
  'public.scheduler_pause_job(text, text, text)',
  'public.scheduler_resume_job(text, text)',
  'public.scheduler_cancel(uuid, text)',
  'public.scheduler_replay(text, date, text, text)',
  'public.scheduler_night_grid(integer, timestamptz)',
  'public.certification_expire_batch(timestamptz, integer, tid)',
  'public.scheduler_certification_changes(text, text, uuid, integer)'
]) as f;

select is(has_function_privilege(r, f, 'execute'), false, format('%s cannot execute %s', r, f))
from unnest(array[
  'public.scheduler_start_run(uuid, text, uuid, timestamptz, integer, boolean, text, text)',
  'public.scheduler_heartbeat(uuid, text, timestamptz, integer)',
  'public.scheduler_pause_job(text, text, text)',
  'public.scheduler_resume_job(text, text)',
  'public.scheduler_cancel(uuid, text)',
  'public.scheduler_replay(text, date, text, text)',
  'public.scheduler_night_grid(integer, timestamptz)'
]) as f
cross join unnest(array['anon', 'authenticated']) as r;

select is(has_schema_privilege(r, 'vault', 'usage'), false, format('%s has no usage on vault', r))
from unnest(array['anon', 'authenticated']) as r;

-- postgres is not a superuser, yet its security-definer functions read Vault.
select is((select rolsuper from pg_roles where rolname = 'postgres'), false,
  'postgres is not a superuser, as on hosted');
select is((select r.rolname from pg_extension e join pg_roles r on r.oid = e.extowner
  where e.extname = 'supabase_vault'), 'supabase_admin', 'supabase_admin owns Vault');
set local role service_role;
select isnt(public.scheduler_current_secret(), null,
  'service_role reads the secret through postgres''s security-definer function');
reset role;

select * from finish();
rollback;
