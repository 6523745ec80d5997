/**
 * The pg_cron jobs the migrations schedule, with the schedules (UTC) doctor accepts for each.
 * The sweep runs every 10 seconds where pg_cron takes seconds (1.5+, hosted) and every minute
 * on pg_cron 1.4 (see migration 20261128000104); the SQL runner's job takes the same cadence
 * (20261202000200).
 */
export const EXPECTED_CRON_JOBS: readonly { name: string; schedules: readonly string[] }[] = [
  { name: "nightly-scheduler", schedules: ["0 2 * * *"] },
  { name: "nightly-scheduler-reconcile", schedules: ["10 seconds", "* * * * *"] },
  { name: "nightly-scheduler-alerts", schedules: ["*/5 * * * *"] },
  { name: "nightly-scheduler-sql-runner", schedules: ["10 seconds", "* * * * *"] },
];

/** The Vault secrets the schedule reads. */
export const REQUIRED_VAULT_SECRETS = ["nightly_scheduler_url", "nightly_scheduler_secret"];
