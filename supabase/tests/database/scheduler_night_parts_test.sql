-- Issue 10's parts and quarantine as issue 9's operator side sees them
-- (the health view in 20261128000503, the sweep in 20261128000104, the alerts
-- in 20261128000501), at chosen instants in a rolled-back
-- transaction: the health view counts attempts, not continuation dispatches,
-- and shows tonight as one run of N parts with the quarantined records that
-- wait; the sweep does not retry a night stopped at its part cap, which is
-- settled at once and reported 'unfinished'; a night whose continuation was
-- lost is still retried; alerts carry the records left for a person, and a
-- job with such records has one open 'quarantined' alert until none waits.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(19);

-- These nights are dispatched by hand below; no catch-up of earlier nights (issue 17) joins them.
alter table scheduler_nightly_job alter column catch_up set default 'none';
update scheduler_nightly_job set catch_up = 'none';

-- The background check and sweep wait for this transaction (the calls below
-- take the same locks again, which a session may).
select pg_advisory_xact_lock(hashtext('scheduler_check_alerts'));
select pg_advisory_xact_lock(hashtext('scheduler_reconcile'));

-- The webhook goes nowhere: the transaction is rolled back before pg_net sends.
delete from vault.secrets where name = 'nightly_scheduler_alert_webhook_url';
select vault.create_secret('http://127.0.0.1:9/hook', 'nightly_scheduler_alert_webhook_url');

insert into organisation (id, code, name)
values ('00000000-0000-0000-0000-0000000006e1', 'pgtap_parts', 'pgTAP parts');
insert into peer_mentor (id, organisation_id, full_name)
values ('00000000-0000-0000-0000-0000000006e2', '00000000-0000-0000-0000-0000000006e1', 'M');
insert into certification (id, peer_mentor_id, certification_type, issued_at, expires_at)
values ('00000000-0000-0000-0000-0000000006c1', '00000000-0000-0000-0000-0000000006e2', 'basic',
        '2025-01-01', '2027-01-01'),
       ('00000000-0000-0000-0000-0000000006c2', '00000000-0000-0000-0000-0000000006e2', 'basic',
        '2025-01-01', '2027-01-01');

-- tap_parts, tonight: attempt 1 ran partial then its continuation failed; the
-- retry (attempt 2) ran partial and its continuation succeeded.
-- (Its nights are never alerted on: only its quarantine is.)
insert into scheduler_nightly_job (job_name, max_attempts, max_quarantine_attempts, alerts_from)
values ('tap_parts', 3, 2, '2200-01-01');
insert into scheduler_dispatch (id, job_name, slot, attempt, kind, created_at, outcome, execution_id)
select ('00000000-0000-4000-8000-00000000060' || n)::uuid, 'tap_parts',
       (now() at time zone 'utc')::date, attempt, kind, now() - (5 - n) * interval '1 minute',
       'delivered', ('00000000-0000-4000-8000-00000000061' || n)::uuid
from (values (1, 1, 'cron'), (2, 1, 'continuation'), (3, 2, 'retry'), (4, 2, 'continuation'))
  as v(n, attempt, kind);
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at,
  dispatch_id, slot, attempt)
select d.execution_id, d.job_name, d.kind, v.status, d.created_at, d.created_at + interval '30 seconds',
       d.id, d.slot, d.attempt
from scheduler_dispatch d
join (values (1, 'partial'), (2, 'failed'), (3, 'partial'), (4, 'succeeded')) as v(n, status)
  on d.id = ('00000000-0000-4000-8000-00000000060' || v.n)::uuid;

select is(
  (select attempts_tonight from scheduler_job_health where job_name = 'tap_parts'), 2,
  'attempts tonight counts the first dispatch and the retry, not the continuations'
);

-- tap_capped, night of 2100-02-01: two partial parts reach max_parts = 2 with
-- attempts left; nothing after them.
insert into scheduler_nightly_job (job_name, max_attempts, retry_backoff_ms, max_parts, alerts_from,
  max_quarantine_attempts)
values ('tap_capped', 3, 0, 2, '2100-02-01', 1),
       ('tap_lostpart', 3, 0, 100, '2100-02-01', 5);
insert into scheduler_nightly_job (job_name, run_after, latest_start, alerts_from)
values ('tap_capped_after', 'tap_capped', '04:00', '2100-02-01');
insert into scheduler_dispatch (id, job_name, slot, attempt, kind, created_at, outcome, execution_id,
  previous_execution_id)
