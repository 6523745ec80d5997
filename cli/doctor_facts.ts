/** One of the scheduler's pg_cron jobs as scheduler_doctor_facts() reports it. */
export interface CronJobFact {
  jobname: string;
  schedule: string;
  active: boolean;
  command_has_url: boolean;
  command_has_secret: boolean;
}

/** What scheduler_doctor_facts() returns: the database side of a deployment, no secret values. */
export interface DatabaseFacts {
  now: string;
  cron_jobs: CronJobFact[];
  vault_secrets: Record<string, boolean>;
  /** The latest slot whose 02:00 has passed; null before the first cron dispatch ever. */
  last_night: {
    slot: string;
    /** The nightly pg_cron job ran (succeeded) on or after the slot's 02:00. */
    cron_ran: boolean;
    jobs: {
      job_name: string;
      dispatched: number;
      delivered: number;
      lost: number;
      window_ended: boolean;
      lost_reason: string | null;
      /** Dispatches for the job's SQL runner (pinned, fallback, or their continuations). */
      sql: number;
      /** Who did the night's work: the runner of its last working part; null when nothing ran. */
      runner: "function" | "sql" | null;
      /** How the night's last part ended (scheduler_night.outcome). */
      outcome: string | null;
      /** The SQL runner took the night over after every attempt of the function was lost. */
      fallback: boolean;
    }[];
  } | null;
  open_alerts: { job_name: string; slot: string; kind: string }[];
  alert_webhook: boolean;
  paused_jobs: { job_name: string; reason: string }[];
  /** Enabled jobs pinned to their SQL runner (scheduler_nightly_job.runner = 'sql'). */
  sql_pinned_jobs: { job_name: string; sql_runner: string }[];
  retention: { last_success_at: string | null; enabled: boolean };
}

/** What pg_net got back for doctor's heartbeat (scheduler_doctor_response()). */
export interface HeartbeatFact {
  status_code: number | null;
  timed_out: boolean | null;
  error: string | null;
  execution_id: string | null;
  run_status: string | null;
  error_code: string | null;
}

/** Everything doctor gathered; a part it could not get holds the error that stopped it. */
export interface DoctorFacts {
  database: DatabaseFacts | Error;
  functionProbe: { status: number; code: string | null } | Error;
  heartbeat: HeartbeatFact | Error;
}
