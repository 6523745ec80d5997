-- What an operator (the `scheduler` CLI) reads: scheduler_job_health, one row
-- per nightly job, and the facts `scheduler doctor` checks a deployment by.
-- Both read pg_cron, Vault and pg_net, which service_role cannot reach on
-- Supabase, so they run as their owner; they never return a secret, only
-- whether it exists and whether a command contains it. service_role only.

-- When p_job_name's next night is due after p_now: its time of night on
-- today's or tomorrow's local date in its time zone (scheduler_slot_due_at).
-- Security definer: the health view calls it as service_role, which may not
-- call the dispatch functions' helpers.
create function public.scheduler_next_due(p_job_name text, p_now timestamptz)
returns timestamptz
language sql
stable
security definer
set search_path = ''
as $$
  select min(t) from public.scheduler_nightly_job j
  cross join lateral unnest(array[
    public.scheduler_slot_due_at(j.job_name, (p_now at time zone j.time_zone)::date),
    public.scheduler_slot_due_at(j.job_name, (p_now at time zone j.time_zone)::date + 1)
  ]) as t
  where j.job_name = p_job_name and t > p_now;
$$;

-- One row per nightly job: its policy state, its last run, its nights, and what
-- comes next. "Tonight" is today's UTC slot. next_run_at is when the job's
-- first attempt is next due (its run_at, default 02:00, in its time zone; for
-- a job that runs after another, that one's time) and null when nothing will
-- start it: disabled, paused, or the sweep's pg_cron job (which decides what
-- is due) inactive.
-- attempts_tonight counts attempts (distinct attempt numbers): a continuation
-- is a part of its attempt, and parts_tonight counts the parts, as
-- scheduler_night does. The quarantine counts come from
-- scheduler_sync_quarantine_status (a sync counts under the job of its name).
create view public.scheduler_job_health as
with sweep_cron as (
  select c.active from cron.job c where c.jobname = 'nightly-scheduler-reconcile'
)
select
  j.job_name,
  j.enabled,
  j.pause_reason is not null as paused,
  j.pause_reason,
  last_run.status as last_status,
  last_run.started_at as last_started_at,
  last_run.finished_at as last_finished_at,
  last_run.error_message as last_error,
  (select max(s.started_at) from public.scheduler_execution_log s
   where s.job_name = j.job_name and s.status = 'succeeded') as last_success_at,
  public.scheduler_failed_nights(j.job_name, (now() at time zone 'utc')::date)
    as consecutive_failed_nights,
  -- distinct attempt numbers: a continuation repeats its attempt's
  -- number; a dispatched attempt counts before its run starts.
  (select count(distinct d.attempt)::integer from public.scheduler_dispatch d
   where d.job_name = j.job_name and d.slot = (now() at time zone 'utc')::date) as attempts_tonight,
  j.max_attempts,
  j.run_after,
  case
    when not j.enabled or j.pause_reason is not null then null
    when coalesce((select active from sweep_cron), false) then
      public.scheduler_next_due(coalesce(p.job_name, j.job_name), now())
  end as next_run_at,
  (select count(*)::integer from public.scheduler_alert a
   where a.job_name = j.job_name and a.resolved_at is null) as open_alerts,
  -- tonight as one run: the parts that did work, retries' parts included.
  coalesce(night.parts, 0) as parts_tonight,
  j.max_parts,
  coalesce(q.retrying, 0) as quarantined_retrying,
  coalesce(q.needs_person, 0) as quarantined_needs_person,
  -- (issue 16) the runners: the policy, the job's SQL runner (or why it has
  -- none), who ran the last run, and who did tonight's work.
  j.runner,
  j.sql_runner,
  j.no_sql_runner_reason,
  last_run.runner as last_runner,
  night.runner as runner_tonight
from public.scheduler_nightly_job j
left join public.scheduler_nightly_job p on p.job_name = j.run_after
left join lateral (
  select l.status, l.started_at, l.finished_at, l.error_message, l.runner
  from public.scheduler_execution_log l
  where l.job_name = j.job_name and l.status <> 'duplicate'
  order by l.started_at desc
  limit 1
) last_run on true
left join public.scheduler_night night
  on night.job_name = j.job_name and night.slot = (now() at time zone 'utc')::date
left join public.scheduler_sync_quarantine_status q on q.sync_name = j.job_name;

