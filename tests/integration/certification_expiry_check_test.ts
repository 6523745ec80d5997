// certification_expiry_check against the local stack: the job through the
// gateway and the function, and its SQL functions through PostgREST directly.
import assert from "node:assert/strict";
import type { NoticeCursor } from "../../src/application/ports/certification_expiry_store.ts";
import { SupabaseCertificationExpiryStore } from "../../src/infrastructure/supabase/supabase_certification_expiry_store.ts";
import { createServiceClient } from "../../src/infrastructure/supabase/supabase_client.ts";
import {
  createRoster,
  dropRoster,
  rosterNotices,
  rosterState,
  testOrganisationCode,
} from "../support/certification_roster.ts";
import { callScheduler, connect, signJwt, stackEnv } from "../../local/stack.ts";

const JOB = "certification_expiry_check";

Deno.test("certification_expiry_check run through the function expires, queues notices and logs its summary; a second run changes nothing", async () => {
  const sql = connect();
  const code = testOrganisationCode("it_cx");
  try {
    const ids = await createRoster(sql, code, [
      { label: "due_2d", days: -2 },
      { label: "due_1h", days: -1 / 24 },
      { label: "in_3d", days: 3 },
      { label: "in_20d", days: 20 },
      { label: "in_90d", days: 90 },
      { label: "revoked_past", days: -5, status: "revoked" },
      { label: "revoked_soon", days: 4, status: "revoked" },
      { label: "expired_before", days: -60, status: "expired" },
    ]);
    const before = await rosterState(sql, ids);

    const first = await callScheduler({ job_name: JOB });

    assert.equal(first.status, 200);
    assert.equal(first.body.status, "succeeded");
    const summary = first.body.summary as Record<string, unknown>;
    assert.equal(summary.complete, true);
    assert.ok((summary.expired as number) >= 2);
    const notices = summary.notices as Record<string, number>;
    assert.ok(notices["30"] >= 2 && notices["7"] >= 1, JSON.stringify(notices));

    const after = await rosterState(sql, ids);
    for (const label of ["due_2d", "due_1h"]) {
      assert.deepEqual(after[label], {
        status: "expired",
        expired_at: summary.as_of,
        updated_at: summary.as_of,
      }, label);
    }
    for (const label of ["in_3d", "in_20d", "in_90d", "revoked_past", "expired_before"]) {
      assert.deepEqual(after[label], before[label], `${label} is untouched`);
    }
    assert.deepEqual(await rosterNotices(sql, ids), ["in_20d/30", "in_3d/30", "in_3d/7"]);
    const [log] = await sql`select status, summary from scheduler_execution_log
      where id = ${first.body.execution_id as string}`;
    assert.equal(log.status, "succeeded");
    assert.deepEqual(log.summary, summary);

    const second = await callScheduler({ job_name: JOB });

    assert.equal(second.body.status, "succeeded");
    const again = second.body.summary as Record<string, unknown>;
    assert.equal(again.expired, 0);
    assert.deepEqual(again.notices, { "30": 0, "7": 0 });
    assert.deepEqual(await rosterState(sql, ids), after);
    assert.deepEqual(await rosterNotices(sql, ids), ["in_20d/30", "in_3d/30", "in_3d/7"]);
  } finally {
    await dropRoster(sql, code);
    await sql.end();
  }
});

Deno.test("certification_expiry_check is on the nightly list", async () => {
  const sql = connect();
  try {
    const rows = await sql`select enabled from scheduler_nightly_job where job_name = ${JOB}`;
    assert.deepEqual(rows.map((r) => r.enabled), [true]);
  } finally {
    await sql.end();
  }
});

Deno.test("certification_expiry_check refuses a bad payload as a failed run", async () => {
  const sql = connect();
  try {
    const { status, body } = await callScheduler({ job_name: JOB, payload: { batch_size: 0 } });
    assert.equal(status, 200);
    assert.equal(body.status, "failed");
    const [log] = await sql`select error_message from scheduler_execution_log
      where id = ${body.execution_id as string}`;
    assert.match(log.error_message, /'batch_size' must be an integer from 1 to 50000, got '0'/);
  } finally {
    await sql.end();
  }
});

