-- Who sees which peer mentors' certifications: every caller kind against every
-- target kind, through every certification RPC, generated from the table of
-- expectations below (one line per caller kind: adding a permutation is one
-- line there, plus its fixture rows if it needs new links). Also: the tables
-- stay closed to anon and authenticated, and no link can cross organisations.
-- Runs under pg_prove inside a transaction that is rolled back.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

-- Stable ids from names, so the fixture reads as a story.
create function pg_temp.id(p_name text) returns uuid
language sql immutable as $$ select md5('visibility-test:' || p_name)::uuid $$;

-- The target kinds: peer mentors placed relative to the callers below.
create temp table target (kind text primary key, organisation text, user_name text);
insert into target values
  ('by_chapter', 'a', null),         -- current member of a1
  ('by_assignment', 'a', null),      -- member of a3 only, assigned directly to chapter_coordinator
  ('two_chapters', 'a', null),       -- current member of a1 and a3
  ('membership_ended', 'a', null),   -- was a member of a1; the membership ended yesterday
  ('other_chapter', 'a', null),      -- current member of a2
  ('other_org', 'b', null),          -- current member of b1, in organisation b
  ('self', 'a', 'peer_mentor');      -- member of a3; the peer_mentor caller's own record

-- The expectations: which targets each caller kind sees (every other target is
-- hidden), or that it may not call the RPCs at all.
create temp table expectation (caller text primary key, db_role text, may_execute boolean, sees text[]);
insert into expectation values
  ('anon',                       'anon',          false, '{}'),
  ('authenticated_no_role',      'authenticated', true,  '{}'),
  ('peer_mentor',                'authenticated', true,  '{self}'),
  ('chapter_coordinator',        'authenticated', true,  '{by_chapter,by_assignment,two_chapters}'),
  ('two_chapter_coordinator',    'authenticated', true,  '{by_chapter,two_chapters,other_chapter}'),
  ('organisation_administrator', 'authenticated', true,
    '{by_chapter,by_assignment,two_chapters,membership_ended,other_chapter,self}'),
  ('other_org_coordinator',      'authenticated', true,  '{other_org}'),
  ('ended_coordinator',          'authenticated', true,  '{}'),
  ('service_role',               'service_role',  false, '{}');

-- Fixture ---------------------------------------------------------------------
insert into public.organisation (id, code, name) values
  (pg_temp.id('org:a'), 'visibility_test_a', 'Visibility test A'),
  (pg_temp.id('org:b'), 'visibility_test_b', 'Visibility test B');
insert into public.chapter (id, organisation_id, name)
select pg_temp.id('chapter:' || c), pg_temp.id('org:' || left(c, 1)), c
from unnest(array['a1', 'a2', 'a3', 'b1']) as c;
insert into auth.users (id, aud, role, email)
select pg_temp.id('user:' || caller), 'authenticated', 'authenticated', caller || '@visibility.test'
from expectation where db_role = 'authenticated';

insert into public.peer_mentor (id, organisation_id, full_name, user_id)
select pg_temp.id('mentor:' || kind), pg_temp.id('org:' || organisation), 'Mentor ' || kind,
  pg_temp.id('user:' || user_name)
from target;

insert into public.chapter_membership (organisation_id, chapter_id, peer_mentor_id, starts_at, ends_at)
select pg_temp.id('org:' || left(chapter, 1)), pg_temp.id('chapter:' || chapter),
  pg_temp.id('mentor:' || kind), now() - interval '2 years', now() + ends_in
from (values
  ('by_chapter', 'a1', null::interval),
  ('by_assignment', 'a3', null),
  ('two_chapters', 'a1', null),
  ('two_chapters', 'a3', null),
  ('membership_ended', 'a1', interval '-1 day'),
  ('other_chapter', 'a2', null),
  ('other_org', 'b1', null),
  ('self', 'a3', null)
) as m (kind, chapter, ends_in);

