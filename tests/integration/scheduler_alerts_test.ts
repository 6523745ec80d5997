// Alerts from the database, on the real stack: pg_net delivers dispatches (or
// fails to), the reconcile sweep retries, scheduler_check_alerts() raises one
// alert per job and slot and POSTs it to a local webhook receiver, a later
// success resolves it, and three failed nights pause the job. Background
// pg_cron sweeps may do any step first: the tests wait for states, not calls.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { runCli } from "../support/cli.ts";
import { poll, uniqueSlot } from "../support/nightly.ts";
import { connect, stackEnv } from "../../local/stack.ts";
import { WebhookReceiver } from "../support/webhook_receiver.ts";
import { seedQuarantine } from "../support/quarantine_probe.ts";

const WEBHOOK = "nightly_scheduler_alert_webhook_url";

async function setWebhook(sql: postgres.Sql, url: string) {
  await sql`select vault.create_secret(${url}, ${WEBHOOK}, 'integration test receiver')`;
}

async function removeWebhook(sql: postgres.Sql) {
  await sql`delete from vault.secrets where name = ${WEBHOOK}`;
}

/** Today's UTC date minus `days`, as the database sees it. */
async function slotDaysAgo(sql: postgres.Sql, days: number): Promise<string> {
  const [{ slot }] = await sql`select to_char((now() at time zone 'utc')::date - ${days}::int,
    'YYYY-MM-DD') as slot`;
  return slot;
}

function alertsOf(sql: postgres.Sql, job: string) {
  return sql`select to_char(slot, 'YYYY-MM-DD') as slot, kind, last_status, last_error, attempts,
      resolved_at, resolved_by, paused, notify_request_id
    from scheduler_alert where job_name = ${job} order by slot`;
}

async function health(sql: postgres.Sql, job: string) {
  const [row] = await sql`select * from scheduler_job_health where job_name = ${job}`;
  return row;
}

Deno.test("a night whose job fails all attempts raises one alert and one webhook POST; a later success resolves it", async () => {
  const sql = connect();
  const receiver = new WebhookReceiver();
  // A night of its own, far ahead, so no other run of the heartbeat touches it
  // and the test can run again on the same stack.
  const slot = uniqueSlot();
  const [policy] = await sql`select max_attempts, retry_backoff_ms, pause_after_failed_nights
    from scheduler_nightly_job where job_name = 'heartbeat'`;
  const [{ url }] = await sql`select decrypted_secret as url from vault.decrypted_secrets
    where name = 'nightly_scheduler_url'`;
  const restoreUrl = () =>
    sql`select vault.update_secret(id, ${url}) from vault.secrets where name = 'nightly_scheduler_url'`;
  try {
    await setWebhook(sql, receiver.url);
    // Two attempts, no backoff, and no pausing of the stack's heartbeat.
    await sql`update scheduler_nightly_job set max_attempts = 2, retry_backoff_ms = 0,
      pause_after_failed_nights = null where job_name = 'heartbeat'`;
    // Every delivery fails: Vault's URL points where the gateway answers 404.
    await sql`select vault.update_secret(id, ${stackEnv().API_URL + "/functions/v1/elsewhere"})
      from vault.secrets where name = 'nightly_scheduler_url'`;
    await sql`select scheduler_dispatch('heartbeat', ${slot}::date)`;
    await poll("both attempts to be recorded lost", 60_000, async () => {
      await sql`select * from scheduler_reconcile()`;
      const [row] = await sql`select count(*) filter (where outcome = 'lost')::int as lost
        from scheduler_dispatch where job_name = 'heartbeat' and slot = ${slot}`;
      return row.lost === 2 ? true : undefined;
    }, 500);
    await restoreUrl();

    const [alert] = await poll("the alert", 30_000, async () => {
      await sql`select * from scheduler_check_alerts()`;
      const rows = await alertsOf(sql, "heartbeat");
      return rows.some((r) => r.slot === slot) ? rows.filter((r) => r.slot === slot) : undefined;
    });
    assert.equal(alert.kind, "lost");
    assert.equal(alert.last_status, "lost");
    assert.equal(alert.attempts, 2);
    assert.match(alert.last_error, /The function URL answered HTTP 404/);
    assert.ok(alert.notify_request_id !== null, "the POST went through pg_net");
    assert.equal(alert.resolved_at, null);

    const [text] = await poll("the webhook POST", 30_000, () => {
      const texts = receiver.textsMentioning(`on the night of ${slot}`);
      return Promise.resolve(texts.length > 0 ? texts : undefined);
    });
    assert.match(text, /^nightly-scheduler: heartbeat FAILED \(lost after 2 of 2 attempts\)/);
    assert.match(text, /The function URL answered HTTP 404/);
    assert.match(text, /Check: deno task scheduler status --job heartbeat/);
    assert.equal(receiver.received[0].contentType, "application/json");

    // Never two: more checks add no alert and no POST.
    await sql`select * from scheduler_check_alerts()`;
    await sql`select * from scheduler_check_alerts()`;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.equal((await alertsOf(sql, "heartbeat")).filter((r) => r.slot === slot).length, 1);
    assert.equal(receiver.textsMentioning(`on the night of ${slot}`).length, 1);
    assert.equal((await health(sql, "heartbeat")).open_alerts, 1);

    // A later success of the same night resolves it.
    await sql`select scheduler_dispatch('heartbeat', ${slot}::date)`;
    const success = await poll("the successful third attempt", 30_000, async () => {
      const [row] = await sql`select id from scheduler_execution_log
        where job_name = 'heartbeat' and slot = ${slot} and status = 'succeeded'`;
      return row;
    });
    const [resolved] = await poll("the alert to resolve", 30_000, async () => {
      await sql`select * from scheduler_check_alerts()`;
      const rows = (await alertsOf(sql, "heartbeat")).filter((r) => r.slot === slot);
      return rows[0]?.resolved_at ? rows : undefined;
    });
    assert.equal(resolved.resolved_by, success.id);
    const row = await health(sql, "heartbeat");
    assert.equal(row.open_alerts, 0);
    assert.equal(row.last_status, "succeeded");
  } finally {
    await restoreUrl();
    await sql`update scheduler_nightly_job set max_attempts = ${policy.max_attempts},
      retry_backoff_ms = ${policy.retry_backoff_ms},
      pause_after_failed_nights = ${policy.pause_after_failed_nights}
      where job_name = 'heartbeat'`;
    await sql`delete from scheduler_alert where job_name = 'heartbeat' and slot = ${slot}`;
    await sql`delete from scheduler_execution_log where job_name = 'heartbeat' and slot = ${slot}`;
    await sql`delete from scheduler_dispatch where job_name = 'heartbeat' and slot = ${slot}`;
    await removeWebhook(sql);
    await receiver.close();
    await sql.end();
  }
});

