// A function URL in Vault that pg_net refuses (it raises inside the caller's
// transaction, as the real pg_net does) must not silence the night: the
// dispatch is written and recorded lost with the reason, and the alert fires.
import assert from "node:assert/strict";
import { dropSlot, poll, uniqueSlot } from "../support/nightly.ts";
import { connect } from "../../local/stack.ts";

Deno.test("a malformed function URL in Vault gives a lost row and an alert, not an error", async () => {
  const sql = connect();
  const slot = uniqueSlot();
  const [{ url }] = await sql`select decrypted_secret as url from vault.decrypted_secrets
    where name = 'nightly_scheduler_url'`;
  const [policy] = await sql`select max_attempts, pause_after_failed_nights
    from scheduler_nightly_job where job_name = 'heartbeat'`;
  try {
    // One attempt, so the night is settled at once; no pausing of the stack's heartbeat.
    await sql`update scheduler_nightly_job set max_attempts = 1, pause_after_failed_nights = null
      where job_name = 'heartbeat'`;
    await sql`select vault.update_secret(id, 'htp//bad url') from vault.secrets
      where name = 'nightly_scheduler_url'`;

    const [{ id }] = await sql`select scheduler_dispatch('heartbeat', ${slot}::date) as id`;

    const [dispatch] = await sql`select outcome, lost_reason from scheduler_dispatch
      where id = ${id}`;
    assert.equal(dispatch.outcome, "lost");
    assert.match(
      dispatch.lost_reason,
      /^The function URL in Vault is not a valid URL: .*htp\/\/bad url/,
    );
    const [run] = await sql`select status, error_message from scheduler_execution_log
      where dispatch_id = ${id}`;
    assert.deepEqual(run, { status: "lost", error_message: dispatch.lost_reason });

    const [alert] = await poll("the alert", 30_000, async () => {
      await sql`select * from scheduler_check_alerts()`;
      const rows = await sql`select kind, last_status, last_error from scheduler_alert
        where job_name = 'heartbeat' and slot = ${slot}`;
      return rows.length > 0 ? rows : undefined;
    });
    assert.deepEqual([alert.kind, alert.last_status], ["lost", "lost"]);
    assert.match(alert.last_error, /not a valid URL/);
  } finally {
    await sql`select vault.update_secret(id, ${url}) from vault.secrets
      where name = 'nightly_scheduler_url'`;
    await sql`update scheduler_nightly_job set max_attempts = ${policy.max_attempts},
      pause_after_failed_nights = ${policy.pause_after_failed_nights}
      where job_name = 'heartbeat'`;
    await sql`delete from scheduler_alert where job_name = 'heartbeat' and slot = ${slot}`;
    await dropSlot(sql, slot);
    await sql.end();
  }
});
