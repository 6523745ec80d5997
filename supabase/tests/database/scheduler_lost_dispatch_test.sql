-- Dispatches that never become runs, recorded truthfully: a function URL in
-- Vault that pg_net refuses is a `lost` dispatch with the reason (never an
-- error to pg_cron or the operator; a bad alert webhook URL does not stop the
-- alerts either), and a dispatch pg_net timed out on ends
-- when the timeout happened, its retry's backoff counting from there. Rolled
-- back, so nothing pg_net queues is sent.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(10);

-- A malformed URL in Vault: pg_net raises inside the caller's transaction.
select vault.update_secret(id, 'htp//bad url') from vault.secrets
where name = 'nightly_scheduler_url';
select lives_ok(
  $$select scheduler_dispatch('heartbeat', '2100-03-01')$$,
  'scheduler_dispatch() does not raise for a malformed function URL'
);
select results_eq(
  $$select outcome, lost_reason like 'The function URL in Vault is not a valid URL: %htp//bad url%',
      request_id is null
    from scheduler_dispatch where job_name = 'heartbeat' and slot = '2100-03-01'$$,
  $$values ('lost'::text, true, true)$$,
  'the dispatch is written and recorded lost, naming the URL'
);
select results_eq(
  $$select x.status, x.trigger, x.attempt, x.error_message = d.lost_reason, x.id = d.execution_id
    from scheduler_execution_log x join scheduler_dispatch d on d.id = x.dispatch_id
    where d.job_name = 'heartbeat' and d.slot = '2100-03-01'$$,
  $$values ('lost'::text, 'cron'::text, 1, true, true)$$,
  'a lost row in the execution log says why'
);
select lives_ok(
  $$select scheduler_dispatch_nightly('2100-03-02')$$,
  'the nightly dispatch does not raise either'
);
select is(
  (select count(*)::int from scheduler_dispatch
   where slot = '2100-03-02' and outcome is distinct from 'lost'),
  0, 'every job of the night is recorded lost'
);
select ok(
  (select count(*) > 0 from scheduler_dispatch where slot = '2100-03-02'),
  'and the night has its dispatches'
);
select throws_like(
  $$select scheduler_doctor_heartbeat()$$,
  'The function URL in Vault is not a valid URL: %',
  'doctor''s heartbeat names the bad URL'
);

-- A malformed alert webhook URL: the alert is still raised, only not posted.
select vault.create_secret('htp//bad hook', 'nightly_scheduler_alert_webhook_url');
select is(scheduler_notify_webhook('tap'), null,
  'a webhook URL pg_net refuses is a warning, not an error that stops the alerts');

-- A dispatch pg_net timed out on: its batch began at 02:00:01, the timeout is 10 s.
insert into scheduler_nightly_job (job_name, max_attempts, retry_backoff_ms)
values ('tap_timeout', 3, 60000);
insert into net._http_response (id, status_code, timed_out, error_msg, created)
values (900000000101, null, true, 'Timeout of 10000 ms reached', '2100-03-03 02:00:01+00');
insert into scheduler_dispatch (job_name, slot, attempt, kind, request_id, created_at)
values ('tap_timeout', '2100-03-03', 1, 'cron', 900000000101, '2100-03-03 02:00:00+00');
select * from scheduler_reconcile('2100-03-03 02:00:30+00');
select is(
  (select finished_at from scheduler_execution_log
   where job_name = 'tap_timeout' and slot = '2100-03-03'),
  '2100-03-03 02:00:11+00'::timestamptz,
  'a timed-out dispatch is lost when the timeout happened, not at pg_net''s batch start'
);
-- 60 s of backoff from 02:00:11, not from 02:00:01.
select * from scheduler_reconcile('2100-03-03 02:01:05+00');
select is(
  (select count(*)::int from scheduler_dispatch
   where job_name = 'tap_timeout' and slot = '2100-03-03'), 1,
  'its retry''s backoff counts from the timeout'
);

select * from finish();
rollback;
