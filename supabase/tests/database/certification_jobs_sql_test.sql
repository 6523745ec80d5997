-- The SQL behind the nightly jobs, called directly as postgres in a rolled-back
-- transaction: certification_expire_batch and
-- certification_queue_expiry_notices_batch (certification_expiry_check), and
-- the change feed and cursor behind hlf_dynamics_sync. The adapters' calls
-- through PostgREST stay in tests/integration.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(12);

-- Year 2001: no other data expires that early, so the counts are exact.
insert into organisation (id, code, name)
values ('00000000-0000-0000-0000-0000000000f1', 'pgtap_jobs', 'pgTAP jobs');
insert into peer_mentor (id, organisation_id, full_name)
values ('00000000-0000-0000-0000-0000000000f2', '00000000-0000-0000-0000-0000000000f1', 'M');
insert into certification (id, peer_mentor_id, certification_type, issued_at, expires_at)
select ('00000000-0000-0000-0000-0000000001' || lpad(n::text, 2, '0'))::uuid,
       '00000000-0000-0000-0000-0000000000f2', 'basic', '2000-01-01', at
from (values (1, '2001-01-01T00:00:00Z'::timestamptz), (2, '2001-02-01T00:00:00Z'),
             (3, '2001-05-31T23:59:59.999999Z'), (4, '2001-06-03T00:00:00.123456Z'),
             (5, '2001-06-03T00:00:00.123456Z'), (6, '2001-06-20T00:00:00Z')) as c(n, at);

select results_eq($$select expired, more from certification_expire_batch('2001-06-01', 2)$$,
  $$values (2, true)$$, 'a full batch expires two and says there is more');
select results_eq($$select expired, more from certification_expire_batch('2001-06-01', 2)$$,
  $$values (1, false)$$, 'the last batch expires the rest');
select results_eq($$select expired, more from certification_expire_batch('2001-06-01', 2)$$,
  $$values (0, false)$$, 'a second night finds nothing');
select is(
  (select expired_at from certification where id = '00000000-0000-0000-0000-000000000103'),
  '2001-06-01T00:00:00Z'::timestamptz, 'expired_at is the caller''s clock, not now()');
select throws_ok($$select * from certification_expire_batch('2001-06-01', 0)$$, '22023', null,
  'a batch size below 1 is refused');

select is((select sum(queued)::int from certification_queue_expiry_notices_batch('2001-06-01', 30, 10)),
  3, 'three certifications expire within 30 days, ties on a microsecond included');
select is((select sum(queued)::int from certification_queue_expiry_notices_batch('2001-06-01', 30, 10)),
  0, 'each 30-day notice is queued once');
select is((select sum(queued)::int from certification_queue_expiry_notices_batch('2001-06-01', 7, 10)),
  2, 'the 7-day notices are separate');

-- The change feed returns only rows below its snapshot's xmin: rows this open
-- transaction wrote are never in it, however the cursor stands.
select is_empty(
  $$select from scheduler_certification_changes('pgtap_jobs', null, null, 100)$$,
  'rows of a transaction still open are not in the feed');
select throws_ok(
  $$select from scheduler_certification_changes('pgtap_jobs', '999999999999', null, 10)$$,
  'P0001', null, 'a cursor ahead of the cluster''s transaction ids is refused');
select throws_ok(
  $$select from scheduler_certification_changes('pgtap_jobs', null, null, 1001)$$,
  'P0001', null, 'a page is at most 1000 rows');
select is(
  (select change_xid from certification where id = '00000000-0000-0000-0000-000000000101'),
  pg_current_xact_id(), 'every write stamps the row with its transaction id');

select * from finish();
rollback;
