// Through PostgREST, only the service role reaches the log, the lease, the secret and Vault.
import assert from "node:assert/strict";
import { connect, signJwt, stackEnv } from "../../local/stack.ts";

const env = stackEnv();
const rest = (path: string, key: string, init: RequestInit = {}) =>
  fetch(`${env.API_URL}/rest/v1/${path}`, {
    ...init,
    headers: {
      apikey: key,
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      ...init.headers,
    },
  });

async function callers() {
  const authenticated = await signJwt({
    role: "authenticated",
    sub: crypto.randomUUID(),
    exp: Math.floor(Date.now() / 1000) + 600,
  });
  return { anon: env.ANON_KEY, authenticated };
}

Deno.test("the service role can read the log and call the secret function (the control case)", async () => {
  const log = await rest("scheduler_execution_log?select=id&limit=1", env.SERVICE_ROLE_KEY);
  assert.equal(log.status, 200);
  await log.body?.cancel();
  const secret = await rest("rpc/scheduler_current_secret", env.SERVICE_ROLE_KEY, {
    method: "POST",
    body: "{}",
  });
  assert.equal(secret.status, 200);
  assert.equal(await secret.json(), env.SCHEDULER_SECRET);
});

for (
  const table of [
    "scheduler_execution_log",
    "scheduler_job_lease",
    "scheduler_nightly_job",
    "scheduler_dispatch",
    "scheduler_sync_cursor",
    "scheduler_sync_quarantine",
    "scheduler_retention_policy",
    "scheduler_alert",
    "organisation",
    "peer_mentor",
    "certification",
    "certification_expiry_notice",
    "chapter",
    "chapter_membership",
    "coordinator",
    "coordinator_role",
    "peer_mentor_assignment",
  ]
) {
  Deno.test(`anon and authenticated cannot read or write ${table}`, async () => {
    for (const [who, key] of Object.entries(await callers())) {
      const read = await rest(`${table}?select=*`, key);
      const body = await read.text();
      assert.ok(
        read.status === 401 || read.status === 403,
        `${who} read ${table}: ${read.status} ${body}`,
      );
      const write = await rest(table, key, {
        method: "POST",
        body: "{}",
      });
      await write.body?.cancel();
      assert.ok(
        write.status === 401 || write.status === 403,
        `${who} wrote ${table}: ${write.status}`,
      );
    }
  });
}

// A view with GROUP BY takes no writes from anyone, so only reading says anything about privileges.
for (const view of ["scheduler_sync_quarantine_status", "scheduler_night"]) {
  Deno.test(`anon and authenticated cannot read ${view}`, async () => {
    for (const [who, key] of Object.entries(await callers())) {
      const read = await rest(`${view}?select=*`, key);
      const body = await read.text();
      assert.ok(
        read.status === 401 || read.status === 403,
        `${who} read it: ${read.status} ${body}`,
      );
    }
  });
}
// A view refuses writes before privileges are checked (it is not updatable), so reads tell.
Deno.test("anon and authenticated cannot read scheduler_job_health; the service role can", async () => {
  for (const [who, key] of Object.entries(await callers())) {
    const read = await rest("scheduler_job_health?select=*", key);
    const body = await read.text();
    assert.ok(
      read.status === 401 || read.status === 403,
      `${who} read the view: ${read.status} ${body}`,
    );
  }
  const read = await rest("scheduler_job_health?select=job_name", env.SERVICE_ROLE_KEY);
  assert.equal(read.status, 200);
  assert.ok((await read.json()).length > 0);
});