values ('00000000-0000-4000-8000-000000000621', 'tap_capped', '2100-02-01', 1, 'cron',
        '2100-02-01 02:00+00', 'delivered', '00000000-0000-4000-8000-000000000631', null),
       ('00000000-0000-4000-8000-000000000622', 'tap_capped', '2100-02-01', 1, 'continuation',
        '2100-02-01 02:02+00', 'delivered', '00000000-0000-4000-8000-000000000632',
        '00000000-0000-4000-8000-000000000631'),
       -- tap_lostpart: part 1 partial, its continuation lost (pg_net never delivered it).
       ('00000000-0000-4000-8000-000000000623', 'tap_lostpart', '2100-02-01', 1, 'cron',
        '2100-02-01 02:00+00', 'delivered', '00000000-0000-4000-8000-000000000633', null),
       ('00000000-0000-4000-8000-000000000624', 'tap_lostpart', '2100-02-01', 1, 'continuation',
        '2100-02-01 02:02+00', 'lost', '00000000-0000-4000-8000-000000000634',
        '00000000-0000-4000-8000-000000000633');
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at,
  dispatch_id, slot, attempt)
values ('00000000-0000-4000-8000-000000000631', 'tap_capped', 'cron', 'partial',
        '2100-02-01 02:00:01+00', '2100-02-01 02:02+00', '00000000-0000-4000-8000-000000000621',
        '2100-02-01', 1),
       ('00000000-0000-4000-8000-000000000632', 'tap_capped', 'continuation', 'partial',
        '2100-02-01 02:02:01+00', '2100-02-01 02:04+00', '00000000-0000-4000-8000-000000000622',
        '2100-02-01', 1),
       ('00000000-0000-4000-8000-000000000633', 'tap_lostpart', 'cron', 'partial',
        '2100-02-01 02:00:01+00', '2100-02-01 02:02+00', '00000000-0000-4000-8000-000000000623',
        '2100-02-01', 1),
       ('00000000-0000-4000-8000-000000000634', 'tap_lostpart', 'continuation', 'lost',
        '2100-02-01 02:02+00', '2100-02-01 02:02:10+00', '00000000-0000-4000-8000-000000000624',
        '2100-02-01', 1);

select * from scheduler_reconcile('2100-02-01 02:10+00');
select is(
  (select count(*)::int from scheduler_dispatch where job_name = 'tap_capped'), 2,
  'the sweep does not retry a night stopped at its part cap'
);
select results_eq(
  $$select attempt, kind from scheduler_dispatch where job_name = 'tap_lostpart'
    order by attempt, kind$$,
  $$values (1, 'continuation'::text), (1, 'cron'::text), (2, 'retry'::text)$$,
  'a night whose continuation was lost is retried'
);
select ok(
  scheduler_slot_settled('tap_capped', '2100-02-01', '2100-02-01 02:10+00'),
  'a night stopped at its part cap is settled before its window ends'
);
select results_eq(
  $$select attempt, kind from scheduler_dispatch where job_name = 'tap_capped_after'$$,
  $$values (1, 'cron'::text)$$,
  'so the job that runs after it starts, not at its latest start'
);

-- What waits in quarantine: for tap_parts one record left for a person (two
-- refusals of two) and one still retried; for tap_capped one left (limit 1).
select scheduler_sync_quarantine_hold('tap_parts', 'tap_parts',
  '[{"certification_id": "00000000-0000-0000-0000-0000000006c1", "portal_status": 400,
     "error_message": "HTTP 400"},
    {"certification_id": "00000000-0000-0000-0000-0000000006c2", "portal_status": 422,
     "error_message": "HTTP 422"}]', now() - interval '1 day');
select scheduler_sync_quarantine_hold('tap_parts', 'tap_parts',
  '[{"certification_id": "00000000-0000-0000-0000-0000000006c1", "portal_status": 400,
     "error_message": "HTTP 400 (bad code)"}]', now());
select scheduler_sync_quarantine_hold('tap_capped', 'tap_capped',
  '[{"certification_id": "00000000-0000-0000-0000-0000000006c1", "portal_status": 400,
     "error_message": "HTTP 400 (bad code)"}]', '2100-02-01 02:03+00');

select results_eq(
  $$select parts_tonight, max_parts, quarantined_retrying, quarantined_needs_person
    from scheduler_job_health where job_name = 'tap_parts'$$,
  $$values (4, 100, 1, 1)$$,
  'the health view shows tonight''s parts and what waits in quarantine'
);

