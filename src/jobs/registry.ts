import type { JobHandler, JobRegistry } from "../domain/job.ts";
import { heartbeat } from "./heartbeat.ts";

/**
 * The ports jobs need, bound here so a handler gets only its own and never a
 * database client or key. A new job that needs data access adds its port here.
 */
// deno-lint-ignore no-empty-interface
export interface JobPorts {}

/** Every job the scheduler can run. Adding a job: one file in src/jobs/ and one line here. */
export function createJobRegistry(_ports: JobPorts): JobRegistry {
  return new Map<string, JobHandler>([
    ["heartbeat", heartbeat()],
  ]);
}
