// The lease SQL across two sessions (the rest of the lease SQL is pgTAP:
// supabase/tests/database/scheduler_lease_test.sql).
import assert from "node:assert/strict";
import postgres from "postgres";
import { connect, stackEnv } from "../../local/stack.ts";

Deno.test("a caller blocked while the holder releases the lease still gets a real lease row", async () => {
  // The holder locks its lease row; the caller's acquire blocks on it; the holder
  // then deletes (releases) and commits. The caller must end up holding a row:
  // before the fix it answered acquired = true with no row, so a third run got in too.
  const env = stackEnv();
  const sql = connect(env);
  const holder = postgres(env.DB_URL, { max: 1, onnotice: () => {} });
  const caller = postgres(env.DB_URL, { max: 1, onnotice: () => {} });
  const job = `lease_race_${crypto.randomUUID().slice(0, 8)}`;
  const [first, second, third] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  const now = new Date();
  const until = new Date(now.getTime() + 60_000);
  try {
    await sql`select * from scheduler_acquire_lease(${job}, ${first}, ${now}, ${until})`;
    let acquiring: Promise<postgres.Row[]> | undefined;
    await holder.begin(async (tx) => {
      await tx`select 1 from scheduler_job_lease where job_name = ${job} for update`;
      acquiring = caller`select * from scheduler_acquire_lease(${job}, ${second}, ${now}, ${until})`
        .then((rows) => [...rows]);
      for (let i = 0; i < 200; i++) {
        const [blocked] = await sql`select count(*)::int as n from pg_stat_activity
          where wait_event_type = 'Lock' and query like '%scheduler_acquire_lease%'
            and pid <> pg_backend_pid()`;
        if (blocked.n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await tx`delete from scheduler_job_lease where job_name = ${job} and owner = ${first}`;
    });
    const [got] = await acquiring!;
    assert.equal(got.acquired, true);
    const rows = await sql`select owner from scheduler_job_lease where job_name = ${job}`;
    assert.deepEqual(rows.map((r) => r.owner), [second], "the caller holds a real lease row");
    const [late] =
      await sql`select * from scheduler_acquire_lease(${job}, ${third}, ${now}, ${until})`;
    assert.deepEqual([late.acquired, late.held_by], [false, second]);
  } finally {
    await sql`delete from scheduler_job_lease where job_name = ${job}`;
    await Promise.all([sql.end(), holder.end(), caller.end()]);
  }
});