comment on view public.scheduler_job_health is
  'One row per nightly job: state, last run, last success, failed nights in a row, attempts and parts tonight, next run, open alerts, quarantined records waiting, runners.';

revoke all on public.scheduler_job_health from public, anon, authenticated;
grant select on public.scheduler_job_health to service_role;

-- Everything `scheduler doctor` checks inside the database, as one JSON object:
-- the scheduler's pg_cron jobs (with whether their command holds a URL or one of
-- the Vault secrets), which Vault secrets exist, what last night's dispatches
-- became, open alerts, paused jobs and the last purge. Never a secret value.
create function public.scheduler_doctor_facts()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  -- Last night: the latest slot whose 02:00 has passed, if the scheduler has
  -- dispatched anything by cron before (a new deployment has no night yet).
  v_slot date := case
    when exists (select from public.scheduler_dispatch d where d.kind = 'cron')
      then ((now() - interval '2 hours') at time zone 'utc')::date
  end;
  v_cron_ran boolean := exists (
    select from cron.job_run_details d join cron.job c on c.jobid = d.jobid
    where c.jobname = 'nightly-scheduler' and d.status = 'succeeded'
      and d.start_time >= (v_slot + time '02:00') at time zone 'utc'
  );
begin

  return jsonb_build_object(
    'now', now(),
    'cron_jobs', coalesce((
      select jsonb_agg(jsonb_build_object(
        'jobname', c.jobname,
        'schedule', c.schedule,
        'active', c.active,
        'command_has_url', c.command ~* 'https?://',
        'command_has_secret', exists (
          select from vault.decrypted_secrets s
          where s.name like 'nightly\_scheduler\_%' and length(s.decrypted_secret) >= 8
            and position(s.decrypted_secret in c.command) > 0
        ) or c.command ~* 'bearer|authorization'
      ) order by c.jobname)
      from cron.job c
      where c.jobname like 'nightly-scheduler%'
    ), '[]'::jsonb),
    'vault_secrets', (
      select jsonb_object_agg(n.name, exists (
        select from vault.decrypted_secrets s
        where s.name = n.name and coalesce(s.decrypted_secret, '') <> ''
      ))
      from unnest(array['nightly_scheduler_url', 'nightly_scheduler_secret']) as n(name)
    ),
    'last_night', case when v_slot is null then null else jsonb_build_object(
      'slot', v_slot,
      'cron_ran', v_cron_ran,
      'jobs', coalesce((
        select jsonb_agg(jsonb_build_object(
          'job_name', j.job_name,
          'dispatched', (select count(*) from public.scheduler_dispatch d
                         where d.job_name = j.job_name and d.slot = v_slot),
          -- delivered and lost count the function's dispatches; sql the SQL runner's.
          'delivered', (select count(*) from public.scheduler_dispatch d
                        where d.job_name = j.job_name and d.slot = v_slot and d.outcome = 'delivered'
                          and d.runner = 'function'),
          'lost', (select count(*) from public.scheduler_dispatch d
                   where d.job_name = j.job_name and d.slot = v_slot and d.outcome = 'lost'
                     and d.runner = 'function'),
          'sql', (select count(*) from public.scheduler_dispatch d
                  where d.job_name = j.job_name and d.slot = v_slot and d.runner = 'sql'),
          'window_ended', now() >= public.scheduler_slot_window_end(j.job_name, v_slot),
          'lost_reason', (select left(d.lost_reason, 200) from public.scheduler_dispatch d
                          where d.job_name = j.job_name and d.slot = v_slot and d.outcome = 'lost'
                          order by d.attempt desc limit 1),
          -- (issue 16) who did the night's work, and whether the SQL runner
          -- took it over after the function's dispatches were lost.
          'runner', (select n.runner from public.scheduler_night n
                     where n.job_name = j.job_name and n.slot = v_slot),
          'outcome', (select n.outcome from public.scheduler_night n
                      where n.job_name = j.job_name and n.slot = v_slot),
          'fallback', exists (select from public.scheduler_dispatch d
                              where d.job_name = j.job_name and d.slot = v_slot
                                and d.kind = 'fallback')
        ) order by j.job_name)
        from public.scheduler_nightly_job j
        where j.enabled and j.pause_reason is null
          and (j.alerts_from at time zone 'utc')::date <= v_slot
      ), '[]'::jsonb)
    ) end,
    'open_alerts', coalesce((
      select jsonb_agg(jsonb_build_object('job_name', a.job_name, 'slot', a.slot, 'kind', a.kind)
        order by a.slot, a.job_name)
      from public.scheduler_alert a where a.resolved_at is null
    ), '[]'::jsonb),
    'alert_webhook', exists (
      select from vault.decrypted_secrets s
      where s.name = 'nightly_scheduler_alert_webhook_url' and coalesce(trim(s.decrypted_secret), '') <> ''
    ),
    'sql_pinned_jobs', coalesce((
      select jsonb_agg(jsonb_build_object('job_name', j.job_name, 'sql_runner', j.sql_runner)
        order by j.job_name)
      from public.scheduler_nightly_job j where j.enabled and j.runner = 'sql'
    ), '[]'::jsonb),
    'paused_jobs', coalesce((
      select jsonb_agg(jsonb_build_object('job_name', j.job_name, 'reason', j.pause_reason))
      from public.scheduler_nightly_job j where j.enabled and j.pause_reason is not null
    ), '[]'::jsonb),
    'retention', jsonb_build_object(
      'last_success_at', (
        select max(l.started_at) from public.scheduler_execution_log l
        where l.job_name = 'scheduler_retention' and l.status = 'succeeded'
      ),
      'enabled', exists (
        select from public.scheduler_nightly_job j
        where j.job_name = 'scheduler_retention' and j.enabled
      )
    )
  );
