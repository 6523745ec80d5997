import { CliError } from "./cli_error.ts";
import { type CheckResult, evaluateDoctor } from "./doctor_checks.ts";
import type { DatabaseFacts, DoctorFacts, HeartbeatFact } from "./doctor_facts.ts";
import type { Output } from "./progress.ts";
import type { SchedulerApi } from "./scheduler_api.ts";

/**
 * `doctor`: gathers the database's facts, probes the function, sends one
 * heartbeat the way pg_cron does, then prints one line per check. Exit 1 when
 * any check fails, so a deploy can gate on it.
 */
export async function doctor(
  api: SchedulerApi,
  options: { functionUrl: string; timeoutSeconds: number },
  out: Output,
): Promise<number> {
  out.progress("checking the database...");
  const database = await settle(api.rpc<DatabaseFacts>("scheduler_doctor_facts"));
  out.progress("probing the function...");
  const functionProbe = await settle(
    api.probeFunction().then((a) => ({
      status: a.status,
      code: (a.body.error as { code?: string } | undefined)?.code ?? null,
    })),
  );
  const heartbeat = await settle(sendHeartbeat(api, options.timeoutSeconds, out));
  out.endProgress();
  const facts: DoctorFacts = { database, functionProbe, heartbeat };
  const results = evaluateDoctor(facts, options.functionUrl);
  for (const line of formatChecks(results)) out.print(line);
  const failed = results.filter((r) => !r.ok).length;
  const warnings = results.filter((r) => r.ok && r.warning).length;
  const warned = warnings === 0 ? "" : ` (${warnings} warning${warnings === 1 ? "" : "s"})`;
  out.print(
    failed === 0
      ? `all checks passed${warned}`
      : `${failed} of ${results.length} checks failed${warned}`,
  );
  return failed === 0 ? 0 : 1;
}

/** The report lines: status, check name, message. */
export function formatChecks(results: readonly CheckResult[]): string[] {
  const width = Math.max(...results.map((r) => r.name.length));
  return results.map((r) =>
    `${r.ok ? (r.warning ? "WARN" : "ok  ") : "FAIL"}  ${r.name.padEnd(width)}  ${r.message}`
  );
}

async function sendHeartbeat(
  api: SchedulerApi,
  timeoutSeconds: number,
  out: Output,
): Promise<HeartbeatFact> {
  out.progress("sending a heartbeat through pg_net...");
  const requestId = await api.rpc<number>("scheduler_doctor_heartbeat");
  const started = Date.now();
  while (Date.now() - started < timeoutSeconds * 1000) {
    const response = await api.rpc<HeartbeatFact | null>("scheduler_doctor_response", {
      p_request_id: requestId,
    });
    if (response !== null) return response;
    out.progress(`waiting for pg_net's answer... ${Math.floor((Date.now() - started) / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new CliError(
    `pg_net sent no answer to heartbeat request ${requestId} in ${timeoutSeconds} s`,
    "check that pg_net runs (select net.worker_restart()) and see net._http_response",
  );
}

/** The value, or the error that stopped it, so one failing part does not hide the other checks. */
async function settle<T>(work: Promise<T>): Promise<T | Error> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof CliError) return new Error(`${error.message}; ${error.hint}`);
    return error instanceof Error ? error : new Error(String(error));
  }
}
