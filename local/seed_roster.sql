-- LOCAL ONLY. A realistic roster so the nightly jobs have real work locally:
-- three member organisations (hlf is the one hlf_dynamics_sync talks to), each
-- with 1,500 peer mentors and 4,000 certifications (12,000 in all), spread
-- relative to now() over:
--   50 %  active, expiring in 31 days to 2 years
--    8 %  active, expiring within 7 days          (7- and 30-day notices)
--   12 %  active, expiring in 8 to 30 days        (30-day notices)
--    5 %  active but already past expires_at      (certification_expiry_check expires these)
--   17 %  expired in the past two years
--    8 %  revoked
-- Then chapters, memberships, coordinators (demo Auth users), their roles and
-- direct assignments, for the peer mentor visibility RPCs (see below).
-- Idempotent: an organisation that already exists is left alone, with its roster.
-- Run: psql "$DB_URL" -X -q -v ON_ERROR_STOP=1 -f local/seed_roster.sql

do $$
declare
  v_org record;
  v_org_id uuid;
begin
  for v_org in
    select * from (values
      ('hlf', 'Hørselshemmedes Landsforbund'),
      ('nhf', 'Norges Handikapforbund'),
      ('lhl', 'Landsforeningen for hjerte- og lungesyke')
    ) as o (code, name)
  loop
    insert into public.organisation (code, name) values (v_org.code, v_org.name)
    on conflict (code) do nothing
    returning id into v_org_id;
    continue when v_org_id is null;

    insert into public.peer_mentor (organisation_id, full_name, email)
    select v_org_id, first || ' ' || last,
      lower(translate(first || '.' || last, 'æøåÆØÅ', 'eoaEOA')) || '.' || i || '@'
        || v_org.code || '.example.org'
    from generate_series(1, 1500) as i,
      lateral (select
        (array['Ingrid', 'Ola', 'Kari', 'Lars', 'Sigrid', 'Jonas', 'Nora', 'Håkon', 'Aisha',
               'Mats', 'Emma', 'Ali', 'Solveig', 'Per', 'Marte', 'Tor'])[1 + i % 16] as first,
        (array['Hansen', 'Johansen', 'Olsen', 'Larsen', 'Andersen', 'Pedersen', 'Nilsen',
               'Kristiansen', 'Jensen', 'Karlsen', 'Berg', 'Haugen', 'Dahl', 'Lie',
               'Hagen', 'Bakken', 'Ahmed'])[1 + (i * 7) % 17] as last) as n;

    -- Spread days pseudo-randomly but reproducibly: (i * prime) % range.
    with mentor as (
      select id, row_number() over (order by id) as n
      from public.peer_mentor where organisation_id = v_org_id
    ),
    plan as (
      select i, i % 100 as bucket,
        (array['peer_mentor_basic', 'peer_mentor_advanced', 'group_leader'])[1 + i % 3] as kind
      from generate_series(1, 4000) as i
    ),
    dated as (
      select i, kind,
        case
          when bucket < 50 then now() + make_interval(days => 31 + (i * 7919) % 700)
          when bucket < 58 then now() + make_interval(hours => 12 + (i * 104729) % 156)
          when bucket < 70 then now() + make_interval(days => 8 + (i * 7919) % 23)
          when bucket < 75 then now() - make_interval(days => 1 + (i * 7919) % 30)
          when bucket < 92 then now() - make_interval(days => 31 + (i * 7919) % 700)
          else now() + make_interval(days => -200 + (i * 7919) % 600)
        end as expires_at,
        case when bucket between 75 and 91 then 'expired'
             when bucket >= 92 then 'revoked'
             else 'active' end as status
      from plan
    )
    insert into public.certification
      (peer_mentor_id, certification_type, issued_at, expires_at, status, expired_at)
    select m.id, d.kind, d.expires_at - interval '2 years', d.expires_at, d.status,
      case when d.status = 'expired' then d.expires_at + interval '1 day' end
    from dated d
    join mentor m on m.n = 1 + (d.i - 1) % 1500;
  end loop;
end;
$$;

