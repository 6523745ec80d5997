// The certification RPCs through the real HTTP path: gateway -> PostgREST ->
// SECURITY DEFINER function reading auth.uid() from a JWT signed with the
// stack's secret. A few representative rows; the full caller x target matrix
// is the pgTAP file supabase/tests/database/certification_visibility_test.sql.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { dropRoster, testOrganisationCode } from "../support/certification_roster.ts";
import { connect, signJwt, stackEnv } from "../../local/stack.ts";

const env = stackEnv();

/** Ids of one small roster: organisation A with chapters a1 and a2, and an organisation B. */
interface Fixture {
  codes: string[];
  users: Record<"coordinator" | "mentor" | "outsider", string>;
  mentors: Record<"inChapter" | "assigned" | "elsewhere" | "otherOrg", string>;
  chapters: Record<"a1" | "a2", string>;
  certs: Record<string, string>;
}

async function createFixture(sql: postgres.Sql): Promise<Fixture> {
  const codes = [testOrganisationCode("visibility_a"), testOrganisationCode("visibility_b")];
  const users = {
    coordinator: crypto.randomUUID(),
    mentor: crypto.randomUUID(),
    outsider: crypto.randomUUID(),
  };
  for (const id of Object.values(users)) {
    await sql`insert into auth.users (id, aud, role) values (${id}, 'authenticated', 'authenticated')`;
  }
  const [a, b] = await Promise.all(
    codes.map(async (code) =>
      (await sql`insert into organisation (code, name) values (${code}, ${code}) returning id`)[0]
        .id as string
    ),
  );
  const chapter = async (org: string, name: string) =>
    (await sql`insert into chapter (organisation_id, name) values (${org}, ${name}) returning id`)[
      0
    ]
      .id as string;
  const chapters = { a1: await chapter(a, "a1"), a2: await chapter(a, "a2") };
  const b1 = await chapter(b, "b1");
  const mentor = async (org: string, name: string, chapterId: string, userId: string | null) => {
    const [row] = await sql`insert into peer_mentor (organisation_id, full_name, user_id)
      values (${org}, ${name}, ${userId}) returning id`;
    await sql`insert into chapter_membership (organisation_id, chapter_id, peer_mentor_id)
      values (${org}, ${chapterId}, ${row.id})`;
    return row.id as string;
  };
  const mentors = {
    inChapter: await mentor(a, "In chapter", chapters.a1, null),
    assigned: await mentor(a, "Assigned", chapters.a2, null),
    elsewhere: await mentor(a, "Elsewhere", chapters.a2, users.mentor),
    otherOrg: await mentor(b, "Other organisation", b1, null),
  };
  const coordinator = async (org: string, userId: string) =>
    (await sql`insert into coordinator (organisation_id, user_id, full_name)
      values (${org}, ${userId}, 'Coordinator') returning id`)[0].id as string;
  const c = await coordinator(a, users.coordinator);
  await sql`insert into coordinator_role (organisation_id, coordinator_id, role, chapter_id)
    values (${a}, ${c}, 'chapter_coordinator', ${chapters.a1})`;
  await sql`insert into peer_mentor_assignment (organisation_id, coordinator_id, peer_mentor_id)
    values (${a}, ${c}, ${mentors.assigned})`;
  const outsider = await coordinator(b, users.outsider);
  await sql`insert into coordinator_role (organisation_id, coordinator_id, role)
    values (${b}, ${outsider}, 'organisation_administrator')`;
  // Two certifications each: active expiring in `days` (+1 for the second), and expired.
  const certs: Record<string, string> = {};
  for (const [label, id] of Object.entries(mentors)) {
    const days = { inChapter: 5, assigned: 3, elsewhere: 4, otherOrg: 2 }[label]!;
    const rows = await sql`insert into certification
        (peer_mentor_id, certification_type, issued_at, expires_at, status, expired_at)
      values
        (${id}, 'peer_mentor_basic', now() - interval '1 year', now() + make_interval(days => ${days}),
          'active', null),
        (${id}, 'group_leader', now() - interval '3 years', now() - interval '1 year', 'expired',
          now() - interval '1 year')
      returning id, status`;
    for (const row of rows) certs[`${label}:${row.status}`] = row.id;
  }
  await sql`insert into certification_expiry_notice (certification_id, peer_mentor_id, window_days, expires_at)
    select id, peer_mentor_id, 7, expires_at from certification where id = ${
    certs["assigned:active"]
  }`;
  return { codes, users, mentors, chapters, certs };
}

