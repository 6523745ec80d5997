// Benchmark rosters for certification_expiry_check: generated with
// generate_series in their own organisation, deterministically (ids from md5,
// spreads from i * prime), so two generations of the same size are identical.
//
// Everything is dated around ANCHOR in 1990, which the benchmark's clock
// reports as "now": no seed or test data expires that early, so the job and
// the plain UPDATE touch only benchmark rows. Nothing lies within 12 hours of
// the edges that move with the clock (ANCHOR, +7 days, +30 days), so the
// minutes between the job's run and the plain UPDATE's cannot change either set.
import type postgres from "postgres";

/** The organisation that holds benchmark rows; dropped after every run. */
export const BENCH_ORGANISATION = "bench_cert_expiry";

/** The instant the benchmark treats as "now" when it starts. */
export const ANCHOR = new Date("1990-06-01T00:00:00Z");

/** Share of certifications in each state, per 100. */
export const MIX = { pastDue: 15, within7: 1, within30: 3, far: 66, expired: 12, revoked: 3 };

/** How many of `n` certifications are active and past due at ANCHOR (i % 100 < pastDue, i from 1). */
export function pastDueCount(n: number): number {
  return Math.floor(n / 100) * MIX.pastDue + Math.min(n % 100, MIX.pastDue - 1);
}

/** Deletes any benchmark data, then inserts `n` certifications over n / 4 mentors. */
export async function generateRoster(sql: postgres.Sql, n: number): Promise<void> {
  await dropRoster(sql);
  const mentors = Math.max(1, Math.floor(n / 4));
  const [org] = await sql`insert into organisation (code, name)
    values (${BENCH_ORGANISATION}, 'Benchmark organisation') returning id`;
  await sql`insert into peer_mentor (id, organisation_id, full_name)
    select md5('bench-mentor-' || g)::uuid, ${org.id}, 'Bench mentor ' || g
    from generate_series(1, ${mentors}::int) as g`;
  const m = MIX;
  const anchor = ANCHOR.toISOString();
  // bucket = i % 100 interleaves the states through the table, as years of inserts would.
  await sql`
    with plan as (
      select i, i % 100 as b, (i::bigint * 7919) % 1000000 as r from generate_series(1, ${n}::int) i
    ),
    dated as (
      select i, b, ${anchor}::timestamptz + case
        when b < ${m.pastDue} then -make_interval(mins => 1 + (r % 43200)::int)
        -- 12 h to 6.5 days; 7.5 to 29.5 days; 31 days and more.
        when b < ${m.pastDue + m.within7} then make_interval(mins => 720 + (r % 8640)::int)
        when b < ${m.pastDue + m.within7 + m.within30}
          then make_interval(mins => 10800 + (r % 31680)::int)
        when b < ${100 - m.expired - m.revoked} then make_interval(days => 31 + (r % 1065)::int)
        else -make_interval(days => 1 + (r % 700)::int)
      end as expires_at
      from plan
    )
    insert into certification
      (id, peer_mentor_id, certification_type, issued_at, expires_at, status, expired_at)
    select md5('bench-cert-' || i)::uuid,
      md5('bench-mentor-' || (1 + i % ${mentors}::int))::uuid,
      'peer_mentor_basic', expires_at - interval '2 years', expires_at,
      case when b >= ${100 - m.revoked} then 'revoked'
           when b >= ${100 - m.expired - m.revoked} then 'expired'
           else 'active' end,
      case when b >= ${100 - m.expired - m.revoked} and b < ${100 - m.revoked}
           then expires_at + interval '1 day' end
    from dated`;
  await settle(sql);
}

/** Removes the benchmark organisation and everything under it. */
export async function dropRoster(sql: postgres.Sql): Promise<void> {
  await sql`delete from certification where peer_mentor_id in (
    select pm.id from peer_mentor pm join organisation o on o.id = pm.organisation_id
    where o.code = ${BENCH_ORGANISATION})`;
  await sql`delete from peer_mentor where organisation_id in (
    select id from organisation where code = ${BENCH_ORGANISATION})`;
  await sql`delete from organisation where code = ${BENCH_ORGANISATION}`;
}

/** Vacuums, analyzes and checkpoints, so each measurement starts from the same footing. */
export async function settle(sql: postgres.Sql): Promise<void> {
  await sql`vacuum analyze certification, peer_mentor, certification_expiry_notice`;
  await sql`checkpoint`;
}

/** Benchmark certifications now expired at `asOf`. */
export async function expiredAt(sql: postgres.Sql, asOf: Date): Promise<number> {
  const [row] = await sql`select count(*)::int as n from certification c
    join peer_mentor pm on pm.id = c.peer_mentor_id
    join organisation o on o.id = pm.organisation_id
    where o.code = ${BENCH_ORGANISATION} and c.status = 'expired' and c.expired_at = ${asOf}`;
  return row.n;
}
