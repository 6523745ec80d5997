-- Lease functions the Edge Function calls through PostgREST. Time comes in as a
-- parameter from the function's clock, so tests and production agree on "now".

-- Takes the lease on p_job_name for p_owner unless a live lease is held. Taking
-- over a lapsed lease closes the run that held it as timed_out, so a run whose
-- isolate died does not stay "running" in the log forever.
create function public.scheduler_acquire_lease(
  p_job_name text,
  p_owner uuid,
  p_now timestamptz,
  p_expires_at timestamptz
) returns table (acquired boolean, held_by uuid, held_until timestamptz)
language plpgsql
set search_path = ''
as $$
declare
  v_current public.scheduler_job_lease%rowtype;
begin
  -- The loop closes a race: when the holder releases (deletes) the lease
  -- between our insert and our select, the select finds no row; insert again.
  loop
    insert into public.scheduler_job_lease (job_name, owner, acquired_at, expires_at)
    values (p_job_name, p_owner, p_now, p_expires_at)
    on conflict (job_name) do nothing;
    if found then
      return query select true, p_owner, p_expires_at;
      return;
    end if;

    select * into v_current from public.scheduler_job_lease
    where job_name = p_job_name
    for update;
    exit when found;
  end loop;

  if v_current.expires_at > p_now then
    return query select false, v_current.owner, v_current.expires_at;
    return;
  end if;

  update public.scheduler_execution_log
  set status = 'timed_out',
      finished_at = greatest(v_current.expires_at, started_at),
      error_message = 'The run''s lease lapsed before it finished; the function was probably stopped'
  where id = v_current.owner and status = 'running';

  update public.scheduler_job_lease
  set owner = p_owner, acquired_at = p_now, expires_at = p_expires_at
  where job_name = p_job_name;
  return query select true, p_owner, p_expires_at;
end;
$$;

-- Gives the lease back if p_owner still holds it; a lease already taken over stays.
create function public.scheduler_release_lease(p_job_name text, p_owner uuid)
returns void
language sql
set search_path = ''
as $$
  delete from public.scheduler_job_lease where job_name = p_job_name and owner = p_owner;
$$;

revoke all on function public.scheduler_acquire_lease(text, uuid, timestamptz, timestamptz)
  from public, anon, authenticated;
revoke all on function public.scheduler_release_lease(text, uuid)
  from public, anon, authenticated;
grant execute on function public.scheduler_acquire_lease(text, uuid, timestamptz, timestamptz)
  to service_role;
grant execute on function public.scheduler_release_lease(text, uuid) to service_role;
