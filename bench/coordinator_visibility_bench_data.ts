// The roster for the coordinator visibility benchmark: one organisation of
// 100,000 peer mentors and 300,000 certifications in 50 chapters of 2,000,
// each chapter with its coordinator, plus an organisation administrator and
// direct assignments. Generated with generate_series, deterministically (ids
// from md5), dated around the database's now() as the RPCs read it.
import type postgres from "postgres";

/** The organisation that holds the benchmark's rows; dropped after every run. */
export const BENCH_ORGANISATION = "bench_visibility";

/** Sizes of the generated roster. */
export interface VisibilityRosterSize {
  mentors: number;
  certificationsPerMentor: number;
  chapters: number;
}

/** The figure: 100,000 mentors, 300,000 certifications, chapters of 2,000. */
export const DEFAULT_SIZE: VisibilityRosterSize = {
  mentors: 100_000,
  certificationsPerMentor: 3,
  chapters: 50,
};

/** E-mail of the benchmark's chapter 0 coordinator (2,000 mentors) and of its administrator. */
export const COORDINATOR_EMAIL = "bench-vis-coordinator-0@bench.example.org";
export const ADMINISTRATOR_EMAIL = "bench-vis-administrator@bench.example.org";

/** Deletes any earlier benchmark roster, then generates one of `size`. */
export async function generateVisibilityRoster(
  sql: postgres.Sql,
  size: VisibilityRosterSize = DEFAULT_SIZE,
): Promise<void> {
  await dropVisibilityRoster(sql);
  const { mentors, certificationsPerMentor: perMentor, chapters } = size;
  const [org] = await sql`insert into organisation (code, name)
    values (${BENCH_ORGANISATION}, 'Visibility benchmark') returning id`;
  await sql`insert into chapter (id, organisation_id, name)
    select md5('bench-vis-chapter-' || k)::uuid, ${org.id}::uuid, 'Chapter ' || k
    from generate_series(0, ${chapters - 1}::int) k`;
  await sql`insert into peer_mentor (id, organisation_id, full_name)
    select md5('bench-vis-mentor-' || g)::uuid, ${org.id}::uuid, 'Bench mentor ' || g
    from generate_series(1, ${mentors}::int) g`;
  // Mentor g is a member of chapter g % chapters; every tenth also of the next
  // chapter, and every twenty-fifth of those memberships has ended.
  await sql`insert into chapter_membership
      (organisation_id, chapter_id, peer_mentor_id, starts_at, ends_at)
    select ${org.id}::uuid, md5('bench-vis-chapter-' || k)::uuid, md5('bench-vis-mentor-' || g)::uuid,
      now() - interval '3 years', case when second and g % 250 = 0 then now() - interval '1 day' end
    from generate_series(1, ${mentors}::int) g,
      lateral (values (g % ${chapters}::int, false), ((g + 1) % ${chapters}::int, true)) as m (k, second)
    where not second or g % 10 = 0`;
  // 70 % active (spread over two years ahead, some within the notice windows),
  // 20 % expired, 10 % revoked, by a hash of i so no mentor's share depends on
  // its number; a mentor's certifications lie apart in the table, as years of
  // inserts would leave them.
  await sql`insert into certification
      (id, peer_mentor_id, certification_type, issued_at, expires_at, status, expired_at)
    select md5('bench-vis-cert-' || i)::uuid,
      md5('bench-vis-mentor-' || (1 + i % ${mentors}::int))::uuid,
      (array['peer_mentor_basic', 'peer_mentor_advanced', 'group_leader'])[1 + i % 3],
      e - interval '2 years', e, s, case when s = 'expired' then e + interval '1 day' end
    from generate_series(1, ${mentors * perMentor}::int) i,
      lateral (select abs(hashint4(i)) % 100 as b, abs(hashint4(-i)) % 1051200 as r) h,
      lateral (select case when b < 70 then 'active' when b < 90 then 'expired'
        else 'revoked' end as s) st,
      lateral (select now() + case when s = 'expired' then -make_interval(days => 2 + r % 700)
        else make_interval(mins => 60 + r) end as e) ex`;
  await sql`insert into auth.users (id, aud, role, email)
    select md5(name)::uuid, 'authenticated', 'authenticated', name || '@bench.example.org'
    from (select 'bench-vis-coordinator-' || k as name from generate_series(0, ${
    chapters - 1
  }::int) k
      union all select 'bench-vis-administrator') u
    on conflict (id) do nothing`;
  await sql`insert into coordinator (id, organisation_id, user_id, full_name)
    select md5('coordinator:' || name)::uuid, ${org.id}::uuid, md5(name)::uuid, name
    from (select 'bench-vis-coordinator-' || k as name from generate_series(0, ${
    chapters - 1
  }::int) k
      union all select 'bench-vis-administrator') u`;
  await sql`insert into coordinator_role (organisation_id, coordinator_id, role, chapter_id, starts_at)
    select ${org.id}::uuid, md5('coordinator:bench-vis-coordinator-' || k)::uuid, 'chapter_coordinator',
      md5('bench-vis-chapter-' || k)::uuid, now() - interval '1 year'
    from generate_series(0, ${chapters - 1}::int) k
    union all
    select ${org.id}::uuid, md5('coordinator:bench-vis-administrator')::uuid,
      'organisation_administrator', null, now() - interval '1 year'`;
  // Each coordinator is also assigned 100 mentors directly; for chapter 0's,
  // mentors already in its chapter, so its scope stays exactly one chapter.
  await sql`insert into peer_mentor_assignment
      (organisation_id, coordinator_id, peer_mentor_id, starts_at)
    select ${org.id}::uuid, md5('coordinator:bench-vis-coordinator-' || k)::uuid,
      md5('bench-vis-mentor-' || (j * ${chapters}::int + case when k = 0 then 0 else k + 1 end))::uuid,
      now() - interval '1 month'
    from generate_series(0, ${chapters - 1}::int) k, generate_series(1, 100) j`;
  await sql`vacuum analyze peer_mentor, certification, chapter, chapter_membership, coordinator,
    coordinator_role, peer_mentor_assignment, certification_expiry_notice`;
}

/** Removes the benchmark organisation, everything under it, and its Auth users. */
export async function dropVisibilityRoster(sql: postgres.Sql): Promise<void> {
  await sql`delete from peer_mentor where organisation_id in (
    select id from organisation where code = ${BENCH_ORGANISATION})`;
  await sql`delete from organisation where code = ${BENCH_ORGANISATION}`;
  await sql`delete from auth.users where email like 'bench-vis-%@bench.example.org'`;
}
