-- certification_expiry_check: the index it walks, the notice outbox it fills,
-- and the two batch functions the Edge Function calls through PostgREST RPC.
-- Each call is one short transaction over at most p_batch_size rows; time comes
-- in as p_now from the job's clock, so a run sees one instant throughout and
-- re-running with the same p_now changes nothing.

-- Active certifications in expiry order: the expiry batches take the oldest due
-- rows from its front, the notice batches walk a window of it by key. Rows leave
-- the index when they stop being active, so it stays as small as the active set.
create index certification_active_expires_idx
  on public.certification (expires_at, id)
  where status = 'active';

-- One row per certification and warning window, for the notification service
-- to send and mark sent_at. peer_mentor_id is a copy for the sender, with no
-- foreign key: the cascade through certification_id already removes notices
-- when a mentor goes, and a second one would need its own index on every insert.
create table public.certification_expiry_notice (
  id bigint generated always as identity primary key,
  certification_id uuid not null references public.certification (id) on delete cascade,
  peer_mentor_id uuid not null,
  window_days integer not null check (window_days between 1 and 365),
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  constraint certification_expiry_notice_once unique (certification_id, window_days)
);

comment on table public.certification_expiry_notice is
  'Outbox of certification expiry warnings, one per certification and window; '
  'written by certification_expiry_check, sent by the notification service.';

-- What the sender polls: unsent notices, oldest first.
create index certification_expiry_notice_unsent_idx
  on public.certification_expiry_notice (id)
  where sent_at is null;

alter table public.certification_expiry_notice enable row level security;
revoke all on public.certification_expiry_notice from public, anon, authenticated;
grant select, insert, update on public.certification_expiry_notice to service_role;

-- Expires up to p_batch_size active certifications whose expires_at <= p_now,
-- walking the table in physical order from just after p_after (null: from the
-- start), so each heap page is written about once a night, as a plain
-- UPDATE's sequential scan would (see BENCHMARKS.md):
--   1. the next p_batch_size + 1 due rows after p_after, in physical order:
--      with many rows due the planner takes a TID range scan from p_after that
--      stops once it has them; with few, a bitmap scan of their entries in
--      certification_active_expires_idx (a bitmap heap scan also visits pages
--      in physical order). Sequential scans (which may start mid-table, where a
--      concurrent one is) and plain index scans (expiry order) are off here.
--   2. the batch (the first p_batch_size of them) is updated by a TID scan of
--      exactly those addresses, re-checking status and expires_at: a row a
--      concurrent writer changed meanwhile has moved and is left for the next
--      night.
-- more = a due row was seen past the batch, so a walk never ends with an empty
-- batch; last_ctid is the p_after for the next batch. A caller may pass no
-- p_after every time: the walk then reads the front of the table again
-- (correct, slower).
create function public.certification_expire_batch(
  p_now timestamptz,
  p_batch_size integer,
  p_after tid default null
)
returns table (expired integer, more boolean, last_ctid tid)
language plpgsql
set search_path = ''
set enable_seqscan = off
set enable_indexscan = off
set enable_bitmapscan = on
as $$
declare
  v_from tid := coalesce(p_after, '(0,0)'::tid);
  v_due tid[];
  v_batch tid[];
  v_expired integer;
