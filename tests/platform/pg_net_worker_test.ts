// Platform contract: the pg_net stand-in's worker behaves like pg_net 0.20's
// background worker (as the real 0.20 was observed to behave): batches held in one
// transaction until every request answered, visibility at commit, `created` per
// batch, head-of-line waiting, woken (and reading the queue about a second after
// a batch) rather than polling, time-outs recorded.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { connect, connectAdmin } from "../../local/stack.ts";
import { startProbe, waitFor } from "./http_probe.ts";

const SLOW_MS = 3000;

async function responses(sql: postgres.Sql, ids: string[]) {
  return await sql`select id::text, status_code, timed_out, error_msg, created
    from net._http_response where id = any(${ids}::bigint[]) order by id`;
}

Deno.test("pg_net: a batch is one transaction held until its slowest request answers; rows appear together at commit", async () => {
  const sql = connect();
  const probe = startProbe();
  try {
    const ids = await sql.begin(async (tx) => {
      const [post] = await tx`select net.http_post(${probe.url(`/slow/${SLOW_MS}`)},
        timeout_milliseconds := 20000)::text as id`;
      const [get] = await tx`select net.http_get(${probe.url("/fast")},
        timeout_milliseconds := 20000)::text as id`;
      return [post.id, get.id];
    });
    // The GET is answered at once, but nothing of the batch is visible yet.
    await waitFor(
      "the GET to reach the server",
      5000,
      () => probe.hit("/fast")?.answeredAt ?? undefined,
    );
    // The worker's session details are only visible to a role like its own.
    const admin = connectAdmin();
    const [worker] = await waitFor("the worker's open transaction", 5000, async () => {
      const rows = await admin`select backend_xid::text from pg_stat_activity
        where application_name = 'pg_net 0.20.0' and backend_xid is not null`;
      return rows.length > 0 ? rows : undefined;
    }).finally(() => admin.end());
    assert.ok(worker.backend_xid, "the batch holds a transaction id");
    const early = await responses(sql, ids);
    assert.equal(early.length, 0, "no response is visible while the batch runs");
    const [queued] = await sql`select count(*)::int as n from net.http_request_queue
      where id = any(${ids}::bigint[])`;
    assert.equal(queued.n, 2, "the queue deletions are not visible before the commit either");

    const rows = await waitFor("both responses", 20_000, async () => {
      const rows = await responses(sql, ids);
      return rows.length > 0 ? rows : undefined;
    });
    assert.equal(rows.length, 2, "both rows become visible in the same commit");
    assert.ok(Date.now() >= probe.hit(`/slow/${SLOW_MS}`)!.answeredAt!);
    assert.deepEqual(rows.map((r) => r.status_code), [200, 200]);
    assert.equal(rows[0].created.getTime(), rows[1].created.getTime(), "created = batch start");
    assert.ok(
      rows[0].created.getTime() <= probe.hit(`/slow/${SLOW_MS}`)!.arrivedAt,
      "created is the batch's start, not the answer's time",
    );
  } finally {
    await probe.close();
    await sql.end();
  }
});

Deno.test("pg_net: a GET queued while a batch runs waits for it (head of line); one queued after it commits does not", async () => {
  const sql = connect();
  const probe = startProbe();
  try {
    const [post] = await sql`select net.http_post(${probe.url(`/slow/${SLOW_MS}`)},
      timeout_milliseconds := 20000)::text as id`;
    await waitFor("the slow POST to reach the server", 5000, () => probe.hit(`/slow/${SLOW_MS}`));
    const [during] = await sql`select net.http_get(${probe.url("/during")})::text as id`;
    const duringHit = await waitFor(
      "the GET queued during the batch",
      20_000,
      () => probe.hit("/during"),
    );
    const slowHit = probe.hit(`/slow/${SLOW_MS}`)!;
    assert.ok(slowHit.answeredAt !== null, "the GET was sent before the slow POST answered");
    assert.ok(duringHit.arrivedAt >= slowHit.answeredAt, "the GET waited for the running batch");
    const [first, second] = await waitFor("both responses", 20_000, async () => {
      const rows = await responses(sql, [post.id, during.id]);
      return rows.length === 2 ? rows : undefined;
    });
    assert.ok(second.created > first.created, "the GET ran in the next batch");

    const queuedAt = Date.now();
    await sql`select net.http_get(${probe.url("/after")})`;
    const afterHit = await waitFor(
      "the GET queued after the batch",
      20_000,
      () => probe.hit("/after"),
    );
    assert.ok(
      afterHit.arrivedAt - queuedAt < SLOW_MS,
      `a GET queued on an idle worker went out after ${afterHit.arrivedAt - queuedAt} ms`,
    );
  } finally {
    await probe.close();
    await sql.end();
  }
});

/** Queues a GET without net.wake(), as only the worker's own reading of the queue would send it. */
async function queueUnwoken(sql: postgres.Sql, url: string): Promise<void> {
  await sql`insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
    values ('GET', ${url}, '{}', 5000)`;
}

