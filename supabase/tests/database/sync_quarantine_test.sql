-- The quarantine behind hlf_dynamics_sync's dead-letter path (migration
-- 20261128000401), called directly as postgres in a rolled-back transaction:
-- holding counts attempts, a held record is due once a UTC day on later
-- nights until its job's max_quarantine_attempts, releasing takes it out, and
-- the status view counts what waits. Closed to the API roles.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(12);

insert into organisation (id, code, name)
values ('00000000-0000-0000-0000-0000000000e1', 'pgtap_quarantine', 'pgTAP quarantine');
insert into peer_mentor (id, organisation_id, full_name)
values ('00000000-0000-0000-0000-0000000000e2', '00000000-0000-0000-0000-0000000000e1', 'M');
insert into certification (id, peer_mentor_id, certification_type, issued_at, expires_at)
values ('00000000-0000-0000-0000-0000000002a1', '00000000-0000-0000-0000-0000000000e2', 'basic',
        '2025-01-01', '2027-01-01'),
       ('00000000-0000-0000-0000-0000000002a2', '00000000-0000-0000-0000-0000000000e2', 'basic',
        '2025-01-01', '2027-01-01');
insert into scheduler_nightly_job (job_name, enabled, max_quarantine_attempts)
values ('pgtap_q_job', false, 2);

select lives_ok($$select scheduler_sync_quarantine_hold('pgtap_q', 'pgtap_q_job',
    '[{"certification_id": "00000000-0000-0000-0000-0000000002a1", "portal_status": 400,
       "error_message": "HTTP 400 (''0x80040203'')"},
      {"certification_id": "00000000-0000-0000-0000-0000000002a2", "portal_status": 422,
       "error_message": "HTTP 422"}]', '2026-11-28T02:10:00Z')$$,
  'two refused records are held');
select results_eq($$select attempts, portal_status from scheduler_sync_quarantine
    where sync_name = 'pgtap_q' order by certification_id$$,
  $$values (1, 400), (1, 422)$$, 'each with one attempt and the portal''s status');
select is_empty($$select from scheduler_sync_quarantine_due('pgtap_q', '2026-11-28T04:00:00Z', 10)$$,
  'nothing is due again the same UTC night');
select is((select count(*)::int from scheduler_sync_quarantine_due('pgtap_q', '2026-11-29T02:00:00Z', 10)),
  2, 'both are due the next night');
select is((select count(*)::int from scheduler_sync_quarantine_due('pgtap_q', '2026-11-29T02:00:00Z', 1)),
  1, 'due is bounded by its limit');
select results_eq($$select certification_id, status from scheduler_sync_quarantine_due(
    'pgtap_q', '2026-11-29T02:00:00Z', 10) order by certification_id limit 1$$,
  $$values ('00000000-0000-0000-0000-0000000002a1'::uuid, 'active'::text)$$,
  'due records come as the certification stands now');

select scheduler_sync_quarantine_hold('pgtap_q', 'pgtap_q_job',
  '[{"certification_id": "00000000-0000-0000-0000-0000000002a1", "portal_status": 400,
     "error_message": "HTTP 400 again"}]', '2026-11-29T02:05:00Z');
select results_eq($$select attempts, error_message, last_attempt_at from scheduler_sync_quarantine
    where certification_id = '00000000-0000-0000-0000-0000000002a1'$$,
  $$values (2, 'HTTP 400 again'::text, '2026-11-29T02:05:00Z'::timestamptz)$$,
  'a second refusal counts a second attempt and keeps the latest error');
select is((select count(*)::int from scheduler_sync_quarantine_due('pgtap_q', '2026-11-30T02:00:00Z', 10)),
  1, 'at the job''s max_quarantine_attempts (2) a record is no longer due');
select results_eq($$select retrying, needs_person from scheduler_sync_quarantine_status
    where sync_name = 'pgtap_q'$$,
  $$values (1, 1)$$, 'the status view counts one still retried and one left for a person');

select is(scheduler_sync_quarantine_release('pgtap_q',
    array['00000000-0000-0000-0000-0000000002a2'::uuid, '00000000-0000-0000-0000-0000000002ff'::uuid]),
  1, 'release counts only what was held');
select is((select count(*)::int from scheduler_sync_quarantine where sync_name = 'pgtap_q'),
  1, 'the released record left the quarantine');

select is(
  has_function_privilege('anon', 'public.scheduler_sync_quarantine_hold(text, text, jsonb, timestamptz)', 'execute')
    or has_function_privilege('authenticated', 'public.scheduler_sync_quarantine_due(text, timestamptz, integer)', 'execute')
    or has_table_privilege('anon', 'public.scheduler_sync_quarantine', 'select')
    or has_table_privilege('authenticated', 'public.scheduler_sync_quarantine_status', 'select'),
  false, 'the quarantine is closed to anon and authenticated');

select * from finish();
rollback;
