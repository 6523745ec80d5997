-- The change feed behind hlf_dynamics_sync: which certifications changed since
-- a named sync last confirmed delivery, and that sync's cursor.
--
-- Why a transaction-id change sequence and not an updated_at cursor:
-- updated_at is taken at the writing transaction's start (now()), or set
-- explicitly by writers (the nightly expiry job passes its clock's time), and
-- becomes visible only at COMMIT. A reader that moves its cursor past time T
-- skips any row stamped before T whose transaction commits afterwards; a
-- safety lag only narrows that hole to transactions longer than the lag. A
-- sequence has the same hole (numbers are drawn before commit).
--
-- So every insert or update stamps the row with its transaction's id
-- (change_xid, xid8: 64-bit, never wraps), and the feed returns only rows whose
-- change_xid is below the xmin of the reader's snapshot: every transaction below
-- xmin has committed or aborted, so no row with a smaller change_xid can appear
-- later. Ordered by the keyset (change_xid, id), a cursor at (x, id) is exact:
-- nothing is skipped, nothing is read twice unless it changed again. The price:
-- a transaction left open anywhere in the cluster holds the horizon back, and
-- the feed waits (never skips) until it ends. xids belong to one cluster: after
-- a logical dump/restore into a new cluster, reset the cursors (delete their
-- rows) and the stamps (update certification set change_xid = '0'); the feed
-- refuses a cursor ahead of the cluster's xids instead of silently stalling.

-- '0' (a constant: no table rewrite) puts existing rows first, so the first run
-- sends every certification once.
alter table public.certification add column change_xid xid8 not null default '0';

-- Two ways into the feed (see scheduler_certification_changes): the whole
-- table in change order, and one mentor's certifications in change order.
-- The change-order index is partial on a predicate every row meets, so that
-- only a query stating it (the large-organisation read below) can use it. The
-- per-mentor read must use the mentor index: with the cursor in the newest
-- change_xid (a bulk load stamps thousands of rows with one) the planner
-- estimates almost nothing left and would walk this index once per mentor.
create index certification_change_idx on public.certification (change_xid, id)
  where change_xid >= '0'::xid8;
create index certification_mentor_change_idx
  on public.certification (peer_mentor_id, change_xid, id);

create function public.certification_stamp_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.change_xid := pg_current_xact_id();
  return new;
end;
$$;

create trigger certification_stamp_change before insert or update on public.certification
  for each row execute function public.certification_stamp_change();

-- One row per consumer of the feed; hlf_dynamics_sync's name is its job name.
create table public.scheduler_sync_cursor (
  sync_name text primary key check (sync_name ~ '^[a-z0-9_]{1,64}$'),
  change_xid xid8 not null,
  certification_id uuid not null,
  advanced_at timestamptz not null
);

comment on table public.scheduler_sync_cursor is
  'How far each sync has delivered the certification change feed; moved only after the receiver accepted.';

-- Where p_sync_name stands; no row before its first advance.
create function public.scheduler_sync_cursor_position(p_sync_name text)
returns table (change_xid text, certification_id uuid)
language sql
stable
set search_path = ''
as $$
  select c.change_xid::text, c.certification_id
  from public.scheduler_sync_cursor c
  where c.sync_name = p_sync_name;
$$;

-- Moves p_sync_name's cursor forward to (p_change_xid, p_certification_id);
-- never backwards, so a late or repeated call cannot re-open delivered changes.
create function public.scheduler_sync_cursor_advance(
  p_sync_name text,
  p_change_xid text,
  p_certification_id uuid,
  p_now timestamptz
) returns void
language sql
set search_path = ''
as $$
  insert into public.scheduler_sync_cursor as c (sync_name, change_xid, certification_id, advanced_at)
  values (p_sync_name, p_change_xid::xid8, p_certification_id, p_now)
  on conflict (sync_name) do update
  set change_xid = excluded.change_xid,
      certification_id = excluded.certification_id,
      advanced_at = excluded.advanced_at
  where (c.change_xid, c.certification_id) < (excluded.change_xid, excluded.certification_id);
$$;

-- Up to p_limit changed certifications of one organisation after the cursor
-- (null: from the start), in (change_xid, id) order, below the snapshot's xmin.
-- An organisation with few mentors is read mentor by mentor (one index probe
-- each); walking the whole table in change order would scan every other
-- organisation's rows first. A large one is read in change order, where its
-- own rows are dense. Either way a batch costs a bounded amount of work.
create function public.scheduler_certification_changes(
  p_organisation_code text,
  p_after_change_xid text,
  p_after_certification_id uuid,
  p_limit integer
) returns table (
  change_xid text,
  certification_id uuid,
  peer_mentor_id uuid,
  certification_type text,
  status text,
  issued_at timestamptz,
  expires_at timestamptz,
  expired_at timestamptz,
  -- Held in a sync's quarantine (20261128000401) when read: only such a record,
  -- once accepted, needs a release call, so most pages need none.
  quarantined boolean
)
language plpgsql
stable
set search_path = ''
as $$
declare
  -- The snapshot the reads below see (a stable function shares its caller's),
  -- so every transaction under the horizon is visible to them or aborted.
  v_snapshot pg_snapshot := pg_current_snapshot();
  v_horizon xid8 := pg_snapshot_xmin(v_snapshot);
  -- Below every real stamp ('0' sorts first; the nil uuid is below every gen_random_uuid()).
  v_after_xid xid8 := coalesce(p_after_change_xid::xid8, '0'::xid8);
  v_after_id uuid := coalesce(p_after_certification_id, '00000000-0000-0000-0000-000000000000');
  v_organisation_id uuid;
  v_mentors bigint;
  v_per integer;
  v_page uuid[];
  v_exact boolean;
begin
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    raise exception 'p_limit must be from 1 to 1000, got %', p_limit;
  end if;
  if v_after_xid >= pg_snapshot_xmax(v_snapshot) then
    raise exception 'Cursor ''%'' is ahead of this cluster''s transaction ids; after a restore, reset the sync cursor', v_after_xid;
  end if;
  select o.id into v_organisation_id from public.organisation o where o.code = p_organisation_code;
  if v_organisation_id is null then
    return;
  end if;
  select count(*) into v_mentors
  from (select 1 from public.peer_mentor pm where pm.organisation_id = v_organisation_id limit 5001) m;

  if v_mentors <= 5000 then
    -- Each mentor's next rows in change order, keys only and at most v_per of
    -- them; the page is the first p_limit of those. It is the true page unless
    -- a mentor that gave all v_per of its rows may have more before the page's
    -- end (or the page came out short): then each mentor gives up to p_limit,
    -- as before. A bulk load (a few mentors with thousands of rows each) so
    -- reads about 2 x p_limit keys a page instead of p_limit per mentor.
    v_per := least(p_limit, greatest(16, ceil(2.0 * p_limit / greatest(v_mentors, 1))::integer));
    with cand as materialized (
      select k.change_xid, k.id, k.rank
      from public.peer_mentor pm
      cross join lateral (
        select c1.change_xid, c1.id,
               row_number() over (order by c1.change_xid, c1.id) as rank
        from public.certification c1
        where c1.peer_mentor_id = pm.id
          and (c1.change_xid, c1.id) > (v_after_xid, v_after_id)
          and c1.change_xid < v_horizon
        order by c1.change_xid, c1.id
        limit v_per
      ) k
      where pm.organisation_id = v_organisation_id
    ),
    page as materialized (
      select cand.change_xid, cand.id from cand order by cand.change_xid, cand.id limit p_limit
    ),
    page_end as (
      select page.change_xid, page.id from page order by page.change_xid desc, page.id desc limit 1
    ),
    -- A mentor's last candidate (rank v_per) before the page's end: it may have more rows there.
    cut as (
      select from cand
      where cand.rank = v_per
        and ((select count(*) from page) < p_limit
          or (cand.change_xid, cand.id) < (select page_end.change_xid, page_end.id from page_end))
    )
    select array(select page.id from page order by page.change_xid, page.id),
      not exists (select from cut)
    into v_page, v_exact;
    if v_per = p_limit or v_exact then
      return query
        select c.change_xid::text, c.id, c.peer_mentor_id, c.certification_type, c.status,
               c.issued_at, c.expires_at, c.expired_at,
               exists (select from public.scheduler_sync_quarantine q where q.certification_id = c.id)
        from unnest(v_page) as p (id)
        join public.certification c on c.id = p.id
        order by c.change_xid, c.id;
      return;
    end if;
    return query
      select c.change_xid::text, c.id, c.peer_mentor_id, c.certification_type, c.status,
             c.issued_at, c.expires_at, c.expired_at,
             exists (select from public.scheduler_sync_quarantine q where q.certification_id = c.id)
      from public.peer_mentor pm
      cross join lateral (
        select c1.* from public.certification c1
        where c1.peer_mentor_id = pm.id
          and (c1.change_xid, c1.id) > (v_after_xid, v_after_id)
          and c1.change_xid < v_horizon
        order by c1.change_xid, c1.id
        limit p_limit
      ) c
      where pm.organisation_id = v_organisation_id
      order by c.change_xid, c.id
      limit p_limit;
  else
    return query
      select c.change_xid::text, c.id, c.peer_mentor_id, c.certification_type, c.status,
             c.issued_at, c.expires_at, c.expired_at,
             exists (select from public.scheduler_sync_quarantine q where q.certification_id = c.id)
      from public.certification c
      join public.peer_mentor pm on pm.id = c.peer_mentor_id
      where pm.organisation_id = v_organisation_id
        and (c.change_xid, c.id) > (v_after_xid, v_after_id)
        and c.change_xid < v_horizon
        and c.change_xid >= '0'::xid8 -- states certification_change_idx's predicate
      order by c.change_xid, c.id
      limit p_limit;
  end if;
end;
$$;

-- Only the service role (the Edge Function) reads the feed or moves cursors.
-- Supabase's default privileges grant new tables and functions to anon and
-- authenticated, so revoke from them by name as well as from public.
alter table public.scheduler_sync_cursor enable row level security;
revoke all on public.scheduler_sync_cursor from public, anon, authenticated;
grant select, insert, update on public.scheduler_sync_cursor to service_role;

revoke all on function public.certification_stamp_change() from public, anon, authenticated;
revoke all on function public.scheduler_sync_cursor_position(text) from public, anon, authenticated;
revoke all on function public.scheduler_sync_cursor_advance(text, text, uuid, timestamptz)
  from public, anon, authenticated;
revoke all on function public.scheduler_certification_changes(text, text, uuid, integer)
  from public, anon, authenticated;
grant execute on function public.scheduler_sync_cursor_position(text) to service_role;
grant execute on function public.scheduler_sync_cursor_advance(text, text, uuid, timestamptz)
  to service_role;
grant execute on function public.scheduler_certification_changes(text, text, uuid, integer)
  to service_role;

insert into public.scheduler_nightly_job (job_name) values ('hlf_dynamics_sync')
on conflict (job_name) do nothing;
