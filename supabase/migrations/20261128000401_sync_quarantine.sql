-- A dead-letter path for the certification syncs (hlf_dynamics_sync): a record
-- the portal refuses for good (a 4xx other than 401/408/429) is held here with
-- the portal's status and its masked error text, so the sync's cursor can move
-- past it instead of stopping at it every night. Held records are tried again
-- once a night, on later nights, until the job's max_quarantine_attempts; then
-- they wait for a person. A record the portal accepts (retried, or changed and
-- sent again through the feed) leaves the quarantine.

alter table public.scheduler_nightly_job
  add column max_quarantine_attempts integer not null default 5
    check (max_quarantine_attempts between 1 and 100);

comment on column public.scheduler_nightly_job.max_quarantine_attempts is
  'Sends of a quarantined record (the first refusal included) before it is left for a person.';

create table public.scheduler_sync_quarantine (
  sync_name text not null check (sync_name ~ '^[a-z0-9_]{1,64}$'),
  -- Whose policy (max_quarantine_attempts) applies; the production sync's name is its job name.
  job_name text not null check (job_name ~ '^[a-z0-9_]{1,64}$'),
  certification_id uuid not null references public.certification (id) on delete cascade,
  portal_status integer null check (portal_status between 100 and 599),
  error_message text not null check (length(error_message) <= 1000),
  attempts integer not null default 1 check (attempts >= 1),
  quarantined_at timestamptz not null,
  last_attempt_at timestamptz not null,
  primary key (sync_name, certification_id)
);

comment on table public.scheduler_sync_quarantine is
  'Records a portal refused for good; the sync moved past them and retries them on later nights.';

create index scheduler_sync_quarantine_certification_idx
  on public.scheduler_sync_quarantine (certification_id);

-- Holds each entry ({"certification_id", "portal_status", "error_message"}),
-- or counts one more refused attempt for an entry already held.
create function public.scheduler_sync_quarantine_hold(
  p_sync_name text,
  p_job_name text,
  p_entries jsonb,
  p_now timestamptz
) returns void
language sql
set search_path = ''
as $$
  insert into public.scheduler_sync_quarantine as q
    (sync_name, job_name, certification_id, portal_status, error_message, attempts,
     quarantined_at, last_attempt_at)
  select p_sync_name, p_job_name, (e ->> 'certification_id')::uuid,
         (e ->> 'portal_status')::integer, left(e ->> 'error_message', 1000), 1, p_now, p_now
  from jsonb_array_elements(p_entries) e
  on conflict (sync_name, certification_id) do update
  set portal_status = excluded.portal_status,
      error_message = excluded.error_message,
      attempts = q.attempts + 1,
      last_attempt_at = excluded.last_attempt_at;
$$;

-- Up to p_limit held records due another try: under their job's attempt limit
-- and not tried yet on p_now's UTC day; with the certification as it is now.
create function public.scheduler_sync_quarantine_due(
  p_sync_name text,
  p_now timestamptz,
  p_limit integer
) returns table (
  certification_id uuid,
  peer_mentor_id uuid,
  certification_type text,
  status text,
  issued_at timestamptz,
  expires_at timestamptz,
  expired_at timestamptz
)
language sql
stable
set search_path = ''
as $$
  select c.id, c.peer_mentor_id, c.certification_type, c.status,
         c.issued_at, c.expires_at, c.expired_at
  from public.scheduler_sync_quarantine q
  join public.certification c on c.id = q.certification_id
  left join public.scheduler_nightly_job j on j.job_name = q.job_name
  where q.sync_name = p_sync_name
    and q.attempts < coalesce(j.max_quarantine_attempts, 5)
    and q.last_attempt_at < date_trunc('day', p_now, 'UTC')
  order by q.last_attempt_at, q.certification_id
  limit least(greatest(p_limit, 0), 1000);
$$;

-- Removes the records the portal has now accepted; returns how many left.
create function public.scheduler_sync_quarantine_release(
  p_sync_name text,
  p_certification_ids uuid[]
) returns integer
language sql
set search_path = ''
as $$
  with gone as (
    delete from public.scheduler_sync_quarantine q
    where q.sync_name = p_sync_name and q.certification_id = any (p_certification_ids)
    returning 1
  )
  select count(*)::integer from gone;
$$;

-- How many records wait per sync: still retried nightly, or left for a person.
create view public.scheduler_sync_quarantine_status
with (security_invoker = true) as
select q.sync_name,
       count(*) filter (where q.attempts < coalesce(j.max_quarantine_attempts, 5))::integer
         as retrying,
       count(*) filter (where q.attempts >= coalesce(j.max_quarantine_attempts, 5))::integer
         as needs_person,
       min(q.quarantined_at) as oldest_quarantined_at
from public.scheduler_sync_quarantine q
left join public.scheduler_nightly_job j on j.job_name = q.job_name
group by q.sync_name;

comment on view public.scheduler_sync_quarantine_status is
  'Per sync: quarantined records still retried nightly, and those left for a person.';

-- Only the service role (the Edge Function) and postgres touch the quarantine.
alter table public.scheduler_sync_quarantine enable row level security;
revoke all on public.scheduler_sync_quarantine from public, anon, authenticated;
revoke all on public.scheduler_sync_quarantine_status from public, anon, authenticated;
grant select, insert, update, delete on public.scheduler_sync_quarantine to service_role;
grant select on public.scheduler_sync_quarantine_status to service_role;

revoke all on function public.scheduler_sync_quarantine_hold(text, text, jsonb, timestamptz)
  from public, anon, authenticated;
revoke all on function public.scheduler_sync_quarantine_due(text, timestamptz, integer)
  from public, anon, authenticated;
revoke all on function public.scheduler_sync_quarantine_release(text, uuid[])
  from public, anon, authenticated;
grant execute on function public.scheduler_sync_quarantine_hold(text, text, jsonb, timestamptz)
  to service_role;
grant execute on function public.scheduler_sync_quarantine_due(text, timestamptz, integer)
  to service_role;
grant execute on function public.scheduler_sync_quarantine_release(text, uuid[])
  to service_role;
