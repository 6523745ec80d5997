-- What a signed-in user may read of peer mentors' certifications, as three
-- RPCs over peer_mentors_visible_to(auth.uid()): a keyset-paginated status
-- list, one mentor's certifications with their queued expiry notices, and
-- counts per status. SECURITY DEFINER (owned by the migrating role) because
-- the tables stay closed to anon and authenticated; search_path is empty so
-- nothing the caller creates can stand in for a table or operator. A hidden
-- mentor and a missing one look the same: no rows, no error.

-- The list and the counts first collect the caller's visible mentors (index
-- probes from the user id, see peer_mentors_visible_to), then read those
-- mentors' certifications. Two steps, because in one query the planner cannot
-- know how many mentors the rule yields (a chapter's 2,000 or an
-- organisation's 100,000) and plans for the average: at 100k mentors it
-- hashed the whole certification table for a 2,000-mentor coordinator
-- (92 ms, see BENCHMARKS.md). force_custom_plan plans the second step for the
-- array actually collected, every call.

-- A mentor's certifications in expiry order, with their status: the list's
-- page and the counts are read from this index alone (no heap visit per row).
create index certification_mentor_expiry_idx
  on public.certification (peer_mentor_id, expires_at, id) include (status);

-- Every certification in expiry order, with what the list filters on and whose
-- it is: an organisation administrator's page walks it from the front and
-- keeps the rows they may see (nearly all of them) instead of probing each of
-- their organisation's mentors. It costs every insert, and every update of
-- expires_at, status or peer_mentor_id, one more index entry (BENCHMARKS.md).
create index certification_expiry_order_idx
  on public.certification (expires_at, id) include (peer_mentor_id, status);

-- The caller's visible certifications in expiry order (expires_at, id), at
-- most p_limit (1 to 500), after the key p_after_* (both or neither).
-- Filters: p_status ('active', 'expired', 'revoked'); p_expiring_within_days
-- (1 to 365: active and expiring before now() + that many days, including any
-- past due that the nightly check has not expired yet); p_chapter_id (mentors
-- with a current membership in that chapter). notice_windows_days lists the
-- expiry notices already queued for the certification (for example {30,7}).
create function public.certification_status_list(
  p_status text default null,
  p_expiring_within_days integer default null,
  p_chapter_id uuid default null,
  p_after_expires_at timestamptz default null,
  p_after_certification_id uuid default null,
  p_limit integer default 50
) returns table (
  certification_id uuid,
  peer_mentor_id uuid,
  peer_mentor_name text,
  certification_type text,
  status text,
  issued_at timestamptz,
  expires_at timestamptz,
  expired_at timestamptz,
  notice_windows_days integer[]
)
language plpgsql
stable
security definer
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_user uuid := auth.uid();
  v_mentors uuid[];
  v_page uuid[];
  v_administered bigint;
  v_all real;
  v_cap integer;
begin
  if p_status is not null and p_status not in ('active', 'expired', 'revoked') then
    raise exception 'p_status must be active, expired or revoked, got ''%''', p_status
      using errcode = '22023';
  end if;
  if p_expiring_within_days is not null and p_expiring_within_days not between 1 and 365 then
    raise exception 'p_expiring_within_days must be from 1 to 365, got %', p_expiring_within_days
      using errcode = '22023';
  end if;
  if p_limit is null or p_limit not between 1 and 500 then
    raise exception 'p_limit must be from 1 to 500, got %', p_limit using errcode = '22023';
  end if;
  if (p_after_expires_at is null) <> (p_after_certification_id is null) then
    raise exception 'p_after_expires_at and p_after_certification_id go together'
      using errcode = '22023';
  end if;
  if v_user is null then
    return;
  end if;
  -- How many mentors the caller sees as an organisation administrator,
  -- counted (index-only) only as far as the choice below needs.
  v_all := greatest((select c.reltuples from pg_catalog.pg_class c
    where c.oid = 'public.peer_mentor'::regclass), 1);
  select count(*) into v_administered from (
    select from public.coordinator c
    join public.coordinator_role r
      on r.coordinator_id = c.id and r.organisation_id = c.organisation_id
    join public.peer_mentor pm on pm.organisation_id = r.organisation_id
    where c.user_id = v_user
      and r.role = 'organisation_administrator'
      and r.starts_at <= now() and (r.ends_at is null or r.ends_at > now())
    limit ceil(sqrt(5.0 * p_limit * v_all))::bigint
  ) administered;
  -- An administrator sees about v_administered / v_all of all certifications,
  -- so a walk through every certification in expiry order finds a page after
  -- about p_limit * v_all / v_administered rows, each checked against the rule
  -- by a few index probes: far cheaper than probing every visible mentor once
  -- that share is large. The walk is capped at 20 times that; when a filter
  -- keeps fewer rows than expected and the cap cuts the walk short, the
  -- per-mentor read below answers instead.
  if v_administered::real * v_administered >= 5.0 * p_limit * v_all then
    v_cap := least(ceil(20.0 * p_limit * v_all / v_administered), 1000000)::integer;
    v_page := array(
      select k.id
      from (
        select w.id, w.expires_at, w.peer_mentor_id
        from public.certification w
        where (p_status is null or w.status = p_status)
          and (p_expiring_within_days is null or (w.status = 'active'
            and w.expires_at < now() + make_interval(days => p_expiring_within_days)))
          and (p_after_certification_id is null
            or (w.expires_at, w.id) > (p_after_expires_at, p_after_certification_id))
        order by w.expires_at, w.id
        limit v_cap
      ) k
      -- A scalar subquery, not EXISTS: the planner turns an EXISTS into a join
      -- against the whole visible set (100,000 mentors hashed); this one runs
      -- per row, with the mentor reaching each branch of the rule as an index probe.
      where coalesce((
          select true from public.peer_mentors_visible_to(v_user) v
          where v.peer_mentor_id = k.peer_mentor_id
          limit 1), false)
        and (p_chapter_id is null or exists (
          select from public.chapter_membership m
          where m.peer_mentor_id = k.peer_mentor_id and m.chapter_id = p_chapter_id
            and m.starts_at <= now() and (m.ends_at is null or m.ends_at > now())))
      order by k.expires_at, k.id
      limit p_limit
    );
    -- A short page is the whole answer, unless the cap cut the walk off.
    if cardinality(v_page) < p_limit and (
      select count(*) from (
        select from public.certification w
        where (p_status is null or w.status = p_status)
          and (p_expiring_within_days is null or (w.status = 'active'
            and w.expires_at < now() + make_interval(days => p_expiring_within_days)))
          and (p_after_certification_id is null
            or (w.expires_at, w.id) > (p_after_expires_at, p_after_certification_id))
        limit v_cap
      ) walked
    ) >= v_cap then
      v_page := null;
    end if;
  end if;
  if v_page is null then
    v_mentors := array(select v.peer_mentor_id from public.peer_mentors_visible_to(v_user) v);
    -- The page's keys come from the mentor-expiry index alone.
    v_page := array(
      select k.id
      from unnest(v_mentors) as v (peer_mentor_id)
      join public.certification k on k.peer_mentor_id = v.peer_mentor_id
      where (p_status is null or k.status = p_status)
        and (p_expiring_within_days is null or (k.status = 'active'
          and k.expires_at < now() + make_interval(days => p_expiring_within_days)))
        and (p_chapter_id is null or exists (
          select from public.chapter_membership m
          where m.peer_mentor_id = v.peer_mentor_id and m.chapter_id = p_chapter_id
            and m.starts_at <= now() and (m.ends_at is null or m.ends_at > now())))
        and (p_after_certification_id is null
          or (k.expires_at, k.id) > (p_after_expires_at, p_after_certification_id))
      order by k.expires_at, k.id
      limit p_limit
    );
  end if;
  -- Only the page's rows are read in full, with their mentor's name and notices.
  return query
    select c.id, c.peer_mentor_id, pm.full_name, c.certification_type, c.status,
      c.issued_at, c.expires_at, c.expired_at,
      array(
        select n.window_days from public.certification_expiry_notice n
        where n.certification_id = c.id
        order by n.window_days desc
      )
    from unnest(v_page) as page (id)
    join public.certification c on c.id = page.id
    join public.peer_mentor pm on pm.id = c.peer_mentor_id
    order by c.expires_at, c.id;
end;
$$;

-- One peer mentor's certifications in expiry order, each with the expiry
-- notices queued for it (window_days, queued_at, sent_at), when the caller may
-- see the mentor; otherwise nothing.
create function public.peer_mentor_certifications(p_peer_mentor_id uuid)
returns table (
  certification_id uuid,
  peer_mentor_id uuid,
  peer_mentor_name text,
  certification_type text,
  status text,
  issued_at timestamptz,
  expires_at timestamptz,
  expired_at timestamptz,
  notices jsonb
)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_user uuid := auth.uid();
begin
  if v_user is null or p_peer_mentor_id is null or not exists (
    select from public.peer_mentors_visible_to(v_user) v where v.peer_mentor_id = p_peer_mentor_id
  ) then
    return;
  end if;
  return query
    select c.id, c.peer_mentor_id, pm.full_name, c.certification_type, c.status,
      c.issued_at, c.expires_at, c.expired_at,
      coalesce((
        select jsonb_agg(jsonb_build_object(
            'window_days', n.window_days, 'queued_at', n.created_at, 'sent_at', n.sent_at)
          order by n.window_days desc)
        from public.certification_expiry_notice n
        where n.certification_id = c.id
      ), '[]'::jsonb)
    from public.peer_mentor pm
    join public.certification c on c.peer_mentor_id = pm.id
    where pm.id = p_peer_mentor_id
    order by c.expires_at, c.id;
end;
$$;

-- How many of the caller's visible certifications are in each status, always
-- four rows in this order: active, expiring (the active ones expiring before
-- now() + p_expiring_within_days, 1 to 365; also counted in active), expired,
-- revoked.
create function public.certification_status_counts(p_expiring_within_days integer default 30)
returns table (status text, certifications bigint)
language plpgsql
stable
security definer
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_user uuid := auth.uid();
  v_mentors uuid[];
  v_active bigint := 0;
  v_expiring bigint := 0;
  v_expired bigint := 0;
  v_revoked bigint := 0;
begin
  if p_expiring_within_days is null or p_expiring_within_days not between 1 and 365 then
    raise exception 'p_expiring_within_days must be from 1 to 365, got %', p_expiring_within_days
      using errcode = '22023';
  end if;
  if v_user is not null then
    v_mentors := array(select v.peer_mentor_id from public.peer_mentors_visible_to(v_user) v);
    select count(*) filter (where c.status = 'active'),
      count(*) filter (where c.status = 'active'
        and c.expires_at < now() + make_interval(days => p_expiring_within_days)),
      count(*) filter (where c.status = 'expired'),
      count(*) filter (where c.status = 'revoked')
    into v_active, v_expiring, v_expired, v_revoked
    from unnest(v_mentors) as v (peer_mentor_id)
    join public.certification c on c.peer_mentor_id = v.peer_mentor_id;
  end if;
  return query values ('active', v_active), ('expiring', v_expiring), ('expired', v_expired),
    ('revoked', v_revoked);
end;
$$;

-- Signed-in users only: anon has no auth.uid(), and the service role reads the
-- tables directly.
revoke all on function public.certification_status_list(
  text, integer, uuid, timestamptz, uuid, integer
) from public, anon, service_role;
revoke all on function public.peer_mentor_certifications(uuid) from public, anon, service_role;
revoke all on function public.certification_status_counts(integer) from public, anon, service_role;
grant execute on function public.certification_status_list(
  text, integer, uuid, timestamptz, uuid, integer
) to authenticated;
grant execute on function public.peer_mentor_certifications(uuid) to authenticated;
grant execute on function public.certification_status_counts(integer) to authenticated;
