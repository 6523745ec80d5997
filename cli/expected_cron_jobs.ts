/** The pg_cron jobs the migrations schedule, with their schedules (UTC); doctor checks each. */
export const EXPECTED_CRON_JOBS: readonly { name: string; schedule: string }[] = [
  { name: "nightly-scheduler", schedule: "0 2 * * *" },
  { name: "nightly-scheduler-reconcile", schedule: "*/5 * * * *" },
  { name: "nightly-scheduler-alerts", schedule: "*/5 * * * *" },
];

/** The Vault secrets the schedule reads. */
export const REQUIRED_VAULT_SECRETS = ["nightly_scheduler_url", "nightly_scheduler_secret"];