Deno.test("the batch functions work through PostgREST with the service role, batch by batch", async () => {
  const env = stackEnv();
  const sql = connect(env);
  const code = testOrganisationCode("it_cx_rpc");
  // Year 2001: no other data expires that early, so the counts are exact.
  const now = new Date("2001-06-01T00:00:00Z");
  try {
    const ids = await createRoster(sql, code, [
      { label: "due_a", at: "2001-01-01T00:00:00Z" },
      { label: "due_b", at: "2001-02-01T00:00:00Z" },
      { label: "due_c", at: "2001-05-31T23:59:59.999999Z" },
      { label: "in_2d", at: "2001-06-03T00:00:00.123456Z" },
      { label: "in_2d_same", at: "2001-06-03T00:00:00.123456Z" },
      { label: "in_19d", at: "2001-06-20T00:00:00Z" },
    ]);
    const store = new SupabaseCertificationExpiryStore(
      createServiceClient(env.API_URL, env.SERVICE_ROLE_KEY),
    );

    // The walk goes on from the first batch's cursor and ends with the batch that
    // used up the due rows (it looks one row past its end), never with an empty one.
    const first = await store.expireBatch(now, 2, null);
    assert.equal(first.expired, 2);
    assert.match(String(first.next), /^\(\d+,\d+\)$/);
    assert.deepEqual(await store.expireBatch(now, 2, first.next), { expired: 1, next: null });
    assert.deepEqual(await store.expireBatch(now, 2, null), { expired: 0, next: null });
    const state = await rosterState(sql, ids);
    assert.equal(state.due_c.expired_at, now.toISOString());

    // Batches of one walk rows that share a microsecond timestamp exactly once each.
    const queued: number[] = [];
    let cursor: NoticeCursor | null = null;
    do {
      const batch = await store.queueNoticesBatch(now, 30, 1, cursor);
      queued.push(batch.queued);
      cursor = batch.next;
    } while (cursor !== null && queued.length < 10);
    assert.deepEqual(queued, [1, 1, 1]);
    assert.deepEqual(await store.queueNoticesBatch(now, 30, 10, null), { queued: 0, next: null });
    assert.deepEqual(await store.queueNoticesBatch(now, 7, 10, null), { queued: 2, next: null });
    assert.deepEqual(await rosterNotices(sql, ids), [
      "in_19d/30",
      "in_2d/30",
      "in_2d/7",
      "in_2d_same/30",
      "in_2d_same/7",
    ]);
    const [notice] = await sql`select created_at, sent_at from certification_expiry_notice
      where certification_id = ${ids.get("in_19d")!}`;
    assert.deepEqual([notice.created_at.toISOString(), notice.sent_at], [now.toISOString(), null]);

    await assert.rejects(store.expireBatch(now, 0, null), /Cannot expire a batch.*\(22023\)/);
  } finally {
    await dropRoster(sql, code);
    await sql.end();
  }
});

Deno.test("anon and authenticated can neither call the batch functions nor read the notices", async () => {
  const env = stackEnv();
  const authenticated = await signJwt({ role: "authenticated", sub: crypto.randomUUID() }, env);
  for (const [who, token] of [["anon", env.ANON_KEY], ["authenticated", authenticated]]) {
    const headers = {
      apikey: env.ANON_KEY,
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
    };
    for (
      const [fn, args] of [
        ["certification_expire_batch", { p_now: "2001-06-01T00:00:00Z", p_batch_size: 1 }],
        [
          "certification_queue_expiry_notices_batch",
          { p_now: "2001-06-01T00:00:00Z", p_window_days: 7, p_batch_size: 1 },
        ],
      ] as const
    ) {
      const response = await fetch(`${env.API_URL}/rest/v1/rpc/${fn}`, {
        method: "POST",
        headers,
        body: JSON.stringify(args),
      });
      const body = await response.json();
      assert.ok([401, 403].includes(response.status), `${who} ${fn}: ${response.status}`);
      assert.equal(body.code, "42501", `${who} ${fn}`);
    }
    const read = await fetch(`${env.API_URL}/rest/v1/certification_expiry_notice?select=id`, {
      headers,
    });
    const body = await read.json();
    assert.ok([401, 403].includes(read.status), `${who} read: ${read.status}`);
    assert.equal(body.code, "42501");
  }
});
