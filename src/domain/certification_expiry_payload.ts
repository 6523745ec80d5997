import { InvalidPayloadError } from "./errors.ts";
import type { JobPayload } from "./job.ts";

/** The largest batch a payload may ask for: bigger ones risk PostgREST's 8 s statement timeout. */
export const MAX_BATCH_SIZE = 50_000;

/** The most warning windows one run handles. */
export const MAX_WINDOWS = 4;

/** What one run of certification_expiry_check does. */
export interface ExpiryPlan {
  /** Warning windows in days, each queued in its own pass; empty = expire only. */
  readonly windowsDays: readonly number[];
  readonly batchSize: number;
}

/** Reads `{"windows_days": [30, 7], "batch_size": 5000}`, each optional, over the defaults. */
export function parseExpiryPayload(
  payload: JobPayload,
  defaults: ExpiryPlan,
  jobName: string,
): ExpiryPlan {
  const unknown = Object.keys(payload).filter((k) => k !== "windows_days" && k !== "batch_size");
  if (unknown.length > 0) {
    throw new InvalidPayloadError(jobName, `unknown payload field '${unknown[0]}'`);
  }
  return {
    windowsDays: payload.windows_days === undefined
      ? defaults.windowsDays
      : parseWindows(payload.windows_days, jobName),
    batchSize: payload.batch_size === undefined
      ? defaults.batchSize
      : parseBatchSize(payload.batch_size, jobName),
  };
}

function parseWindows(value: unknown, jobName: string): number[] {
  const ok = Array.isArray(value) && value.length <= MAX_WINDOWS &&
    value.every((d) => Number.isInteger(d) && d >= 1 && d <= 365) &&
    new Set(value).size === value.length;
  if (!ok) {
    throw new InvalidPayloadError(
      jobName,
      `'windows_days' must be at most ${MAX_WINDOWS} distinct integers from 1 to 365, ` +
        `got '${JSON.stringify(value)}'`,
    );
  }
  return value as number[];
}

function parseBatchSize(value: unknown, jobName: string): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_BATCH_SIZE
  ) {
    throw new InvalidPayloadError(
      jobName,
      `'batch_size' must be an integer from 1 to ${MAX_BATCH_SIZE}, got '${JSON.stringify(value)}'`,
    );
  }
  return value;
}
