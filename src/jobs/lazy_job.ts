import type { JobHandler } from "../domain/job.ts";

/**
 * A job whose handler (and whatever it needs to be built) is made on its
 * first run, so a cold start loads none of it; a failed make is tried again
 * on the next run.
 */
export function lazyJob(make: () => Promise<JobHandler>): JobHandler {
  let made: Promise<JobHandler> | null = null;
  return async (payload, context) => {
    made ??= make().catch((error) => {
      made = null;
      throw error;
    });
    return await (await made)(payload, context);
  };
}
