// Reads the `status --nights` grid back from its plain text, for tests that compare it with --json.
import { LEGEND, type Outcome, OUTCOMES } from "../../cli/night_grid.ts";

/** Reads the plain grid back: each job's outcomes, night by night (what tests compare with --json). */
export function parsePlainGrid(text: string): Record<string, Outcome[]> {
  const bySymbol = new Map(OUTCOMES.map((o) => [LEGEND[o].symbol, o]));
  const lines = text.split("\n");
  const header = lines.findIndex((line) => line.startsWith("JOB "));
  const rows: Record<string, Outcome[]> = {};
  for (const line of lines.slice(header + 1)) {
    if (line.trim() === "") break;
    const [job, ...symbols] = line.trim().split(/\s+/);
    rows[job] = symbols.map((s) => {
      const outcome = bySymbol.get(s);
      if (outcome === undefined) throw new Error(`Unknown grid symbol '${s}'`);
      return outcome;
    });
  }
  return rows;
}
