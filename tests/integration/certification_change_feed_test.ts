// scheduler_certification_changes() on data shaped like a bulk import.
import assert from "node:assert/strict";
import postgres from "postgres";
import { connect, stackEnv } from "../../local/stack.ts";

interface Change {
  change_xid: string;
  certification_id: string;
}

/** An organisation of `mentors` mentors with 3 certifications each, all inserted in one transaction. */
async function bulkImport(sql: postgres.Sql, code: string, mentors: number): Promise<void> {
  await sql.begin(async (tx) => {
    const [org] = await tx`insert into organisation (code, name) values (${code}, 'Feed test')
      returning id`;
    await tx`insert into peer_mentor (organisation_id, full_name)
      select ${org.id}, 'Mentor ' || n from generate_series(1, ${mentors}) as n`;
    await tx`insert into certification (peer_mentor_id, certification_type, issued_at, expires_at)
      select pm.id, 'type_' || k, now() - interval '1 year', now() + interval '1 year'
      from peer_mentor pm, generate_series(1, 3) as k where pm.organisation_id = ${org.id}`;
  });
  await sql`analyze certification, peer_mentor`;
}

async function dropImport(sql: postgres.Sql, code: string): Promise<void> {
  await sql`delete from certification where peer_mentor_id in (select pm.id from peer_mentor pm
    join organisation o on o.id = pm.organisation_id where o.code = ${code})`;
  await sql`delete from peer_mentor where organisation_id in
    (select id from organisation where code = ${code})`;
  await sql`delete from organisation where code = ${code}`;
}

/** Reads a page of the feed on a connection that reports the plans of the function's queries. */
async function explainedPage(
  code: string,
  after: Change | null,
): Promise<{ rows: Change[]; plans: string[] }> {
  const plans: string[] = [];
  // auto_explain is a superuser's tool (postgres is not one, as on hosted).
  const explained = postgres(stackEnv().ADMIN_DB_URL, {
    max: 1,
    onnotice: (notice) => plans.push(String(notice.message)),
  });
  try {
    const rows = await explained.begin(async (tx) => {
      await tx`load 'auto_explain'`;
      await tx`select set_config('auto_explain.log_min_duration', '0', true),
        set_config('auto_explain.log_nested_statements', 'on', true),
        set_config('auto_explain.log_level', 'notice', true)`;
      return [
        ...await tx<Change[]>`select change_xid, certification_id
          from scheduler_certification_changes(${code}, ${after?.change_xid ?? null},
            ${after?.certification_id ?? null}, 100)`,
      ];
    });
    return { rows, plans };
  } finally {
    await explained.end();
  }
}

/** The plan auto_explain reported for the statement that reads certification as `alias`. */
function planReading(plans: string[], alias: string): string {
  const reads = new RegExp(` on certification ${alias}\\b`);
  return plans.find((plan) => reads.test(plan)) ?? plans.join("\n");
}

Deno.test("the change feed reads a small organisation mentor by mentor, even when a bulk load shares one change_xid", async () => {
  // Every imported row has the same change_xid, the newest in the table. With the
  // cursor inside it the planner used to prefer walking the whole change index
  // once per mentor (10 s on the demo roster, past PostgREST's 8 s timeout).
  // auto_explain shows the plan of the query inside the function.
  const sql = connect();
  const code = `t_feed_${crypto.randomUUID().slice(0, 8)}`;
  try {
    await bulkImport(sql, code, 1500);
    const page = (after: Change | null) =>
      sql<Change[]>`select change_xid, certification_id from scheduler_certification_changes(
        ${code}, ${after?.change_xid ?? null}, ${after?.certification_id ?? null}, 100)`;
    let first: Change[] = [];
    for (let i = 0; i < 100 && first.length === 0; i++) {
      // Rows appear once no older transaction is open (the feed's horizon).
      first = [...await page(null)];
      if (first.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(first.length, 100);
    const cursor = first[first.length - 1];

    const { rows: second, plans } = await explainedPage(code, cursor);
    assert.equal(second.length, 100);
    assert.ok(second.every((row) => row.change_xid === cursor.change_xid));
    assert.ok(second.every((row) => row.certification_id > cursor.certification_id));
    const inner = planReading(plans, "c1");
    assert.match(inner, /certification_mentor_change_idx/, inner);
  } finally {
    await dropImport(sql, code);
    await sql.end();
  }
});

Deno.test("the change feed reads a large organisation in change order through the change index", async () => {
  // Over 5,000 mentors the feed walks certification_change_idx (partial, so only
  // this read states its predicate) instead of probing every mentor.
  const sql = connect();
  const code = `t_feed_${crypto.randomUUID().slice(0, 8)}`;
  try {
    await bulkImport(sql, code, 5001);
    const { rows, plans } = await explainedPage(code, null);
    assert.ok(rows.length <= 100);
    const read = planReading(plans, "c");
    assert.match(read, /certification_change_idx/, read);
  } finally {
    await dropImport(sql, code);
    await sql.end();
  }
});
