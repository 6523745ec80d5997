import { PartialRunError } from "../domain/errors.ts";
import type { JobSummary } from "../domain/execution_record.ts";
import {
  type JobContext,
  type JobHandler,
  type JobPayload,
  jobSummary,
  WorkRemains,
} from "../domain/job.ts";

/** How a handler's run ended, as far as the budget lets RunJob wait. */
export type BudgetOutcome =
  | { readonly status: "succeeded"; readonly summary: JobSummary | null }
  | { readonly status: "partial"; readonly summary: JobSummary }
  | { readonly status: "failed"; readonly error: unknown; readonly summary: JobSummary | null }
  | {
    readonly status: "timed_out";
    readonly summary: JobSummary | null;
    /** Set when the handler ignored its signal and still runs; settles when it finally does. */
    readonly stillRunning: Promise<unknown> | null;
  }
  | {
    /** The platform is stopping the worker and the job did not end with work left or done. */
    readonly status: "stopped";
    readonly error: unknown;
    readonly summary: JobSummary | null;
    readonly stillRunning: Promise<unknown> | null;
  };

/** What bounds a run: its budget, the grace to stop, and the signals that end it early. */
export interface BudgetLimits {
  readonly budgetMs: number;
  readonly abortGraceMs: number;
  /** An operator's cancel; the budget still stops a job that ignores it. */
  readonly cancel?: AbortSignal;
  /** The platform is about to stop the worker (its reason names the limit). */
  readonly stopping?: AbortSignal;
}

/**
 * Runs the handler with a signal that aborts after `budgetMs`, earlier when
 * `limits.cancel` aborts (an operator's cancel), or with `limits.stopping`'s
 * reason when the platform is about to stop the worker. A job that stops at
 * its next safe point returns how far it got, so it gets `abortGraceMs` more to
 * hand that summary back; one that ignores the signal is reported as still
 * running. A job stopped for the worker that returns work left is `partial`,
 * one that finished is `succeeded`, anything else is `stopped` (not the job's
 * own failure).
 */
export async function runWithinBudget(
  handler: JobHandler,
  payload: JobPayload,
  context: Omit<JobContext, "signal">,
  limits: BudgetLimits,
  timeout: Error,
): Promise<BudgetOutcome> {
  const controller = new AbortController();
  const cancel = limits.cancel;
  const onCancel = () => controller.abort(cancel?.reason);
  cancel?.addEventListener("abort", onCancel, { once: true });
  try {
    return await runUntil(handler, payload, context, limits, timeout, controller);
  } finally {
    cancel?.removeEventListener("abort", onCancel);
  }
}

async function runUntil(
  handler: JobHandler,
  payload: JobPayload,
  context: Omit<JobContext, "signal">,
  limits: BudgetLimits,
  timeout: Error,
  controller: AbortController,
): Promise<BudgetOutcome> {
  // `then` turns a handler that throws synchronously into a rejection too.
  const run = Promise.resolve().then(() =>
    handler(payload, { ...context, signal: controller.signal })
  );
  const stopping = limits.stopping;
  let settled = await settleWithin(run, limits.budgetMs, stopping);
  if (stopping?.aborted && settled === undefined) {
    controller.abort(stopping.reason);
    settled = await settleWithin(run, limits.abortGraceMs);
    if (settled === undefined) {
      return {
        status: "stopped",
        error: stopping.reason,
        summary: null,
        stillRunning: run.catch(() => undefined),
      };
    }
    if (settled.ok) return settledOutcome(settled);
    return {
      status: "stopped",
      error: stopping.reason,
      summary: summaryOf(settled),
      stillRunning: null,
    };
  }
  if (settled === undefined) {
    controller.abort(timeout);
    settled = await settleWithin(run, limits.abortGraceMs);
    return {
      status: "timed_out",
      summary: settled === undefined ? null : summaryOf(settled),
      stillRunning: settled === undefined ? run.catch(() => undefined) : null,
    };
  }
  return settledOutcome(settled);
}

function settledOutcome(settled: Settled): BudgetOutcome {
  if (settled.ok && settled.value instanceof WorkRemains) {
    return { status: "partial", summary: settled.value.summary };
  }
  return settled.ok
    ? { status: "succeeded", summary: summaryOf(settled) }
    : { status: "failed", error: settled.error, summary: summaryOf(settled) };
}

type Settled =
  | { ok: true; value: JobSummary | WorkRemains | void }
  | { ok: false; error: unknown };

function summaryOf(settled: Settled): JobSummary | null {
  if (settled.ok) return jobSummary(settled.value);
  return settled.error instanceof PartialRunError ? settled.error.summary : null;
}

/** How `promise` settled within `ms` (and before `cut` aborted), or undefined if it had not by then. */
async function settleWithin(
  promise: Promise<JobSummary | WorkRemains | void>,
  ms: number,
  cut?: AbortSignal,
): Promise<Settled | undefined> {
  let timer: number | undefined;
  let onCut: (() => void) | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms);
    onCut = () => resolve(undefined);
    if (cut?.aborted) resolve(undefined);
    cut?.addEventListener("abort", onCut, { once: true });
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled => ({ ok: true, value }),
        (error): Settled => ({ ok: false, error }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
    if (onCut) cut?.removeEventListener("abort", onCut);
  }
}
