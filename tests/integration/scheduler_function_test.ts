// The function through the local gateway, with the real Postgres, PostgREST and Vault stand-in.
import assert from "node:assert/strict";
import { MIN_FRESH_READ_INTERVAL_MS } from "../../src/infrastructure/supabase/vault_secret_store.ts";
import { callScheduler, connect, stackEnv } from "../../local/stack.ts";

Deno.test("POST with the Vault secret runs the job and writes a complete scheduler_execution_log row", async () => {
  const sql = connect();
  try {
    const { status, body } = await callScheduler({ job_name: "heartbeat" });
    assert.equal(status, 200);
    assert.equal(body.status, "succeeded");
    const [row] = await sql`
      select job_name, trigger, status, started_at, finished_at, duration_ms, error_message, summary
      from scheduler_execution_log where id = ${body.execution_id as string}`;
    assert.equal(row.job_name, "heartbeat");
    assert.equal(row.trigger, "manual");
    assert.equal(row.status, "succeeded");
    assert.equal(row.error_message, null);
    assert.equal(row.started_at.toISOString(), body.started_at);
    assert.equal(row.finished_at.toISOString(), body.finished_at);
    assert.equal(row.duration_ms, body.duration_ms);
    assert.equal(row.summary.trigger, "manual");
  } finally {
    await sql.end();
  }
});

Deno.test("a wrong or missing secret gets 401 and leaves no row", async () => {
  const sql = connect();
  try {
    const before = await sql`select count(*)::int as n from scheduler_execution_log`;
    for (const secret of ["wrong-secret", null]) {
      const { status, body } = await callScheduler({ job_name: "heartbeat" }, { secret });
      assert.equal(status, 401);
      assert.equal((body.error as { code: string }).code, "unauthorized");
    }
    const after = await sql`select count(*)::int as n from scheduler_execution_log`;
    assert.equal(after[0].n, before[0].n);
  } finally {
    await sql.end();
  }
});

Deno.test("an unknown job gets 404 and a failed row naming it; a caller's claim to be cron is not believed", async () => {
  const sql = connect();
  try {
    const name = `no_such_job_${crypto.randomUUID().slice(0, 8)}`;
    const { status } = await callScheduler({
      job_name: name,
      trigger: "cron",
      dispatch_id: crypto.randomUUID(),
    });
    assert.equal(status, 404);
    const rows = await sql`select status, trigger, error_message from scheduler_execution_log
      where job_name = ${name}`;
    assert.deepEqual(rows.map((r) => [r.status, r.trigger]), [["failed", "manual"]]);
    assert.match(rows[0].error_message, /no handler is registered/);
  } finally {
    await sql.end();
  }
});

Deno.test("after vault.update_secret the new secret works and the old one fails, with no restart", async () => {
  const sql = connect();
  const env = stackEnv();
  const rotated = `rotated-${crypto.randomUUID()}`;
  try {
    await sql`select vault.update_secret(id, ${rotated}) from vault.secrets
      where name = 'nightly_scheduler_secret'`;
    // The function re-reads Vault at most once a second (see VaultSecretStore);
    // an earlier test's wrong secret may just have used that read.
    await new Promise((resolve) => setTimeout(resolve, MIN_FRESH_READ_INTERVAL_MS + 100));
    const fresh = await callScheduler({ job_name: "heartbeat" }, { secret: rotated });
    assert.equal(fresh.status, 200);
    const stale = await callScheduler({ job_name: "heartbeat" }, { secret: env.SCHEDULER_SECRET });
    assert.equal(stale.status, 401);
  } finally {
    await sql`select vault.update_secret(id, ${env.SCHEDULER_SECRET}) from vault.secrets
      where name = 'nightly_scheduler_secret'`;
    await sql.end();
    // Rotating back is a rotation too: let the next test's first call re-read Vault.
    await new Promise((resolve) => setTimeout(resolve, MIN_FRESH_READ_INTERVAL_MS + 100));
  }
  assert.equal((await callScheduler({ job_name: "heartbeat" })).status, 200);
});

Deno.test("two overlapping runs of one job: the second is skipped and recorded", async () => {
  const sql = connect();
  try {
    const first = callScheduler({ job_name: "heartbeat", payload: { hold_ms: 3000 } });
    // Poll until the first run holds the lease, then start the second.
    for (let i = 0; i < 100; i++) {
      const [held] = await sql`select count(*)::int as n from scheduler_job_lease
        where job_name = 'heartbeat' and owner is not null`;
      if (held.n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const second = await callScheduler({ job_name: "heartbeat" });
    const done = await first;
    assert.equal(done.body.status, "succeeded");
    assert.equal(second.status, 200);
    assert.equal(second.body.status, "skipped");
    const [row] = await sql`select status, error_message from scheduler_execution_log
      where id = ${second.body.execution_id as string}`;
    assert.equal(row.status, "skipped");
    assert.match(row.error_message, new RegExp(done.body.execution_id as string));
  } finally {
    await sql.end();
  }
});
