-- What an operator (the `scheduler` CLI) reads: scheduler_job_health, one row
-- per nightly job, and the facts `scheduler doctor` checks a deployment by.
-- Both read pg_cron, Vault and pg_net, which service_role cannot reach on
-- Supabase, so they run as their owner; they never return a secret, only
-- whether it exists and whether a command contains it. service_role only.

-- When a '<minute> <hour> * * *' schedule fires next after p_now (UTC); null for
-- any other shape (then the CLI shows the schedule instead).
create function public.scheduler_next_daily_run(p_schedule text, p_now timestamptz)
returns timestamptz
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_parts text[] := regexp_match(p_schedule, '^([0-9]{1,2}) ([0-9]{1,2}) \* \* \*$');
  v_at timestamptz;
begin
  if v_parts is null or v_parts[1]::int > 59 or v_parts[2]::int > 23 then
    return null;
  end if;
  v_at := ((p_now at time zone 'utc')::date + make_time(v_parts[2]::int, v_parts[1]::int, 0))
    at time zone 'utc';
  return case when v_at > p_now then v_at else v_at + interval '1 day' end;
end;
$$;

-- One row per nightly job. A "night" is the UTC date a cron run started on; a
-- failed night is one whose cron runs include no success.
create view public.scheduler_job_health as
with nights as (
  select l.job_name, (l.started_at at time zone 'utc')::date as night,
    bool_or(l.status = 'succeeded') as succeeded,
    bool_or(l.status in ('failed', 'timed_out')) as failed
  from public.scheduler_execution_log l
  where l.trigger = 'cron'
  group by l.job_name, (l.started_at at time zone 'utc')::date
),
nightly_cron as (
  select c.active, c.schedule from cron.job c where c.jobname = 'nightly-scheduler'
)
select
  j.job_name,
  j.enabled,
  last_run.status as last_status,
  last_run.started_at as last_started_at,
  last_run.finished_at as last_finished_at,
  last_run.error_message as last_error,
  (select max(s.started_at) from public.scheduler_execution_log s
   where s.job_name = j.job_name and s.status = 'succeeded') as last_success_at,
  (select count(*)::integer from nights n
   where n.job_name = j.job_name and n.failed and not n.succeeded
     and n.night > coalesce(
       (select max(o.night) from nights o where o.job_name = j.job_name and o.succeeded),
       '-infinity'::date)) as consecutive_failed_nights,
  case when j.enabled and (select active from nightly_cron)
    then public.scheduler_next_daily_run((select schedule from nightly_cron), now())
  end as next_run_at
from public.scheduler_nightly_job j
left join lateral (
  select l.status, l.started_at, l.finished_at, l.error_message
  from public.scheduler_execution_log l
  where l.job_name = j.job_name
  order by l.started_at desc
  limit 1
) last_run on true;

comment on view public.scheduler_job_health is
  'One row per nightly job: state, last run, last success, failed nights in a row, next run.';

revoke all on public.scheduler_job_health from public, anon, authenticated;
grant select on public.scheduler_job_health to service_role;

-- Everything `scheduler doctor` checks inside the database, as one JSON object:
-- the scheduler's pg_cron jobs (with whether their command holds a URL or one of
-- the Vault secrets), which Vault secrets exist, what last night's dispatch
-- became, open alerts and the last purge. Never a secret value.
create function public.scheduler_doctor_facts()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_night record;
begin
  select d.start_time, d.status, d.return_message into v_night
  from cron.job_run_details d
  join cron.job c on c.jobid = d.jobid
  where c.jobname = 'nightly-scheduler'
  order by d.start_time desc
  limit 1;

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
    'last_night', case when v_night.start_time is null then null else jsonb_build_object(
      'started_at', v_night.start_time,
      'cron_status', v_night.status,
      'return_message', left(v_night.return_message, 200),
      'jobs', coalesce((
        select jsonb_agg(jsonb_build_object(
          'job_name', j.job_name,
          'received', r.id is not null,
          'status', r.status
        ) order by j.job_name)
        from public.scheduler_nightly_job j
        left join lateral (
          select l.id, l.status from public.scheduler_execution_log l
          where l.job_name = j.job_name and l.trigger = 'cron'
            and l.started_at >= v_night.start_time
          order by l.started_at
          limit 1
        ) r on true
        where j.enabled
      ), '[]'::jsonb)
    ) end,
    'open_alerts', null,
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

-- Sends a heartbeat the way pg_cron does (Vault URL and secret, through pg_net),
-- so doctor learns whether the secret in Vault is one the function accepts.
-- Returns pg_net's request id.
create function public.scheduler_doctor_heartbeat()
returns bigint
language sql
security definer
set search_path = ''
as $$
  select public.scheduler_dispatch('heartbeat', 30000);
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

revoke all on function public.scheduler_next_daily_run(text, timestamptz) from public, anon, authenticated;
revoke all on function public.scheduler_doctor_facts() from public, anon, authenticated;
revoke all on function public.scheduler_doctor_heartbeat() from public, anon, authenticated;
revoke all on function public.scheduler_doctor_response(bigint) from public, anon, authenticated;
grant execute on function public.scheduler_next_daily_run(text, timestamptz) to service_role;
grant execute on function public.scheduler_doctor_facts() to service_role;
grant execute on function public.scheduler_doctor_heartbeat() to service_role;
grant execute on function public.scheduler_doctor_response(bigint) to service_role;