begin
  if p_now is null or p_batch_size is null or p_batch_size not between 1 and 100000 then
    raise exception 'certification_expire_batch needs p_now and p_batch_size from 1 to 100000, '
      'got % and %', p_now, p_batch_size using errcode = '22023';
  end if;
  v_due := array(
    select c.ctid
    from public.certification c
    where c.ctid > v_from and c.status = 'active' and c.expires_at <= p_now
    limit p_batch_size + 1
  );
  v_batch := array(select t from unnest(v_due) as d (t) order by t limit p_batch_size);
  -- For the update, only a TID scan (a bitmap scan would read every due row's page).
  perform pg_catalog.set_config('enable_bitmapscan', 'off', true);
  update public.certification c
  set status = 'expired', expired_at = p_now, updated_at = p_now
  where c.ctid = any (v_batch) and c.status = 'active' and c.expires_at <= p_now;
  get diagnostics v_expired = row_count;
  return query select v_expired, cardinality(v_due) > p_batch_size,
    v_batch[cardinality(v_batch)];
end;
$$;

-- Queues one notice for each of the next p_batch_size active certifications
-- (after the key p_after_expires_at, p_after_id) that expire within
-- p_window_days after p_now. Walking by key keeps every batch as cheap as the
-- first; on conflict makes a re-run (or an overlapping one) insert nothing twice.
-- last_* is the key to pass as p_after_* next; more = another certification
-- follows the batch (it reads one row past it), so no walk ends with an empty batch.
create function public.certification_queue_expiry_notices_batch(
  p_now timestamptz,
  p_window_days integer,
  p_batch_size integer,
  p_after_expires_at timestamptz default null,
  p_after_id uuid default null
) returns table (queued integer, more boolean, last_expires_at timestamptz, last_id uuid)
language plpgsql
set search_path = ''
as $$
begin
  if p_now is null or p_window_days is null or p_window_days not between 1 and 365
    or p_batch_size is null or p_batch_size not between 1 and 100000
    or (p_after_expires_at is null) <> (p_after_id is null) then
    raise exception 'certification_queue_expiry_notices_batch needs p_now, p_window_days from 1 '
      'to 365, p_batch_size from 1 to 100000 and both or neither of p_after_*, got %, %, %, %, %',
      p_now, p_window_days, p_batch_size, p_after_expires_at, p_after_id using errcode = '22023';
  end if;
  return query
  with candidate as (
    select c.id, c.peer_mentor_id, c.expires_at
    from public.certification c
    where c.status = 'active'
      and c.expires_at > p_now
      and c.expires_at <= p_now + make_interval(days => p_window_days)
      and (p_after_id is null or (c.expires_at, c.id) > (p_after_expires_at, p_after_id))
    order by c.expires_at, c.id
    limit p_batch_size + 1
  ),
  batch as (
    select * from candidate order by expires_at, id limit p_batch_size
  ),
  inserted as (
    insert into public.certification_expiry_notice
      (certification_id, peer_mentor_id, window_days, expires_at, created_at)
    select id, peer_mentor_id, p_window_days, expires_at, p_now
    from batch
    on conflict (certification_id, window_days) do nothing
    returning 1
  ),
  tail as (
    select expires_at, id from batch order by expires_at desc, id desc limit 1
  )
  select (select count(*)::integer from inserted),
    (select count(*) from candidate) > p_batch_size,
    (select expires_at from tail),
    (select id from tail);
end;
$$;

-- The SQL runner of certification_expiry_check (issue 16): the job's work
-- without the Edge Function, over the same two batch functions, in the same
-- order (expire everything due, then each warning window in turn), with the
-- same payload ({"windows_days": [30, 7], "batch_size": 25000}, each optional,
-- the same limits) and the same summary. One call is ONE batch: the sweep's
-- SQL runner (scheduler_run_sql_part, 20261202000200) calls it again with the
-- state it returned, committing in between and stopping when its budget is
-- spent, so no transaction holds more than one batch. p_state is null on a
-- part's first call; work_remains is false once the last window is walked.
-- Re-running with the same p_now changes nothing (the batch functions see to it).
create function public.certification_expiry_check_sql(
  p_now timestamptz,
  p_payload jsonb,
  p_state jsonb
) returns table (state jsonb, summary jsonb, work_remains boolean)
language plpgsql
set search_path = ''
as $$
declare
  v_payload jsonb := coalesce(p_payload, '{}');
  v_windows integer[] := array[30, 7];
  v_batch integer := 25000;
  v_unknown text;
  v_state jsonb := p_state;
  v_window integer;
  v_days integer;
  v_expired record;
  v_queued record;
begin
  select k into v_unknown from jsonb_object_keys(v_payload) k
  where k not in ('windows_days', 'batch_size') limit 1;
  if v_unknown is not null then
    raise exception 'Invalid payload for job ''certification_expiry_check'': unknown payload field ''%''',
      v_unknown using errcode = '22023';
  end if;
  if v_payload ? 'windows_days' then
    if jsonb_typeof(v_payload -> 'windows_days') <> 'array'
       or jsonb_array_length(v_payload -> 'windows_days') > 4
       or exists (select from jsonb_array_elements(v_payload -> 'windows_days') e
                  where jsonb_typeof(e) <> 'number' or e::numeric <> trunc(e::numeric)
                     or e::numeric not between 1 and 365)
       or (select count(distinct e::numeric) <> count(*)
           from jsonb_array_elements(v_payload -> 'windows_days') e) then
      raise exception 'Invalid payload for job ''certification_expiry_check'': ''windows_days'' must be '
        'at most 4 distinct integers from 1 to 365, got ''%''', v_payload -> 'windows_days'
        using errcode = '22023';
    end if;
    v_windows := array(select e::integer from jsonb_array_elements_text(v_payload -> 'windows_days') e);
  end if;
  if v_payload ? 'batch_size' then
    if jsonb_typeof(v_payload -> 'batch_size') <> 'number'
       or (v_payload ->> 'batch_size')::numeric <> trunc((v_payload ->> 'batch_size')::numeric)
       or (v_payload ->> 'batch_size')::numeric not between 1 and 50000 then
      raise exception 'Invalid payload for job ''certification_expiry_check'': ''batch_size'' must be an '
        'integer from 1 to 50000, got ''%''', v_payload -> 'batch_size' using errcode = '22023';
    end if;
    v_batch := (v_payload ->> 'batch_size')::integer;
  end if;

  v_state := coalesce(v_state, jsonb_build_object(
    'window', 0, 'expiring', true, 'after_expires_at', null, 'after_id', null, 'expired', 0,
    'notices', coalesce((select jsonb_object_agg(d::text, 0) from unnest(v_windows) d), '{}')));
  v_window := (v_state ->> 'window')::integer;
  -- Expire first, so nothing past its date is warned about as "expiring soon".
  if (v_state ->> 'expiring')::boolean then
    -- The walk goes on from the previous batch's last row address (after_ctid).
    select * into v_expired from public.certification_expire_batch(
      p_now, v_batch, (v_state ->> 'after_ctid')::tid);
    v_state := v_state || jsonb_build_object(
      'expired', (v_state ->> 'expired')::integer + v_expired.expired,
      'expiring', v_expired.more,
      'after_ctid', case when v_expired.more then v_expired.last_ctid::text end);
  elsif v_window < cardinality(v_windows) then
    v_days := v_windows[v_window + 1];
    select * into v_queued from public.certification_queue_expiry_notices_batch(
      p_now, v_days, v_batch, (v_state ->> 'after_expires_at')::timestamptz,
      (v_state ->> 'after_id')::uuid);
    v_state := jsonb_set(v_state, array['notices', v_days::text],
      to_jsonb((v_state -> 'notices' ->> v_days::text)::integer + v_queued.queued));
    v_state := v_state || case when v_queued.more
      then jsonb_build_object('after_expires_at', v_queued.last_expires_at, 'after_id', v_queued.last_id)
      else jsonb_build_object('window', v_window + 1, 'after_expires_at', null, 'after_id', null) end;
  end if;
  return query select v_state,
    jsonb_build_object(
      'as_of', to_char(p_now at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'expired', (v_state ->> 'expired')::integer,
      'notices', v_state -> 'notices'),
    (v_state ->> 'expiring')::boolean or (v_state ->> 'window')::integer < cardinality(v_windows);
end;
$$;

revoke all on function public.certification_expiry_check_sql(timestamptz, jsonb, jsonb)
  from public, anon, authenticated, service_role;

-- Supabase grants new functions in public to anon and authenticated by default.
revoke all on function public.certification_expire_batch(timestamptz, integer, tid)
  from public, anon, authenticated;
revoke all on function public.certification_queue_expiry_notices_batch(
  timestamptz, integer, integer, timestamptz, uuid
) from public, anon, authenticated;
grant execute on function public.certification_expire_batch(timestamptz, integer, tid)
  to service_role;
grant execute on function public.certification_queue_expiry_notices_batch(
  timestamptz, integer, integer, timestamptz, uuid
) to service_role;

insert into public.scheduler_nightly_job (job_name) values ('certification_expiry_check')
on conflict (job_name) do nothing;