insert into public.coordinator (id, organisation_id, user_id, full_name)
select pg_temp.id('coordinator:' || caller), pg_temp.id('org:' || organisation),
  pg_temp.id('user:' || caller), 'Coordinator ' || caller
from (values
  ('chapter_coordinator', 'a'),
  ('two_chapter_coordinator', 'a'),
  ('organisation_administrator', 'a'),
  ('other_org_coordinator', 'b'),
  ('ended_coordinator', 'a')
) as c (caller, organisation);

insert into public.coordinator_role
  (organisation_id, coordinator_id, role, chapter_id, starts_at, ends_at)
select c.organisation_id, c.id, r.role, pg_temp.id('chapter:' || r.chapter),
  now() + r.starts_in, now() + r.ends_in
from (values
  ('chapter_coordinator', 'chapter_coordinator', 'a1', interval '-1 year', null::interval),
  ('two_chapter_coordinator', 'chapter_coordinator', 'a1', interval '-1 year', null),
  ('two_chapter_coordinator', 'chapter_coordinator', 'a2', interval '-1 year', null),
  ('organisation_administrator', 'organisation_administrator', null, interval '-1 year', null),
  ('other_org_coordinator', 'organisation_administrator', null, interval '-1 year', null),
  ('other_org_coordinator', 'chapter_coordinator', 'b1', interval '-1 year', null),
  -- Ended, or not started yet: none of these grants anything.
  ('ended_coordinator', 'chapter_coordinator', 'a1', interval '-1 year', interval '-1 day'),
  ('ended_coordinator', 'organisation_administrator', null, interval '-1 year', interval '-1 hour'),
  ('ended_coordinator', 'chapter_coordinator', 'a2', interval '1 day', null)
) as r (caller, role, chapter, starts_in, ends_in)
join public.coordinator c on c.id = pg_temp.id('coordinator:' || r.caller);

insert into public.peer_mentor_assignment
  (organisation_id, coordinator_id, peer_mentor_id, starts_at, ends_at)
select pg_temp.id('org:a'), pg_temp.id('coordinator:' || caller), pg_temp.id('mentor:' || kind),
  now() - interval '1 year', now() + ends_in
from (values
  ('chapter_coordinator', 'by_assignment', null::interval),
  ('ended_coordinator', 'by_assignment', interval '-1 day'),
  ('ended_coordinator', 'by_chapter', interval '-1 minute')
) as a (caller, kind, ends_in);

-- Four certifications per target: active expiring in 10 days (its 30-day
-- notice queued), active for 400 more days, expired, revoked.
insert into public.certification
  (id, peer_mentor_id, certification_type, issued_at, expires_at, status, expired_at)
select pg_temp.id('cert:' || t.kind || ':' || c.state), pg_temp.id('mentor:' || t.kind),
  'peer_mentor_basic', now() + c.expires_in - interval '2 years', now() + c.expires_in + t.offset_,
  c.status, case when c.status = 'expired' then now() + c.expires_in + interval '1 day' end
from (select kind, row_number() over (order by kind) * interval '1 minute' as offset_ from target) t
cross join (values
  ('soon', interval '10 days', 'active'),
  ('far', interval '400 days', 'active'),
  ('expired', interval '-20 days', 'expired'),
  ('revoked', interval '100 days', 'revoked')
) as c (state, expires_in, status);
insert into public.certification_expiry_notice
  (certification_id, peer_mentor_id, window_days, expires_at)
select c.id, c.peer_mentor_id, 30, c.expires_at
from public.certification c join target t on c.id = pg_temp.id('cert:' || t.kind || ':soon');

-- Runs p_query as the caller (its database role, and a JWT with its user id as
-- PostgREST would set it) and returns its rows as JSON, or "denied".
create function pg_temp.run_as(p_caller text, p_query text) returns jsonb
language plpgsql as $$
declare
  v_role text;
  v_result jsonb;
