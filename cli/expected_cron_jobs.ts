/** One pg_cron job the migrations schedule, with the schedule (UTC) doctor expects. */
export interface ExpectedCronJob {
  readonly name: string;
  readonly schedule: string;
}

/** Whether a pg_cron version ('1.4', '1.6', ...) takes seconds schedules and cron.timezone (1.5+). */
export function hasSecondsSchedules(version: string | null): boolean {
  const [major, minor] = (version ?? "").split(".").map(Number);
  return major > 1 || (major === 1 && minor >= 5);
}

/**
 * The pg_cron jobs the migrations schedule on this pg_cron version: the sweep
 * runs every 10 seconds where pg_cron takes seconds (1.5+, hosted) and every
 * minute on pg_cron 1.4 (see migration 20261128000104); the SQL runner's job takes
 * the same cadence (20261202000200).
 */
export function expectedCronJobs(version: string | null): readonly ExpectedCronJob[] {
  return [
    { name: "nightly-scheduler", schedule: "0 2 * * *" },
    {
      name: "nightly-scheduler-reconcile",
      schedule: hasSecondsSchedules(version) ? "10 seconds" : "* * * * *",
    },
    { name: "nightly-scheduler-alerts", schedule: "*/5 * * * *" },
    {
      name: "nightly-scheduler-sql-runner",
      schedule: hasSecondsSchedules(version) ? "10 seconds" : "* * * * *",
    },
  ];
}

/** The names cron.timezone may hold for the 02:00 schedule to mean 02:00 UTC. */
export const UTC_TIMEZONES = ["GMT", "UTC", "Etc/GMT", "Etc/UTC", "UCT", "Etc/UCT", "Universal"];

/** The Vault secrets the schedule reads. */
export const REQUIRED_VAULT_SECRETS = ["nightly_scheduler_url", "nightly_scheduler_secret"];