-- Who coordinates whom, for each organisation that has no chapters yet (so a
-- database seeded before chapters existed gets them too): five chapters;
-- every mentor a member of one, every tenth of a second one, every fiftieth's
-- membership ended last month. Per chapter one coordinator (a demo Auth user,
-- coordinator.<chapter>@<org>.example.org) who is also directly assigned ten
-- mentors of the next chapter, one of those assignments ended; per
-- organisation one administrator (admin@<org>.example.org). Auth user ids are md5
-- of the e-mail, so they are the same in every local database.
do $$
declare
  v_org record;
  v_chapters text[] := array['Oslo', 'Bergen', 'Trondheim', 'Stavanger', 'Tromsø'];
begin
  for v_org in
    select o.* from public.organisation o
    where o.code in ('hlf', 'nhf', 'lhl')
      and not exists (select from public.chapter c where c.organisation_id = o.id)
  loop
    insert into public.chapter (organisation_id, name)
    select v_org.id, name from unnest(v_chapters) as name;

    with mentor as (
      select id, row_number() over (order by id) as n
      from public.peer_mentor where organisation_id = v_org.id
    ),
    chapter as (
      select id, array_position(v_chapters, name) - 1 as k
      from public.chapter where organisation_id = v_org.id
    )
    insert into public.chapter_membership
      (organisation_id, chapter_id, peer_mentor_id, starts_at, ends_at)
    select v_org.id, c.id, m.id, now() - interval '2 years',
      case when m.n % 50 = 0 and c.k = m.n % 5 then now() - interval '1 month' end
    from mentor m
    join chapter c on c.k = m.n % 5 or (m.n % 10 = 0 and c.k = (m.n + 1) % 5);

    insert into auth.users (id, aud, role, email, created_at, updated_at)
    select md5(email)::uuid, 'authenticated', 'authenticated', email, now(), now()
    from (
      select 'admin@' || v_org.code || '.example.org' as email
      union all
      select 'coordinator.' || lower(translate(name, 'ø', 'o')) || '@' || v_org.code || '.example.org'
      from unnest(v_chapters) as name
    ) as u
    on conflict (id) do nothing;

    insert into public.coordinator (organisation_id, user_id, full_name)
    select v_org.id, md5(email)::uuid, full_name
    from (
      select 'admin@' || v_org.code || '.example.org', 'Administrator ' || upper(v_org.code)
      union all
      select 'coordinator.' || lower(translate(name, 'ø', 'o')) || '@' || v_org.code || '.example.org',
        'Coordinator ' || name
      from unnest(v_chapters) as name
    ) as c (email, full_name);

    insert into public.coordinator_role (organisation_id, coordinator_id, role, chapter_id, starts_at)
    select v_org.id, co.id,
      case when ch.id is null then 'organisation_administrator' else 'chapter_coordinator' end,
      ch.id, now() - interval '1 year'
    from public.coordinator co
    left join public.chapter ch on ch.organisation_id = v_org.id
      and co.full_name = 'Coordinator ' || ch.name
    where co.organisation_id = v_org.id;

    with mentor as (
      select m.peer_mentor_id, c.name,
        row_number() over (partition by c.id order by m.peer_mentor_id) as n
      from public.chapter_membership m
      join public.chapter c on c.id = m.chapter_id
      where c.organisation_id = v_org.id
    )
    insert into public.peer_mentor_assignment
      (organisation_id, coordinator_id, peer_mentor_id, starts_at, ends_at)
    select v_org.id, co.id, m.peer_mentor_id, now() - interval '6 months',
      case when m.n = 10 then now() - interval '1 week' end
    from mentor m
    join public.coordinator co on co.organisation_id = v_org.id
      and co.full_name = 'Coordinator '
        || v_chapters[1 + array_position(v_chapters, m.name) % cardinality(v_chapters)]
    where m.n <= 10;
  end loop;
end;
$$;

-- Fresh statistics for the bulk-loaded tables, so the first nightly run after
-- seeding is planned against the roster rather than against empty tables.
analyze public.organisation, public.peer_mentor, public.certification, public.chapter,
  public.chapter_membership, public.coordinator, public.coordinator_role,
  public.peer_mentor_assignment;