begin
  select db_role into strict v_role from pg_temp.expectation where caller = p_caller;
  perform set_config('request.jwt.claims', jsonb_build_object('role', v_role,
    'sub', case when v_role = 'authenticated' then pg_temp.id('user:' || p_caller) end)::text, true);
  execute format('set local role %I', v_role);
  begin
    execute format('select coalesce(jsonb_agg(q), ''[]'') from (%s) q', p_query) into v_result;
  exception when insufficient_privilege then
    v_result := '"denied"';
  end;
  reset role;
  perform set_config('request.jwt.claims', '', true);
  return v_result;
end;
$$;

-- Every row of certification_status_list for the caller and filter, page by
-- page (3 rows a page, so the keyset is exercised).
create function pg_temp.list_all(p_caller text, p_filter text default '') returns jsonb
language plpgsql as $$
declare
  v_all jsonb := '[]';
  v_page jsonb;
  v_after text := '';
begin
  for i in 1..100 loop
    v_page := pg_temp.run_as(p_caller, format(
      'select * from public.certification_status_list(p_limit => 3%s%s)', p_filter, v_after));
    if jsonb_typeof(v_page) <> 'array' then
      return v_page;
    end if;
    v_all := v_all || v_page;
    exit when jsonb_array_length(v_page) < 3;
    v_after := format(', p_after_expires_at => %L, p_after_certification_id => %L',
      v_page -> -1 ->> 'expires_at', v_page -> -1 ->> 'certification_id');
  end loop;
  return v_all;
end;
$$;

-- What each caller got from the list (unfiltered), and from the counts.
create temp table listed as
select caller, pg_temp.list_all(caller) as rows,
  pg_temp.run_as(caller, 'select * from public.certification_status_counts()') as counts
from expectation;

-- visible / hidden / denied, as the cells compare.
create function pg_temp.verdict(p_rows jsonb, p_mentor uuid) returns text
language sql immutable as $$
  select case
    when jsonb_typeof(p_rows) <> 'array' then 'denied'
    when exists (select from jsonb_array_elements(p_rows) r
      where (r ->> 'peer_mentor_id')::uuid = p_mentor) then 'visible'
    else 'hidden' end
$$;

create function pg_temp.expected(p_caller text, p_kind text) returns text
language sql stable as $$
  select case when not e.may_execute then 'denied'
    when p_kind = any (e.sees) then 'visible' else 'hidden' end
  from pg_temp.expectation e where e.caller = p_caller
$$;

select plan(
  (select count(*)::int * 2 from expectation, target)   -- list and one-mentor cells
  + (select count(*)::int * 2 from expectation)          -- list exact set and order; counts
  + 2 * 10                                               -- direct selects on every table
  + 5 + 1 + 3 + 12 + 2                                   -- RLS, policies, function setup, privileges
  + 9                                                    -- filters, notices, bad arguments
  + 3                                                    -- no link across organisations
);

-- The matrix ------------------------------------------------------------------
select is(pg_temp.verdict(l.rows, pg_temp.id('mentor:' || t.kind)), pg_temp.expected(e.caller, t.kind),
  format('certification_status_list: %s -> %s', e.caller, t.kind))
from expectation e join listed l using (caller) cross join target t
order by e.caller, t.kind;

-- visible means all four of the mentor's certifications came back, nothing else.
select is(
  case
    when jsonb_typeof(r.rows) <> 'array' then 'denied'
    when jsonb_array_length(r.rows) = 0 then 'hidden'
    when (select array_agg((x ->> 'certification_id')::uuid order by (x ->> 'certification_id'))
      from jsonb_array_elements(r.rows) x)
      = (select array_agg(c.id order by c.id::text) from public.certification c
        where c.peer_mentor_id = pg_temp.id('mentor:' || t.kind)) then 'visible'
    else 'wrong rows: ' || r.rows::text end,
  pg_temp.expected(e.caller, t.kind),
  format('peer_mentor_certifications: %s -> %s', e.caller, t.kind))
