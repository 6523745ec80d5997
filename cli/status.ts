import { gridJson, type NightCell, renderGrid } from "./night_grid.ts";
import type { SchedulerApi } from "./scheduler_api.ts";
import { renderTable, shortTime } from "./table.ts";

/** One row of scheduler_job_health as PostgREST returns it. */
export type HealthRow = Record<string, unknown> & { job_name: string };

const HEALTH_COLUMNS = [
  { key: "job_name", title: "JOB" },
  { key: "state", title: "STATE" },
  { key: "runner", title: "RUNNER" },
  { key: "last_status", title: "LAST" },
  { key: "last_started_at", title: "LAST RUN" },
  { key: "last_success_at", title: "LAST SUCCESS" },
  { key: "consecutive_failed_nights", title: "FAILED NIGHTS" },
  { key: "attempts", title: "TONIGHT" },
  { key: "parts", title: "PARTS" },
  { key: "next_run_at", title: "NEXT RUN" },
  { key: "open_alerts", title: "ALERTS" },
  { key: "quarantined", title: "QUARANTINED" },
] as const;

const RUN_COLUMNS = [
  { key: "started_at", title: "STARTED" },
  { key: "trigger", title: "TRIGGER" },
  { key: "runner", title: "RUNNER" },
  { key: "slot", title: "NIGHT" },
  { key: "attempt", title: "TRY" },
  { key: "status", title: "STATUS" },
  { key: "duration_ms", title: "MS" },
  { key: "cpu_ms", title: "CPU MS" },
  { key: "peak_rss_mb", title: "PEAK MB" },
  { key: "stop_reason", title: "STOPPED BY" },
  { key: "error_message", title: "ERROR" },
] as const;

/** `status --nights N`: the last N nights as a grid of outcomes (scheduler_night_grid), or its JSON. */
export async function nightGrid(
  api: SchedulerApi,
  options: { nights: number; json: boolean; colour: boolean },
  print: (text: string) => void,
): Promise<number> {
  const cells = await api.rpc<NightCell[]>("scheduler_night_grid", { p_nights: options.nights });
  print(
    options.json ? JSON.stringify(gridJson(cells), null, 2) : renderGrid(cells, options.colour),
  );
  return 0;
}

/** `status`: the health view as a table (or JSON), plus a job's last runs with --job. */
export async function status(
  api: SchedulerApi,
  options: { json: boolean; job?: string; limit: number },
  print: (text: string) => void,
): Promise<number> {
  const jobs = await api.rest<HealthRow[]>("scheduler_job_health?select=*&order=job_name");
  const runs = options.job === undefined ? undefined : await api.rest<Record<string, unknown>[]>(
    `scheduler_execution_log?select=id,job_name,trigger,runner,slot,attempt,status,started_at,finished_at,duration_ms,cpu_ms,peak_rss_mb,stop_reason,error_message` +
      `&job_name=eq.${options.job}&order=started_at.desc&limit=${options.limit}`,
  );
  if (options.json) {
    print(JSON.stringify(runs === undefined ? { jobs } : { jobs, runs }, null, 2));
    return 0;
  }
  print(renderTable(HEALTH_COLUMNS, jobs.map(displayHealth)));
  // The reasons do not fit a column: one line each under the table.
  for (const job of jobs.filter((j) => j.pause_reason)) {
    print(`${job.job_name} is paused: ${job.pause_reason}`);
  }
  for (const job of jobs.filter((j) => j.runner === "sql")) {
    print(
      `${job.job_name} is pinned to its SQL runner ${job.sql_runner}; back to the function: ` +
        `update scheduler_nightly_job set runner = 'function' where job_name = '${job.job_name}'`,
    );
  }
  for (const job of jobs.filter((j) => j.runner !== "sql" && j.runner_tonight === "sql")) {
    print(
      `${job.job_name}: tonight's work was done by its SQL runner ${job.sql_runner}: ` +
        "every dispatch to the function was lost",
    );
  }
  for (const job of jobs.filter((j) => Number(j.quarantined_needs_person ?? 0) > 0)) {
    print(
      `${job.job_name}: ${job.quarantined_needs_person} quarantined record(s) wait for a person ` +
        `(scheduler_sync_quarantine, job_name = '${job.job_name}')`,
    );
  }
  if (runs !== undefined) {
    print("");
    print(`last ${options.limit} runs of ${options.job}:`);
    print(
      runs.length === 0 ? `no runs of '${options.job}' in the log` : renderTable(
        RUN_COLUMNS,
        runs.map((r) => ({ ...r, started_at: shortTime(r.started_at) })),
      ),
    );
  }
  return 0;
}

function displayHealth(row: HealthRow): Record<string, unknown> {
  const state = row.pause_reason ? "PAUSED" : row.enabled ? "enabled" : "disabled";
  const next = row.next_run_at ?? null;
  return {
    ...row,
    state,
    runner: runner(row),
    attempts: `${row.attempts_tonight ?? 0}/${row.max_attempts ?? "-"}`,
    // The night as one run of N parts, against the job's part cap.
    parts: `${row.parts_tonight ?? 0}/${row.max_parts ?? "-"}`,
    quarantined: quarantined(row),
    last_started_at: shortTime(row.last_started_at),
    last_success_at: shortTime(row.last_success_at),
    next_run_at: row.run_after && next !== null
      ? `after ${row.run_after} (${shortTime(next)})`
      : shortTime(next),
  };
}

/** The job's runner (pinned to sql, or the function), and who did tonight's work when another. */
function runner(row: HealthRow): string {
  const policy = row.runner === "sql" ? "sql (pinned)" : "function";
  const tonight = row.runner_tonight ?? null;
  return tonight !== null && tonight !== row.runner ? `${policy}; tonight ${tonight}` : policy;
}

/** "-" when nothing waits, else how many are retried nightly and how many need a person. */
function quarantined(row: HealthRow): string | null {
  const retrying = Number(row.quarantined_retrying ?? 0);
  const needsPerson = Number(row.quarantined_needs_person ?? 0);
  if (retrying === 0 && needsPerson === 0) return null;
  return `${retrying} retrying, ${needsPerson} for a person`;
}
