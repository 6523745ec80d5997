// Small rosters written with direct SQL for integration tests, each in its own
// organisation so tests never touch the seed or each other's rows.
import type postgres from "postgres";

/** One certification to insert: expiring at an absolute instant or `days` from the database's now(). */
export interface RosterEntry {
  readonly label: string;
  readonly at?: string;
  readonly days?: number;
  readonly status?: "active" | "expired" | "revoked";
}

/** A fresh organisation code, so parallel or repeated runs never collide. */
export function testOrganisationCode(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
}

/** Creates the organisation, one mentor per entry and the certifications; returns label -> id. */
export async function createRoster(
  sql: postgres.Sql,
  code: string,
  entries: readonly RosterEntry[],
): Promise<Map<string, string>> {
  const [org] = await sql`
    insert into organisation (code, name) values (${code}, ${`Test organisation ${code}`})
    returning id`;
  const ids = new Map<string, string>();
  for (const entry of entries) {
    const expiresAt = entry.at !== undefined
      ? sql`${entry.at}::timestamptz`
      : sql`now() + make_interval(secs => ${(entry.days ?? 0) * 86_400})`;
    const status = entry.status ?? "active";
    const [row] = await sql`
      with mentor as (
        insert into peer_mentor (organisation_id, full_name)
        values (${org.id}, ${`Mentor ${entry.label}`}) returning id
      )
      insert into certification
        (peer_mentor_id, certification_type, issued_at, expires_at, status, expired_at)
      select mentor.id, 'peer_mentor_basic', e.at - interval '2 years', e.at, ${status},
        case when ${status} = 'expired' then e.at end
      from mentor, (select ${expiresAt} as at) as e
      returning id`;
    ids.set(entry.label, row.id);
  }
  return ids;
}

/** Removes the organisation and everything under it (notices go with their certifications). */
export async function dropRoster(sql: postgres.Sql, code: string): Promise<void> {
  await sql`
    delete from certification where peer_mentor_id in (
      select pm.id from peer_mentor pm join organisation o on o.id = pm.organisation_id
      where o.code = ${code})`;
  await sql`
    delete from peer_mentor where organisation_id in (select id from organisation where code = ${code})`;
  await sql`delete from organisation where code = ${code}`;
}

/** Status, expired_at and updated_at of the roster's certifications, by label. */
export async function rosterState(
  sql: postgres.Sql,
  ids: Map<string, string>,
): Promise<Record<string, { status: string; expired_at: string | null; updated_at: string }>> {
  const rows = await sql`
    select id, status, expired_at, updated_at from certification where id = any(${[
    ...ids.values(),
  ]}::uuid[])`;
  const byId = new Map(rows.map((r) => [r.id as string, r]));
  const state: Record<string, { status: string; expired_at: string | null; updated_at: string }> =
    {};
  for (const [label, id] of ids) {
    const r = byId.get(id)!;
    state[label] = {
      status: r.status,
      expired_at: r.expired_at?.toISOString() ?? null,
      updated_at: r.updated_at.toISOString(),
    };
  }
  return state;
}

/** The roster's notices as sorted "label/window" strings. */
export async function rosterNotices(
  sql: postgres.Sql,
  ids: Map<string, string>,
): Promise<string[]> {
  const labels = new Map([...ids].map(([label, id]) => [id, label]));
  const rows = await sql`
    select certification_id, window_days from certification_expiry_notice
    where certification_id = any(${[...ids.values()]}::uuid[])`;
  return rows.map((r) => `${labels.get(r.certification_id)}/${r.window_days}`).sort();
}
