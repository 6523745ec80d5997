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

-- Fresh statistics for the bulk-loaded tables, so the first nightly run after
-- seeding is planned against the roster rather than against empty tables.
analyze public.organisation, public.peer_mentor, public.certification;