select * from scheduler_check_alerts('2100-02-01 02:15+00');
select results_eq(
  $$select kind, last_status, attempts, quarantined_needs_person from scheduler_alert
    where job_name = 'tap_capped' and kind <> 'quarantined'$$,
  $$values ('unfinished'::text, 'partial'::text, 1, 1)$$,
  'a night stopped at its part cap is reported unfinished, with one attempt and the records waiting'
);
select is(
  (select convert_from(q.body, 'utf8')::jsonb ->> 'text' from net.http_request_queue q
   join scheduler_alert a on a.notify_request_id = q.id
   where a.job_name = 'tap_capped' and a.kind = 'unfinished'),
  'nightly-scheduler: tap_capped did NOT FINISH (stopped with work left after 2 parts, max_parts 2, '
  'in 1 of 3 attempts) on the night of 2100-02-01. Check: deno task scheduler status --job tap_capped. '
  '1 quarantined record(s) wait for a person (scheduler_sync_quarantine)',
  'its webhook text says so'
);
select results_eq(
  $$select job_name, slot, attempts, last_error, quarantined_needs_person, resolved_at is null
    from scheduler_alert where kind = 'quarantined' and job_name like 'tap\_%' order by job_name$$,
  $$values ('tap_capped'::text, '2100-02-01'::date, 1, 'HTTP 400 (bad code)'::text, 1, true),
           ('tap_parts'::text, '2100-02-01'::date, 2, 'HTTP 400 (bad code)'::text, 1, true)$$,
  'a job with records left for a person has an open quarantined alert, nights succeeded or not'
);
select matches(
  (select convert_from(q.body, 'utf8')::jsonb ->> 'text' from net.http_request_queue q
   join scheduler_alert a on a.notify_request_id = q.id
   where a.job_name = 'tap_parts' and a.kind = 'quarantined'),
  '^nightly-scheduler: tap_parts has 1 quarantined record\(s\) WAITING FOR A PERSON: the portal '
  'refused each of them at least 2 times \(last: HTTP 400 \(bad code\)\)\. Check: ',
  'the quarantined alert''s webhook text says how many wait and why'
);
select is(
  scheduler_failed_nights('tap_capped', '2100-02-01'), 1,
  'the unfinished night counts as a failed night, the quarantine alert does not'
);

-- The next check raises nothing twice; a second record left for a person is counted.
select scheduler_sync_quarantine_hold('tap_parts', 'tap_parts',
  '[{"certification_id": "00000000-0000-0000-0000-0000000006c2", "portal_status": 422,
     "error_message": "HTTP 422"}]', now());
select * from scheduler_check_alerts('2100-02-01 02:20+00');
select results_eq(
  $$select count(*)::int, max(quarantined_needs_person) from scheduler_alert
    where job_name = 'tap_parts'$$,
  $$values (1, 2)$$,
  'one quarantined alert per job while records wait, its count kept current'
);
select is(
  (select quarantined_needs_person from scheduler_job_health where job_name = 'tap_parts'), 2,
  'and the health view agrees'
);

-- The portal accepts both: the quarantine alert resolves, with no run to name.
select scheduler_sync_quarantine_release('tap_parts',
  array['00000000-0000-0000-0000-0000000006c1', '00000000-0000-0000-0000-0000000006c2']::uuid[]);
select * from scheduler_check_alerts('2100-02-01 02:25+00');
select results_eq(
  $$select resolved_at, resolved_by, quarantined_needs_person from scheduler_alert
    where job_name = 'tap_parts'$$,
  $$values ('2100-02-01 02:25+00'::timestamptz, null::uuid, 0)$$,
  'the quarantined alert is resolved once nothing waits'
);
select is(
  (select quarantined_needs_person from scheduler_job_health where job_name = 'tap_parts'), 0,
  'nothing waits in the health view'
);

-- tap_capped's night succeeds on a later run: its unfinished alert resolves by
-- that run (an operator's scheduler_dispatch); its quarantine alert stays while the record waits.
insert into scheduler_dispatch (id, job_name, slot, attempt, kind, created_at, outcome, execution_id)
values ('00000000-0000-4000-8000-000000000625', 'tap_capped', '2100-02-01', 2, 'cron',
        '2100-02-01 03:00+00', 'delivered', '00000000-0000-4000-8000-000000000635');
insert into scheduler_execution_log (id, job_name, trigger, status, started_at, finished_at,
  dispatch_id, slot, attempt)
values ('00000000-0000-4000-8000-000000000635', 'tap_capped', 'cron', 'succeeded',
        '2100-02-01 03:00:01+00', '2100-02-01 03:01+00', '00000000-0000-4000-8000-000000000625',
        '2100-02-01', 2);
select * from scheduler_check_alerts('2100-02-01 03:05+00');
select results_eq(
  $$select kind, resolved_by from scheduler_alert where job_name = 'tap_capped' order by kind$$,
  $$values ('quarantined'::text, null::uuid),
           ('unfinished'::text, '00000000-0000-4000-8000-000000000635'::uuid)$$,
  'a success resolves the night''s alert, not the quarantine alert'
);
select is(
  (select resolved_at from scheduler_alert where job_name = 'tap_capped' and kind = 'quarantined'),
  null, 'which stays open while its record waits'
);

-- A second unfinished night alerts again (one row per night), quarantine alert aside.
select throws_ok(
  $$insert into scheduler_alert (job_name, slot, kind, attempts, raised_at)
    values ('tap_capped', '2100-02-01', 'failed', 1, now())$$,
  '23505', null, 'still one alert per job and night'
);
select throws_ok(
  $$insert into scheduler_alert (job_name, slot, kind, attempts, raised_at)
    values ('tap_capped', '2100-02-02', 'quarantined', 1, now())$$,
  '23505', null, 'and one open quarantined alert per job'
);

select * from finish();
rollback;
