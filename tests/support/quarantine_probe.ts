// A nightly job of its own with records in the sync quarantine, for tests that
// read what operators see (health view, CLI, alerts) on the real stack.
import type postgres from "postgres";

/** What seedQuarantine made; `drop()` removes it all, alerts included. */
export interface QuarantineProbe {
  readonly job: string;
  release(): Promise<void>;
  drop(): Promise<void>;
}

/**
 * Adds job `job` (disabled, with `policy`) and a certification per record,
 * held in the quarantine of the sync named like the job: `needsPerson` of them
 * refused `max_quarantine_attempts` (2) times, `retrying` once.
 */
export async function seedQuarantine(
  sql: postgres.Sql,
  job: string,
  counts: { needsPerson: number; retrying: number },
  policy: { maxParts?: number } = {},
): Promise<QuarantineProbe> {
  const org = crypto.randomUUID(), mentor = crypto.randomUUID();
  const ids = Array.from(
    { length: counts.needsPerson + counts.retrying },
    () => crypto.randomUUID(),
  );
  const probe: QuarantineProbe = {
    job,
    async release() {
      await sql`select scheduler_sync_quarantine_release(${job}, ${ids}::uuid[])`;
    },
    async drop() {
      await sql`delete from scheduler_sync_quarantine where sync_name = ${job}`;
      await sql`delete from certification where peer_mentor_id = ${mentor}`;
      await sql`delete from peer_mentor where id = ${mentor}`;
      await sql`delete from organisation where id = ${org}`;
      await sql`delete from scheduler_alert where job_name = ${job}`;
      await sql`delete from scheduler_nightly_job where job_name = ${job}`;
    },
  };
  await sql`insert into scheduler_nightly_job (job_name, enabled, max_parts, max_quarantine_attempts)
    values (${job}, false, ${policy.maxParts ?? 100}, 2)`;
  await sql`insert into organisation (id, code, name) values (${org}, ${job}, ${job})`;
  await sql`insert into peer_mentor (id, organisation_id, full_name) values (${mentor}, ${org}, 'M')`;
  for (const id of ids) {
    await sql`insert into certification (id, peer_mentor_id, certification_type, issued_at, expires_at)
      values (${id}, ${mentor}, 'basic', '2025-01-01', '2027-01-01')`;
  }
  const entries = ids.map((id) => ({
    certification_id: id,
    portal_status: 400,
    error_message: "HTTP 400 (a refused value)",
  }));
  await sql`select scheduler_sync_quarantine_hold(${job}, ${job}, ${sql.json(entries)}, now())`;
  await sql`select scheduler_sync_quarantine_hold(${job}, ${job}, ${
    sql.json(entries.slice(0, counts.needsPerson))
  }, now())`;
  return probe;
}
