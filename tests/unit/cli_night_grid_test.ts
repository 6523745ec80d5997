import assert from "node:assert/strict";
import { gridJson, type NightCell, OUTCOMES, renderGrid } from "../../cli/night_grid.ts";
import { parsePlainGrid } from "../support/grid.ts";

function cell(job: string, slot: string, outcome: NightCell["outcome"]): NightCell {
  return {
    job_name: job,
    slot,
    outcome,
    attempts: 1,
    parts: 0,
    last_status: null,
    replayed: false,
  };
}

const CELLS = [
  cell("heartbeat", "2026-11-30", "succeeded"),
  cell("heartbeat", "2026-12-01", "failed"),
  cell("heartbeat", "2026-12-02", "running"),
  cell("sync", "2026-12-01", "paused"),
  cell("sync", "2026-11-30", "missed"),
  cell("sync", "2026-12-02", "none"),
];

Deno.test("renderGrid() prints jobs by nights in plain symbols under each day, then the legend", () => {
  const text = renderGrid(CELLS, false);
  const lines = text.split("\n");
  assert.equal(lines[1], "JOB       30 01 02");
  assert.equal(lines[2], "heartbeat  o  F  >");
  assert.equal(lines[3], "sync       M  =  .");
  assert.ok(!text.includes("\x1b["), "no colour codes in a pipe");
  for (const text of ["succeeded after retries", "ran by another runner", "nothing scheduled"]) {
    assert.ok(lines.slice(4).join(" ").includes(text), text);
  }
  assert.deepEqual(parsePlainGrid(text), {
    heartbeat: ["succeeded", "failed", "running"],
    sync: ["missed", "paused", "none"],
  });
});

Deno.test("renderGrid() colours each symbol on a terminal", () => {
  const text = renderGrid(CELLS, true);
  const row = text.split("\n").find((line) => line.startsWith("heartbeat"))!;
  assert.equal(row, "heartbeat  \x1b[32mo\x1b[0m  \x1b[31mF\x1b[0m  \x1b[36m>\x1b[0m");
});

Deno.test("gridJson() gives the same cells, nights in order, and a symbol for every outcome", () => {
  const json = gridJson(CELLS);
  assert.deepEqual(json.nights, ["2026-11-30", "2026-12-01", "2026-12-02"]);
  assert.deepEqual(json.jobs[1].nights.map((n) => n.outcome), ["missed", "paused", "none"]);
  assert.deepEqual(Object.keys(json.legend), [...OUTCOMES]);
  assert.equal(new Set(Object.values(json.legend)).size, OUTCOMES.length, "symbols are distinct");
});