from expectation e cross join target t
cross join lateral (select pg_temp.run_as(e.caller, format(
  'select * from public.peer_mentor_certifications(%L)', pg_temp.id('mentor:' || t.kind))) as rows) r
order by e.caller, t.kind;

-- Exactly the visible targets' certifications, in expiry order, nothing from
-- anywhere else in the database.
select is(
  case when jsonb_typeof(l.rows) = 'array' then
    (select coalesce(array_agg((x ->> 'certification_id')::uuid order by n), '{}')
     from jsonb_array_elements(l.rows) with ordinality as r (x, n)) end,
  case when e.may_execute then
    (select coalesce(array_agg(c.id order by c.expires_at, c.id), '{}') from public.certification c
     where c.peer_mentor_id in (select pg_temp.id('mentor:' || s) from unnest(e.sees) as s)) end,
  format('certification_status_list for %s: exactly the visible certifications, by expiry', e.caller))
from expectation e join listed l using (caller)
order by e.caller;

select is(l.counts,
  case when e.may_execute then jsonb_build_array(
    jsonb_build_object('status', 'active', 'certifications', 2 * cardinality(e.sees)),
    jsonb_build_object('status', 'expiring', 'certifications', cardinality(e.sees)),
    jsonb_build_object('status', 'expired', 'certifications', cardinality(e.sees)),
    jsonb_build_object('status', 'revoked', 'certifications', cardinality(e.sees)))
  else '"denied"' end,
  format('certification_status_counts for %s', e.caller))
from expectation e join listed l using (caller)
order by e.caller;

-- Closed tables ---------------------------------------------------------------
select is(
  pg_temp.run_as(caller, format('select * from %s', tbl)) in ('"denied"', '[]'),
  true,
  format('%s reads nothing from %s directly', caller, tbl))
from unnest(array['public.organisation', 'public.peer_mentor', 'public.certification',
  'public.certification_expiry_notice', 'public.chapter', 'public.chapter_membership',
  'public.coordinator', 'public.coordinator_role', 'public.peer_mentor_assignment', 'auth.users'])
  as tbl
cross join unnest(array['anon', 'organisation_administrator']) as caller
order by tbl, caller;

select ok((select relrowsecurity from pg_class where oid = format('public.%I', tbl)::regclass),
  format('row level security is on for %s', tbl))
from unnest(array['chapter', 'chapter_membership', 'coordinator', 'coordinator_role',
  'peer_mentor_assignment']) as tbl;
select is(
  (select count(*)::int from pg_policies where schemaname = 'public' and tablename in (
    'organisation', 'peer_mentor', 'certification', 'certification_expiry_notice', 'chapter',
    'chapter_membership', 'coordinator', 'coordinator_role', 'peer_mentor_assignment')),
  0, 'no policy opens the roster tables: they stay deny-by-default');

-- The RPCs ------------------------------------------------------------------
select ok(
  (select p.prosecdef and 'search_path=""' = any (p.proconfig) from pg_proc p
   where p.oid = fn::regprocedure),
  format('%s is security definer with an empty search_path', fn))
from unnest(array['public.certification_status_list(text, integer, uuid, timestamptz, uuid, integer)',
  'public.peer_mentor_certifications(uuid)', 'public.certification_status_counts(integer)']) as fn;
select is(has_function_privilege(r, fn, 'execute'), r = 'authenticated',
  format('%s %s execute %s', r, case when r = 'authenticated' then 'may' else 'may not' end, fn))
from unnest(array['public.certification_status_list(text, integer, uuid, timestamptz, uuid, integer)',
  'public.peer_mentor_certifications(uuid)', 'public.certification_status_counts(integer)']) as fn
cross join unnest(array['anon', 'authenticated', 'service_role', 'public']) as r;
select is(has_function_privilege(r, 'public.peer_mentors_visible_to(uuid)', 'execute'), false,
  format('%s may not ask whom another user sees', r))
from unnest(array['anon', 'authenticated']) as r;