async function dropFixture(sql: postgres.Sql, fixture: Fixture) {
  for (const code of fixture.codes) await dropRoster(sql, code);
  await sql`delete from auth.users where id = any(${Object.values(fixture.users)}::uuid[])`;
}

async function withFixture(fn: (fixture: Fixture) => Promise<void>) {
  const sql = connect();
  try {
    const fixture = await createFixture(sql);
    try {
      await fn(fixture);
    } finally {
      await dropFixture(sql, fixture);
    }
  } finally {
    await sql.end();
  }
}

/** A user's access token, as Supabase Auth issues it. */
function userToken(userId: string): Promise<string> {
  return signJwt({
    role: "authenticated",
    aud: "authenticated",
    sub: userId,
    exp: Math.floor(Date.now() / 1000) + 600,
  });
}

async function rpc(fn: string, token: string, args: Record<string, unknown> = {}) {
  const response = await fetch(`${env.API_URL}/rest/v1/rpc/${fn}`, {
    method: "POST",
    headers: {
      apikey: env.ANON_KEY,
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(args),
  });
  return { status: response.status, body: await response.json() };
}

Deno.test("certification_status_list() over HTTP shows a chapter coordinator their chapter's and assigned mentors, by expiry, page by page", async () => {
  await withFixture(async (f) => {
    const token = await userToken(f.users.coordinator);
    const first = await rpc("certification_status_list", token, { p_status: "active", p_limit: 1 });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body.map((r: { certification_id: string }) => r.certification_id), [
      f.certs["assigned:active"],
    ]);
    assert.deepEqual(first.body[0].notice_windows_days, [7]);
    const second = await rpc("certification_status_list", token, {
      p_status: "active",
      p_limit: 1,
      p_after_expires_at: first.body[0].expires_at,
      p_after_certification_id: first.body[0].certification_id,
    });
    assert.deepEqual(second.body.map((r: { certification_id: string }) => r.certification_id), [
      f.certs["inChapter:active"],
    ]);
    const all = await rpc("certification_status_list", token);
    assert.deepEqual(
      new Set(all.body.map((r: { peer_mentor_id: string }) => r.peer_mentor_id)),
      new Set([f.mentors.inChapter, f.mentors.assigned]),
    );
  });
});

Deno.test("certification_status_counts() over HTTP counts only the caller's scope", async () => {
  await withFixture(async (f) => {
    const counts = await rpc("certification_status_counts", await userToken(f.users.coordinator));
    assert.equal(counts.status, 200, JSON.stringify(counts.body));
    assert.deepEqual(counts.body, [
      { status: "active", certifications: 2 },
      { status: "expiring", certifications: 2 },
      { status: "expired", certifications: 2 },
      { status: "revoked", certifications: 0 },
    ]);
    const outsider = await rpc("certification_status_counts", await userToken(f.users.outsider));
    assert.deepEqual(outsider.body.map((r: { certifications: number }) => r.certifications), [
      1,
      1,
      1,
      0,
    ]);
  });
});

