// A run's end against a PostgREST outage longer than the final write's own
// retry window but shorter than the run's lease (30 s): the lease beats on and
// the write is retried while the lease lives, so the row keeps the true end.
import assert from "node:assert/strict";
import { poll } from "../support/nightly.ts";
import { startPostgrest, stopPostgrest } from "../support/stack_processes.ts";
import { callScheduler, connect } from "../../local/stack.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const HOLD_MS = 3_000;

for (const outageMs of [10_000, 20_000]) {
  Deno.test(`PostgREST stopped for ${outageMs / 1000} s at the end of a run: the row keeps its true status, duration and summary`, async () => {
    const sql = connect();
    try {
      const ack = await callScheduler({
        job_name: "heartbeat",
        payload: { hold_ms: HOLD_MS },
        wait: false,
      });
      assert.equal(ack.body.status, "running");
      const id = ack.body.execution_id as string;
      // Away from just before the run's end until outageMs after it.
      await sleep(HOLD_MS - 500);
      stopPostgrest();
      try {
        await sleep(500 + outageMs);
      } finally {
        await startPostgrest();
      }
      const row = await poll("the run's final row", 40_000, async () => {
        const [row] = await sql`select status, duration_ms, error_message, summary
          from scheduler_execution_log where id = ${id}`;
        return row.status === "running" ? undefined : row;
      });
      assert.equal(row.status, "succeeded", row.error_message);
      assert.ok(
        row.duration_ms >= HOLD_MS && row.duration_ms < HOLD_MS + outageMs / 2,
        `duration ${row.duration_ms} ms`,
      );
      assert.equal(row.summary?.held_ms, HOLD_MS);
      // The lease went with the true end: the job is free at once, not skipped.
      const next = await callScheduler({ job_name: "heartbeat" });
      assert.equal(next.body.status, "succeeded");
    } finally {
      await sql.end();
    }
  });
}
