import assert from "node:assert/strict";
import { renderTable, shortTime } from "../../cli/table.ts";

Deno.test("renderTable() aligns columns, shows null as '-', and keeps every row on one line", () => {
  const text = renderTable(
    [{ key: "job", title: "JOB" }, { key: "error", title: "ERROR" }],
    [{ job: "heartbeat", error: null }, { job: "x", error: "line one\nline two" }],
  );
  assert.equal(
    text,
    ["JOB        ERROR", "heartbeat  -", "x          line one line two"].join("\n"),
  );
});

Deno.test("renderTable() cuts a long cell at 60 characters", () => {
  const text = renderTable([{ key: "e", title: "E" }], [{ e: "a".repeat(100) }]);
  assert.equal(text.split("\n")[1], `${"a".repeat(57)}...`);
});

Deno.test("shortTime() shows a timestamp to the minute in UTC and leaves other values alone", () => {
  assert.equal(shortTime("2026-11-28T02:00:04.113+00:00"), "2026-11-28 02:00Z");
  assert.equal(shortTime("not a time"), "not a time");
  assert.equal(shortTime(null), null);
});