/** Sends one woken request and waits for its batch to commit. */
async function oneBatch(sql: postgres.Sql, url: string): Promise<void> {
  const [{ id }] = await sql`select net.http_get(${url})::text as id`;
  await waitFor("the batch to commit", 20_000, async () => {
    const rows = await responses(sql, [id]);
    return rows.length > 0 ? true : undefined;
  });
}

Deno.test("pg_net: after a batch the worker reads the queue again for about a second, then only when woken", async () => {
  const sql = connect();
  const probe = startProbe();
  try {
    await oneBatch(sql, probe.url("/batch"));
    await queueUnwoken(sql, probe.url("/drained"));
    await waitFor("the request queued right after the batch", 5_000, () => probe.hit("/drained"));
    // The drain after that last batch is over by now: back to waiting for a wake-up.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await queueUnwoken(sql, probe.url("/later"));
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal(probe.hit("/later"), undefined, "the worker kept polling the queue");
    await sql`select net.wake()`;
    await waitFor("the woken worker to send the request", 10_000, () => probe.hit("/later"));
  } finally {
    await probe.close();
    await sql.end();
  }
});

Deno.test("pg_net: the worker acts when woken (net.wake() at commit), not on a timer", async () => {
  const sql = connect();
  const probe = startProbe();
  try {
    // Past the drain after any earlier test's batch.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Queued without net.wake(): nothing sends it.
    await sql`insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
      values ('GET', ${probe.url("/unwoken")}, '{}', 5000)`;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(probe.hit("/unwoken"), undefined, "the worker polled the queue");
    // A wake inside a transaction that rolls back wakes nobody either.
    await sql.begin(async (tx) => {
      await tx`select net.wake()`;
      await tx`select 1/0`;
    }).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(probe.hit("/unwoken"), undefined, "a rolled-back wake woke the worker");
    await sql`select net.wake()`;
    await waitFor("the woken worker to send the request", 10_000, () => probe.hit("/unwoken"));
  } finally {
    await probe.close();
    await sql.end();
  }
});

Deno.test("pg_net: a request past its timeout gets status_code null, timed_out true and an error text; no retry", async () => {
  const sql = connect();
  const probe = startProbe();
  try {
    const [{ id }] = await sql`select net.http_post(${probe.url("/slow/2000")},
      timeout_milliseconds := 300)::text as id`;
    const [row] = await waitFor("the timed-out response", 20_000, async () => {
      const rows = await responses(sql, [id]);
      return rows.length > 0 ? rows : undefined;
    });
    assert.equal(row.status_code, null);
    assert.equal(row.timed_out, true);
    assert.match(row.error_msg, /Timeout of 300 ms reached/);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(probe.hits.length, 1, "pg_net never retries");
  } finally {
    await probe.close();
    await sql.end();
  }
});

Deno.test("pg_net: a change committed while a batch is open stays out of an xmin-based change feed until the batch commits", async () => {
  const sql = connect();
  const feed = await sql.reserve();
  const probe = startProbe();
  try {
    // The feed reads rows whose writing transaction is below its snapshot's
    // xmin, as scheduler_certification_changes() does.
    await feed`create temporary table change_feed_probe (xid xid8 not null)`;
    const unseen = () =>
      feed`select count(*)::int as n from change_feed_probe
        where xid < pg_snapshot_xmin(pg_current_snapshot())`;
    await sql`select net.http_post(${
      probe.url(`/slow/${SLOW_MS}`)
    }, timeout_milliseconds := 20000)`;
    await waitFor("the batch to start", 5000, () => probe.hit(`/slow/${SLOW_MS}`));
    await feed`insert into change_feed_probe values (pg_current_xact_id())`;
    const [open] = await unseen();
    assert.equal(open.n, 0, "the change is visible to the feed while the batch is open");
    await waitFor("the batch to commit and the feed to catch up", 20_000, async () => {
      const [row] = await unseen();
      return row.n === 1 ? true : undefined;
    });
    assert.ok(
      Date.now() >= probe.hit(`/slow/${SLOW_MS}`)!.answeredAt!,
      "the feed saw the change before the batch's slowest request answered",
    );
  } finally {
    feed.release();
    await probe.close();
    await sql.end();
  }
});

Deno.test("pg_net: each batch deletes responses older than pg_net.ttl (6 hours) and keeps younger ones", async () => {
  const sql = connect();
  const probe = startProbe();
  const [old, young] = [-880001, -880002];
  try {
    await sql`insert into net._http_response (id, status_code, timed_out, created) values
      (${old}, 200, false, now() - interval '6 hours 1 minute'),
      (${young}, 200, false, now() - interval '5 hours 59 minutes')`;
    const [{ id }] = await sql`select net.http_get(${probe.url("/ttl")})::text as id`;
    await waitFor("the batch to commit", 20_000, async () => {
      const rows = await responses(sql, [id]);
      return rows.length > 0 ? true : undefined;
    });
    const kept = await sql`select id::int from net._http_response
      where id in (${old}, ${young})`;
    assert.deepEqual(kept.map((r) => r.id), [young]);
  } finally {
    await sql`delete from net._http_response where id in (${old}, ${young})`;
    await probe.close();
    await sql.end();
  }
});