// Real arguments, so a refusal means "no privilege", not "no such function".
const lease = {
  p_job_name: "heartbeat",
  p_owner: crypto.randomUUID(),
  p_now: new Date().toISOString(),
  p_expires_at: new Date(Date.now() + 60_000).toISOString(),
};
for (
  const [fn, args] of [
    ["scheduler_current_secret", {}],
    ["scheduler_start_run", {
      p_execution_id: lease.p_owner,
      p_job_name: "heartbeat",
      p_dispatch_id: null,
      p_now: lease.p_now,
      p_lease_ttl_ms: 30_000,
      p_allow_manual: true,
    }],
    ["scheduler_heartbeat", {
      p_execution_id: lease.p_owner,
      p_job_name: "heartbeat",
      p_now: lease.p_now,
      p_lease_ttl_ms: 30_000,
    }],
    ["scheduler_finish_run", {
      p_execution_id: lease.p_owner,
      p_job_name: "heartbeat",
      p_status: "succeeded",
      p_finished_at: lease.p_now,
      p_error_message: null,
      p_summary: null,
    }],
    ["scheduler_close_dead_run", { p_execution_id: lease.p_owner }],
    ["scheduler_dispatch", { p_job_name: "heartbeat" }],
    ["scheduler_dispatch_nightly", {}],
    ["scheduler_enqueue_dispatch", {
      p_job_name: "heartbeat",
      p_slot: "2200-01-01",
      p_kind: "cron",
      p_attempt: 1,
    }],
    ["scheduler_reconcile", {}],
    ["certification_expire_batch", { p_now: lease.p_now, p_batch_size: 1 }],
    [
      "certification_queue_expiry_notices_batch",
      { p_now: lease.p_now, p_window_days: 7, p_batch_size: 1 },
    ],
    [
      "scheduler_certification_changes",
      {
        p_organisation_code: "hlf",
        p_after_change_xid: null,
        p_after_certification_id: null,
        p_limit: 1,
      },
    ],
    ["scheduler_sync_cursor_position", { p_sync_name: "hlf_dynamics_sync" }],
    ["scheduler_retention_targets", {}],
    ["scheduler_doctor_facts", {}],
    ["scheduler_doctor_heartbeat", {}],
    ["scheduler_doctor_response", { p_request_id: 1 }],
    ["scheduler_next_due", { p_job_name: "heartbeat", p_now: lease.p_now }],
    ["scheduler_pause_job", { p_job_name: "heartbeat", p_reason: "x", p_by: "x" }],
    ["scheduler_resume_job", { p_job_name: "heartbeat", p_by: "x" }],
    ["scheduler_cancel", { p_execution_id: lease.p_owner, p_by: "x" }],
    ["scheduler_replay", { p_job_name: "heartbeat", p_slot: "2026-01-01", p_by: "x" }],
    ["scheduler_night_grid", { p_nights: 1 }],
    ["scheduler_failed_nights", { p_job_name: "heartbeat", p_slot: "2026-01-01" }],
    ["scheduler_check_alerts", {}],
    ["scheduler_notify_webhook", { p_text: "x" }],
    [
      "scheduler_purge_batch",
      { p_target: "scheduler_execution_log", p_now: lease.p_now, p_batch_size: 1 },
    ],
    [
      "scheduler_sync_cursor_advance",
      {
        p_sync_name: "hlf_dynamics_sync",
        p_change_xid: "1",
        p_certification_id: lease.p_owner,
        p_now: lease.p_now,
      },
    ],
    [
      "scheduler_sync_quarantine_hold",
      {
        p_sync_name: "hlf_dynamics_sync",
        p_job_name: "hlf_dynamics_sync",
        p_entries: [],
        p_now: lease.p_now,
      },
    ],
    [
      "scheduler_sync_quarantine_due",
      { p_sync_name: "hlf_dynamics_sync", p_now: lease.p_now, p_limit: 1 },
    ],
    [
      "scheduler_sync_quarantine_release",
      { p_sync_name: "hlf_dynamics_sync", p_certification_ids: [] },
    ],
  ] as const
) {
  Deno.test(`anon and authenticated cannot call ${fn}()`, async () => {
    for (const [who, key] of Object.entries(await callers())) {
      const response = await rest(`rpc/${fn}`, key, { method: "POST", body: JSON.stringify(args) });
      const body = await response.text();
      assert.ok(
        response.status === 401 || response.status === 403,
        `${who} called ${fn}: ${response.status} ${
          body.includes(env.SCHEDULER_SECRET) ? "(the body holds the secret)" : body
        }`,
      );
      assert.ok(!body.includes(env.SCHEDULER_SECRET));
    }
  });
}

Deno.test("the service role cannot post requests itself through the dispatch functions", async () => {
  for (
    const [fn, args] of [
      ["scheduler_dispatch_nightly", {}],
      ["scheduler_dispatch", {
        p_job_name: "heartbeat",
      }],
      ["scheduler_enqueue_dispatch", {
        p_job_name: "heartbeat",
        p_slot: "2200-01-01",
        p_kind: "cron",
        p_attempt: 1,
      }],
      ["scheduler_reconcile", {}],
      ["scheduler_check_alerts", {}],
      ["scheduler_notify_webhook", { p_text: "x" }],
      ["scheduler_close_dead_run", {
        p_execution_id: crypto.randomUUID(),
      }],
    ]
  ) {
    const response = await rest(`rpc/${fn}`, env.SERVICE_ROLE_KEY, {
      method: "POST",
      body: JSON.stringify(args),
    });
    const body = await response.text();
    assert.equal(response.status, 403, `service_role called ${fn}: ${response.status} ${body}`);
  }
});

Deno.test("anon and authenticated cannot reach Vault, through PostgREST or in SQL", async () => {
  for (const [who, key] of Object.entries(await callers())) {
    const response = await rest("decrypted_secrets?select=*", key, {
      headers: { "accept-profile": "vault" },
    });
    const body = await response.text();
    assert.ok(response.status >= 400, `${who} read vault: ${response.status}`);
    assert.ok(!body.includes(env.SCHEDULER_SECRET));
  }
  const sql = connect();
  try {
    for (const role of ["anon", "authenticated"]) {
      await assert.rejects(
        sql.begin(async (tx) => {
          await tx.unsafe(`set local role ${role}`);
          await tx`select decrypted_secret from vault.decrypted_secrets`;
        }),
        /permission denied/,
      );
    }
  } finally {
    await sql.end();
  }
});
