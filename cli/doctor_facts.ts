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
  last_night: {
    started_at: string;
    cron_status: string;
    return_message: string | null;
    jobs: { job_name: string; received: boolean; status: string | null }[];
  } | null;
  /** Null when this database has no alert table. */
  open_alerts: { job_name: string; slot: string; kind: string }[] | null;
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