Deno.test("a missed night and two failed ones pause the job; health, webhook and doctor say so", async () => {
  const sql = connect();
  const receiver = new WebhookReceiver();
  const job = `it_alert_${crypto.randomUUID().slice(0, 8)}`;
  const [missed, failed1, failed2] = [
    await slotDaysAgo(sql, 2),
    await slotDaysAgo(sql, 1),
    await slotDaysAgo(sql, 0),
  ];
  try {
    await setWebhook(sql, receiver.url);
    // Disabled while its nights are set up, so no background check judges a half-made night.
    await sql`insert into scheduler_nightly_job (job_name, enabled, max_attempts, window_end,
        alerts_from, pause_after_failed_nights)
      values (${job}, false, 1, '23:59:59', ${missed}::date::timestamp at time zone 'utc', 3)`;
    // The first night nothing dispatches: the nightly pg_cron job is inactive.
    await sql`select cron.alter_job(jobid, active := false) from cron.job
      where jobname = 'nightly-scheduler'`;
    // The next two nights are dispatched and fail (the function has no such job).
    await sql`select scheduler_dispatch(${job}, ${failed1}::date)`;
    await sql`select scheduler_dispatch(${job}, ${failed2}::date)`;
    await poll("both failed runs", 30_000, async () => {
      const [row] = await sql`select count(*)::int as n from scheduler_execution_log
        where job_name = ${job} and status = 'failed' and slot is not null`;
      return row.n === 2 ? true : undefined;
    });
    await sql`update scheduler_nightly_job set enabled = true where job_name = ${job}`;

    const alerts = await poll("three alerts", 30_000, async () => {
      await sql`select * from scheduler_check_alerts()`;
      const rows = await alertsOf(sql, job);
      return rows.length === 3 ? rows : undefined;
    });
    assert.deepEqual(
      alerts.map((a) => [a.slot, a.kind, a.attempts, a.paused]),
      [[missed, "missed", 0, false], [failed1, "failed", 1, false], [failed2, "failed", 1, true]],
    );
    assert.equal(alerts[0].last_error, "No dispatch was recorded for this night");
    assert.match(alerts[2].last_error, new RegExp(`Cannot run job '${job}': no handler`));

    const [{ pause_reason }] = await sql`select pause_reason from scheduler_nightly_job
      where job_name = ${job}`;
    assert.match(
      pause_reason,
      new RegExp(`after 3 failed nights in a row \\(last: failed on the night of ${failed2}\\)`),
    );

    const texts = await poll("three webhook POSTs", 30_000, () => {
      const found = receiver.textsMentioning(job);
      return Promise.resolve(found.length === 3 ? found : undefined);
    });
    assert.equal(texts.filter((t) => t.includes(`${job} MISSED its run`)).length, 1);
    assert.equal(
      texts.filter((t) => /is now PAUSED after 3 failed nights in a row/.test(t)).length,
      1,
    );

    const row = await health(sql, job);
    assert.equal(row.paused, true);
    assert.equal(row.pause_reason, pause_reason);
    assert.equal(row.consecutive_failed_nights, 3);
    assert.equal(row.open_alerts, 3);
    assert.equal(row.attempts_tonight, 1);
    assert.equal(row.next_run_at, null, "a paused job has no next run");
    assert.equal(row.last_status, "failed");
    // The sweep decides what is due: the 02:00 pg_cron job is not needed to start a job.
    const next = new Date((await health(sql, "heartbeat")).next_run_at);
    assert.equal(next.toISOString().slice(11), "02:00:00.000Z");
    assert.ok(next.getTime() > Date.now() && next.getTime() <= Date.now() + 86_400_000);

    // Paused: later checks raise nothing more for it.
    await sql`select * from scheduler_check_alerts()`;
    assert.equal((await alertsOf(sql, job)).length, 3);

    const doctor = await runCli(["doctor"]);
    assert.equal(doctor.code, 1);
    assert.match(
      doctor.stdout,
      new RegExp(`^FAIL\\s+alerts\\s+3 open \\(.*${job}.*\\); paused: ${job}`, "m"),
    );
    assert.match(doctor.stdout, /^FAIL\s+cron nightly-scheduler\s+the pg_cron job is inactive/m);
  } finally {
    await sql`select cron.alter_job(jobid, active := true) from cron.job
      where jobname = 'nightly-scheduler'`;
    await sql`delete from scheduler_alert where job_name = ${job}`;
    await sql`delete from scheduler_execution_log where job_name = ${job}`;
    await sql`delete from scheduler_dispatch where job_name = ${job}`;
    await sql`delete from scheduler_job_lease where job_name = ${job}`;
    await sql`delete from scheduler_nightly_job where job_name = ${job}`;
    await removeWebhook(sql);
    await receiver.close();
    await sql.end();
  }
});