-- Filters, notices, bad arguments ---------------------------------------------
select set_eq(
  format('select (x ->> ''peer_mentor_id'')::uuid from jsonb_array_elements(%L::jsonb) x',
    pg_temp.list_all('organisation_administrator', format(', p_chapter_id => %L', pg_temp.id('chapter:a3')))),
  array[pg_temp.id('mentor:by_assignment'), pg_temp.id('mentor:two_chapters'), pg_temp.id('mentor:self')],
  'the chapter filter keeps the current members of that chapter');
select is(
  pg_temp.list_all('chapter_coordinator', format(', p_chapter_id => %L', pg_temp.id('chapter:a2'))),
  '[]', 'the chapter filter on a chapter the caller does not coordinate shows only what the rule allows');
select is(
  pg_temp.list_all('organisation_administrator', format(', p_chapter_id => %L', pg_temp.id('chapter:b1'))),
  '[]', 'the chapter filter on another organisation''s chapter shows nothing');
select is(
  (select array_agg(distinct x ->> 'status') from jsonb_array_elements(
    pg_temp.list_all('chapter_coordinator', ', p_status => ''expired''')) x),
  array['expired'], 'the status filter keeps that status');
select is(
  (select array_agg(x ->> 'certification_id' order by x ->> 'certification_id') from jsonb_array_elements(
    pg_temp.list_all('two_chapter_coordinator', ', p_expiring_within_days => 30')) x),
  (select array_agg(pg_temp.id('cert:' || k || ':soon')::text order by pg_temp.id('cert:' || k || ':soon')::text)
   from unnest(array['by_chapter', 'two_chapters', 'other_chapter']) k),
  'expiring within 30 days keeps the active certifications expiring in that window');
select is(
  (select x -> 'notice_windows_days' from jsonb_array_elements(pg_temp.list_all('peer_mentor')) x
   where x ->> 'certification_id' = pg_temp.id('cert:self:soon')::text),
  '[30]', 'the list shows the notice windows already queued');
select is(
  (select jsonb_path_query_array(x -> 'notices', '$[*].window_days') from jsonb_array_elements(
    pg_temp.run_as('peer_mentor', format('select * from public.peer_mentor_certifications(%L)',
      pg_temp.id('mentor:self')))) x
   where x ->> 'certification_id' = pg_temp.id('cert:self:soon')::text),
  '[30]', 'one mentor''s certifications carry their queued notices');
select throws_ok(
  'select * from public.certification_status_list(p_status => ''lapsed'')', '22023',
  'p_status must be active, expired or revoked, got ''lapsed''',
  'a bad status filter is a clear error');
select throws_ok(
  format('select * from public.certification_status_list(p_after_expires_at => %L)', now()), '22023',
  'p_after_expires_at and p_after_certification_id go together',
  'half a keyset is a clear error');

-- No link across organisations ------------------------------------------------
select throws_ok(format(
  'insert into public.peer_mentor_assignment (organisation_id, coordinator_id, peer_mentor_id)
   values (%L, %L, %L)', pg_temp.id('org:a'), pg_temp.id('coordinator:chapter_coordinator'),
  pg_temp.id('mentor:other_org')), '23503', null,
  'a coordinator cannot be assigned a mentor of another organisation');
select throws_ok(format(
  'insert into public.chapter_membership (organisation_id, chapter_id, peer_mentor_id)
   values (%L, %L, %L)', pg_temp.id('org:a'), pg_temp.id('chapter:a1'),
  pg_temp.id('mentor:other_org')), '23503', null,
  'a mentor cannot join a chapter of another organisation');
select throws_ok(format(
  'insert into public.coordinator_role (organisation_id, coordinator_id, role, chapter_id)
   values (%L, %L, ''chapter_coordinator'', %L)', pg_temp.id('org:b'),
  pg_temp.id('coordinator:other_org_coordinator'), pg_temp.id('chapter:a1')), '23503', null,
  'a coordinator cannot coordinate a chapter of another organisation');

select * from finish();
rollback;