Deno.test("peer_mentor_certifications() over HTTP: a peer mentor sees themself, and a hidden mentor looks like a missing one", async () => {
  await withFixture(async (f) => {
    const token = await userToken(f.users.mentor);
    const own = await rpc("peer_mentor_certifications", token, {
      p_peer_mentor_id: f.mentors.elsewhere,
    });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.deepEqual(
      own.body.map((r: { certification_id: string }) => r.certification_id).sort(),
      [f.certs["elsewhere:active"], f.certs["elsewhere:expired"]].sort(),
    );
    const hidden = await rpc("peer_mentor_certifications", token, {
      p_peer_mentor_id: f.mentors.assigned,
    });
    const missing = await rpc("peer_mentor_certifications", token, {
      p_peer_mentor_id: crypto.randomUUID(),
    });
    assert.deepEqual([hidden.status, hidden.body], [200, []]);
    assert.deepEqual([missing.status, missing.body], [200, []]);
    const outsider = await rpc("peer_mentor_certifications", await userToken(f.users.outsider), {
      p_peer_mentor_id: f.mentors.inChapter,
    });
    assert.deepEqual([outsider.status, outsider.body], [200, []]);
  });
});

Deno.test("the certification RPCs refuse anon, the service role and a forged token", async () => {
  await withFixture(async (f) => {
    const forged = await signJwt(
      { role: "authenticated", sub: f.users.coordinator, exp: Math.floor(Date.now() / 1000) + 600 },
      { ...env, JWT_SECRET: `${env.JWT_SECRET}-not` },
    );
    for (
      const [who, token, expected] of [
        ["anon", env.ANON_KEY, 401],
        ["service_role", env.SERVICE_ROLE_KEY, 403],
        ["forged", forged, 401],
      ] as const
    ) {
      for (const fn of ["certification_status_list", "certification_status_counts"]) {
        const response = await rpc(fn, token);
        assert.equal(response.status, expected, `${who} ${fn}: ${JSON.stringify(response.body)}`);
      }
    }
  });
});

Deno.test("certification_status_list() over HTTP answers a bad filter with 400 and a clear message", async () => {
  await withFixture(async (f) => {
    const response = await rpc("certification_status_list", await userToken(f.users.coordinator), {
      p_expiring_within_days: 0,
    });
    assert.equal(response.status, 400);
    assert.equal(response.body.code, "22023");
    assert.equal(response.body.message, "p_expiring_within_days must be from 1 to 365, got 0");
  });
});

/** How often certifications were read through the organisation-wide expiry index. */
async function expiryOrderScans(sql: postgres.Sql): Promise<number> {
  const [row] = await sql`select coalesce(sum(idx_scan), 0)::int as scans from pg_stat_user_indexes
    where indexrelname = 'certification_expiry_order_idx'`;
  return row.scans;
}