Deno.test("records a sync leaves for a person raise one quarantined alert and one webhook POST; it resolves once none waits", async () => {
  const sql = connect();
  const receiver = new WebhookReceiver();
  const probe = await seedQuarantine(sql, "alert_quarantine_probe", {
    needsPerson: 2,
    retrying: 1,
  });
  try {
    await setWebhook(sql, receiver.url);
    const [alert] = await poll("the quarantined alert", 30_000, async () => {
      await sql`select * from scheduler_check_alerts()`;
      const rows = await sql`select kind, attempts, last_error, quarantined_needs_person,
          resolved_at, notify_request_id
        from scheduler_alert where job_name = ${probe.job}`;
      return rows.length > 0 ? rows : undefined;
    });
    assert.equal(alert.kind, "quarantined");
    assert.equal(alert.quarantined_needs_person, 2);
    assert.equal(alert.attempts, 2, "the job's max_quarantine_attempts");
    assert.equal(alert.last_error, "HTTP 400 (a refused value)");
    assert.ok(alert.notify_request_id !== null, "the POST went through pg_net");

    const [text] = await poll("the webhook POST", 30_000, () => {
      const texts = receiver.textsMentioning(probe.job);
      return Promise.resolve(texts.length > 0 ? texts : undefined);
    });
    assert.match(
      text,
      /^nightly-scheduler: alert_quarantine_probe has 2 quarantined record\(s\) WAITING FOR A PERSON/,
    );
    assert.match(text, /scheduler_sync_quarantine \(job_name = 'alert_quarantine_probe'\)/);

    // Never two while they wait; the health view counts the alert and the records.
    await sql`select * from scheduler_check_alerts()`;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.equal(receiver.textsMentioning(probe.job).length, 1);
    const row = await health(sql, probe.job);
    assert.deepEqual(
      [row.open_alerts, row.quarantined_needs_person, row.quarantined_retrying],
      [1, 2, 1],
    );
    assert.equal(row.consecutive_failed_nights, 0, "records waiting are not a failed night");

    // The portal accepts them (a person fixed the data): the alert resolves.
    await probe.release();
    await sql`select * from scheduler_check_alerts()`;
    const [resolved] = await sql`select resolved_at, resolved_by, quarantined_needs_person
      from scheduler_alert where job_name = ${probe.job}`;
    assert.ok(resolved.resolved_at !== null);
    assert.equal(resolved.resolved_by, null);
    assert.equal(resolved.quarantined_needs_person, 0);
    assert.equal((await health(sql, probe.job)).open_alerts, 0);
  } finally {
    await probe.drop();
    await removeWebhook(sql);
    await receiver.close();
    await sql.end();
  }
});