end;
$$;

-- Sends a heartbeat to Vault's nightly_scheduler_url with Vault's secret
-- through pg_net, as pg_cron's dispatches go, so doctor learns whether that URL
-- reaches the function and the secret is one it accepts. It carries no dispatch
-- record, so it is a manual run: it never takes a nightly slot's attempt, and a
-- production function refuses it with 403 only after accepting the secret.
-- Returns pg_net's request id.
create function public.scheduler_doctor_heartbeat()
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_url text;
  v_secret text;
begin
  select decrypted_secret into v_url from vault.decrypted_secrets
  where name = 'nightly_scheduler_url';
  select decrypted_secret into v_secret from vault.decrypted_secrets
  where name = 'nightly_scheduler_secret';
  if v_url is null or v_secret is null then
    raise exception 'nightly-scheduler is not configured: Vault needs the secrets '
      'nightly_scheduler_url and nightly_scheduler_secret';
  end if;
  -- pg_net raises on a URL it cannot parse ("Out of memory" on 0.20.0): say what it is.
  begin
    return net.http_post(
      url := v_url,
      body := jsonb_build_object('job_name', 'heartbeat'),
      headers := jsonb_build_object(
        'Content-Type', 'application/json',
        'Authorization', 'Bearer ' || v_secret
      ),
      timeout_milliseconds := 10000
    );
  exception when others then
    raise exception 'The function URL in Vault is not a valid URL: %', left(sqlerrm, 300)
      using errcode = '22023',
        hint = 'set nightly_scheduler_url with vault.update_secret()';
  end;
end;
$$;

-- What pg_net got back for p_request_id: null while it waits; never the body
-- itself, only the fields doctor reads from the function's answer.
create function public.scheduler_doctor_response(p_request_id bigint)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_response record;
  v_body jsonb;
begin
  select r.status_code, r.timed_out, r.error_msg, r.content into v_response
  from net._http_response r where r.id = p_request_id;
  if not found then
    return null;
  end if;
  begin
    v_body := v_response.content::jsonb;
  exception when others then
    v_body := null;
  end;
  return jsonb_build_object(
    'status_code', v_response.status_code,
    'timed_out', v_response.timed_out,
    'error', left(v_response.error_msg, 200),
    'execution_id', v_body ->> 'execution_id',
    'run_status', v_body ->> 'status',
    'error_code', v_body #>> '{error,code}'
  );
end;
$$;

revoke all on function public.scheduler_next_due(text, timestamptz) from public, anon, authenticated;
revoke all on function public.scheduler_doctor_facts() from public, anon, authenticated;
revoke all on function public.scheduler_doctor_heartbeat() from public, anon, authenticated;
revoke all on function public.scheduler_doctor_response(bigint) from public, anon, authenticated;
grant execute on function public.scheduler_next_due(text, timestamptz) to service_role;
grant execute on function public.scheduler_doctor_facts() to service_role;
grant execute on function public.scheduler_doctor_heartbeat() to service_role;
grant execute on function public.scheduler_doctor_response(bigint) to service_role;
