/** One cell as scheduler_night_grid() returns it: a job's night and its outcome. */
export interface NightCell {
  job_name: string;
  slot: string;
  outcome: Outcome;
  attempts: number;
  parts: number;
  last_status: string | null;
  replayed: boolean;
}

/** Every outcome a night can have, in the legend's order. */
export const OUTCOMES = [
  "succeeded",
  "succeeded_after_retries",
  "partial_then_done",
  "failed",
  "lost",
  "missed",
  "cancelled",
  "running",
  "paused",
  "other_runner",
  "none",
] as const;

/** A night's outcome. */
export type Outcome = typeof OUTCOMES[number];

/** The symbol (plain) and colour (terminal) of each outcome, and its legend text. */
export const LEGEND: Record<Outcome, { symbol: string; colour: number; text: string }> = {
  succeeded: { symbol: "o", colour: 32, text: "succeeded" },
  succeeded_after_retries: { symbol: "r", colour: 32, text: "succeeded after retries" },
  partial_then_done: { symbol: "p", colour: 32, text: "partial, then done" },
  failed: { symbol: "F", colour: 31, text: "failed" },
  lost: { symbol: "L", colour: 31, text: "lost" },
  missed: { symbol: "M", colour: 31, text: "missed" },
  cancelled: { symbol: "x", colour: 33, text: "cancelled" },
  running: { symbol: ">", colour: 36, text: "running" },
  paused: { symbol: "=", colour: 33, text: "paused" },
  other_runner: { symbol: "~", colour: 35, text: "ran by another runner" },
  none: { symbol: ".", colour: 90, text: "nothing scheduled" },
};

/** The grid as `--json` prints it: the nights, the legend, and each job's cells in night order. */
export function gridJson(cells: readonly NightCell[]) {
  const nights = [...new Set(cells.map((c) => c.slot))].sort();
  const jobs = [...new Set(cells.map((c) => c.job_name))].sort().map((job) => ({
    job_name: job,
    nights: cells.filter((c) => c.job_name === job).sort((a, b) => a.slot.localeCompare(b.slot))
      .map(({ job_name: _, ...cell }) => cell),
  }));
  const legend = Object.fromEntries(OUTCOMES.map((o) => [o, LEGEND[o].symbol]));
  return { nights, legend, jobs };
}

/**
 * Jobs by nights, one cell per night under its day of the month, then the
 * legend. With `colour` each symbol is coloured (ANSI), else plain symbols for a pipe.
 */
export function renderGrid(cells: readonly NightCell[], colour: boolean): string {
  const { nights, jobs } = gridJson(cells);
  if (nights.length === 0) return "no nightly jobs";
  const width = Math.max(3, ...jobs.map((j) => j.job_name.length));
  const paint = (outcome: Outcome) => {
    const { symbol, colour: code } = LEGEND[outcome];
    return colour ? `\x1b[${code}m${symbol}\x1b[0m` : symbol;
  };
  const lines = [
    `nights ${nights[0]} .. ${nights.at(-1)} (UTC dates; a job's night is its local date)`,
    `${"JOB".padEnd(width)} ${nights.map((n) => n.slice(8, 10)).join(" ")}`,
    ...jobs.map((job) =>
      `${job.job_name.padEnd(width)} ${job.nights.map((c) => ` ${paint(c.outcome)}`).join(" ")}`
    ),
    "",
    ...legendLines(paint),
  ];
  return lines.map((line) => line.trimEnd()).join("\n");
}

function legendLines(paint: (outcome: Outcome) => string): string[] {
  const entries = OUTCOMES.map((o) => `${paint(o)} ${LEGEND[o].text}`);
  return [entries.slice(0, 6).join("   "), entries.slice(6).join("   ")];
}
