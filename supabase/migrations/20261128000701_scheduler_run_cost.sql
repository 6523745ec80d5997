-- What each run cost its Edge Runtime worker (issue 15), kept in the log beside
-- its duration: CPU milliseconds, the worker's peak resident memory, and, when
-- the runtime stopped (or was about to stop) the worker, why. Written by
-- scheduler_finish_run (p_cost) and, for a worker that died, by
-- scheduler_close_dead_run ('worker_lost'). duration_ms is the run's wall time.

alter table public.scheduler_execution_log
  add column cpu_ms integer check (cpu_ms >= 0),
  add column peak_rss_mb integer check (peak_rss_mb >= 0),
  add column stop_reason text
    check (stop_reason in ('wall_clock', 'cpu_time', 'memory', 'shutdown', 'worker_lost'));

comment on column public.scheduler_execution_log.cpu_ms is
  'CPU milliseconds the run''s worker spent while the run ran (null where the platform does not tell).';
comment on column public.scheduler_execution_log.peak_rss_mb is
  'The worker''s peak resident memory during the run, in MB.';
comment on column public.scheduler_execution_log.stop_reason is
  'Why the Edge Runtime stopped the run''s worker: wall_clock, cpu_time, memory, shutdown; worker_lost when it died without a word (lease lapsed).';
