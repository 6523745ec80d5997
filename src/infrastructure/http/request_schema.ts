import { z } from "zod";
import { JOB_NAME_PATTERN } from "../../domain/job.ts";

/**
 * The body a caller sends: `{"job_name", "dispatch_id"?: uuid, "payload"?: {...},
 * "wait"?: boolean}`. The trigger is derived from the dispatch record, so a
 * `trigger` field (what callers sent before dispatch records) is accepted and ignored.
 */
export const runRequestSchema = z.strictObject({
  job_name: z.string().regex(
    JOB_NAME_PATTERN,
    "job_name must be 1 to 64 characters of a-z, 0-9 and _",
  ),
  dispatch_id: z.uuid().optional(),
  trigger: z.enum(["cron", "manual"]).optional(),
  payload: z.record(z.string(), z.unknown()).default({}),
  wait: z.boolean().optional(),
});

/** A parsed, valid run request. */
export type RunRequest = z.infer<typeof runRequestSchema>;

/** Parses a JSON value into a run request, or says what is wrong in one line. */
export function parseRunRequest(
  value: unknown,
): { ok: true; request: RunRequest } | { ok: false; message: string } {
  const result = runRequestSchema.safeParse(value);
  if (result.success) return { ok: true, request: result.data };
  const issue = result.error.issues[0];
  const where = issue.path.length > 0 ? `'${issue.path.join(".")}': ` : "";
  return { ok: false, message: `Invalid request body: ${where}${issue.message}` };
}