Deno.test("certification_status_list() for an administrator of most of the roster walks certifications in expiry order and answers exactly what the rule allows, for every filter and page", async () => {
  const sql = connect();
  const codes = [
    testOrganisationCode("visibility_admin"),
    testOrganisationCode("visibility_other"),
  ];
  const admin = crypto.randomUUID();
  const limit = 5;
  try {
    // The walk is chosen when the administered mentors are a large enough share of all
    // (their count squared at least 5 x p_limit x all): size the organisation to that.
    const [{ others }] = await sql`select count(*)::int as others from peer_mentor`;
    const size = Math.ceil((25 + Math.sqrt(625 + 100 * others)) / 2) + 50;
    await sql`insert into auth.users (id, aud, role) values (${admin}, 'authenticated', 'authenticated')`;
    const orgs: string[] = [];
    for (const code of codes) {
      const [org] =
        await sql`insert into organisation (code, name) values (${code}, ${code}) returning id`;
      orgs.push(org.id);
    }
    const [chapterA] = await sql`insert into chapter (organisation_id, name)
      values (${orgs[0]}, 'a1') returning id`;
    const [chapterB] = await sql`insert into chapter (organisation_id, name)
      values (${orgs[1]}, 'b1') returning id`;
    // Administrator of A (size mentors); chapter coordinator of b1 in B, where two of five
    // mentors are members: the page mixes both branches of the rule.
    await sql`
      with m as (
        insert into peer_mentor (organisation_id, full_name)
        select ${orgs[0]}, 'A ' || n from generate_series(1, ${size}::int) n returning id
      ), b as (
        insert into peer_mentor (organisation_id, full_name)
        select ${orgs[1]}, 'B ' || n from generate_series(1, 5) n returning id
      ), mine as (
        insert into chapter_membership (organisation_id, chapter_id, peer_mentor_id)
        select ${orgs[0]}, ${chapterA.id}, id from m where hashtext(id::text) % 7 = 0
      ), theirs as (
        insert into chapter_membership (organisation_id, chapter_id, peer_mentor_id)
        select ${orgs[1]}, ${chapterB.id}, id from (select id from b order by id limit 2) two
      )
      insert into certification
        (peer_mentor_id, certification_type, issued_at, expires_at, status, expired_at)
      select x.id, 'type_' || k, now() - interval '3 years',
        now() + make_interval(days => (abs(hashtext(x.id::text || k)) % 1460) - 730),
        s.status, case when s.status = 'expired' then now() - interval '1 day' end
      from (select id from m union all select id from b) x
      cross join generate_series(1, 3) k
      cross join lateral (select (array['active', 'active', 'expired', 'revoked'])
        [1 + abs(hashtext(x.id::text || k || 's')) % 4] as status) s`;
    for (
      const [org, role, chapter] of [
        [orgs[0], "organisation_administrator", null],
        [orgs[1], "chapter_coordinator", chapterB.id],
      ] as const
    ) {
      const [c] = await sql`insert into coordinator (organisation_id, user_id, full_name)
        values (${org}, ${admin}, 'Administrator') returning id`;
      await sql`insert into coordinator_role (organisation_id, coordinator_id, role, chapter_id)
        values (${org}, ${c.id}, ${role}, ${chapter})`;
    }
    await sql`analyze peer_mentor`;

    const token = await userToken(admin);
    const before = await expiryOrderScans(sql);
    const filters: Record<string, unknown>[] = [
      {},
      { p_status: "revoked" },
      { p_status: "active" },
      { p_expiring_within_days: 30 },
      { p_chapter_id: chapterA.id },
      { p_chapter_id: chapterB.id },
    ];
    for (const filter of filters) {
      // What the rule allows, straight from the tables, in the list's order.
      const expected = (await sql`
        select c.id from certification c
        where c.peer_mentor_id in (select v.peer_mentor_id from peer_mentors_visible_to(${admin}) v)
          and (${(filter.p_status as string) ?? null}::text is null or c.status = ${
        (filter.p_status as string) ?? null
      })
          and (${(filter.p_expiring_within_days as number) ?? null}::int is null
            or (c.status = 'active' and c.expires_at < now() + make_interval(days => ${
        (filter.p_expiring_within_days as number) ?? 0
      })))
          and (${(filter.p_chapter_id as string) ?? null}::uuid is null or exists (
            select from chapter_membership m where m.peer_mentor_id = c.peer_mentor_id
              and m.chapter_id = ${(filter.p_chapter_id as string) ?? null}
              and m.starts_at <= now() and (m.ends_at is null or m.ends_at > now())))
        order by c.expires_at, c.id limit ${3 * limit}`).map((r) => r.id as string);
      const listed: string[] = [];
      let after: Record<string, unknown> = {};
      for (let page = 0; page < 3; page++) {
        const response = await rpc("certification_status_list", token, {
          ...filter,
          ...after,
          p_limit: limit,
        });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        const rows = response.body as { certification_id: string; expires_at: string }[];
        listed.push(...rows.map((r) => r.certification_id));
        if (rows.length < limit) break;
        const last = rows[rows.length - 1];
        after = {
          p_after_expires_at: last.expires_at,
          p_after_certification_id: last.certification_id,
        };
      }
      assert.deepEqual(listed, expected, `filter ${JSON.stringify(filter)}`);
    }
    // The walk ran (the statistics reach the view within a second or so of each call).
    let scans = before;
    for (let i = 0; i < 40 && scans === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      scans = await expiryOrderScans(sql);
    }
    assert.ok(scans > before, "the administrator's pages walked the expiry-order index");
  } finally {
    for (const code of codes) await dropRoster(sql, code);
    await sql`delete from auth.users where id = ${admin}`;
    await sql.end();
  }
});
