-- The visibility rule, in one place. A user sees a peer mentor when
--   - the mentor is themself (peer_mentor.user_id), or
--   - as a coordinator of the mentor's organisation they have
--     - a current direct assignment of the mentor, or
--     - a current chapter coordinator role in a chapter where the mentor has a
--       current membership, or
--     - a current organisation administrator role.
-- "Current" means started and not yet ended at now(). Every coordinator path
-- stays inside the coordinator's own organisation (the composite foreign keys
-- already make any other link impossible; the rule says it again).
--
-- Used by every certification RPC; no table policy repeats it. It has no SET
-- clause on purpose: a SQL function with one cannot be inlined, and inlined,
-- a caller's "and peer_mentor_id = x" reaches each branch as an index probe
-- instead of filtering the whole visible set (an administrator's is the
-- whole organisation). Every name in it is schema-qualified.

create function public.peer_mentors_visible_to(p_user_id uuid)
returns table (peer_mentor_id uuid)
language sql
stable
as $$
  select pm.id
  from public.peer_mentor pm
  where pm.user_id = p_user_id
  union
  select a.peer_mentor_id
  from public.coordinator c
  join public.peer_mentor_assignment a
    on a.coordinator_id = c.id and a.organisation_id = c.organisation_id
  where c.user_id = p_user_id
    and a.starts_at <= now() and (a.ends_at is null or a.ends_at > now())
  union
  select m.peer_mentor_id
  from public.coordinator c
  join public.coordinator_role r
    on r.coordinator_id = c.id and r.organisation_id = c.organisation_id
  join public.chapter_membership m
    on m.chapter_id = r.chapter_id and m.organisation_id = r.organisation_id
  where c.user_id = p_user_id
    and r.role = 'chapter_coordinator'
    and r.starts_at <= now() and (r.ends_at is null or r.ends_at > now())
    and m.starts_at <= now() and (m.ends_at is null or m.ends_at > now())
  union
  select pm.id
  from public.coordinator c
  join public.coordinator_role r
    on r.coordinator_id = c.id and r.organisation_id = c.organisation_id
  join public.peer_mentor pm on pm.organisation_id = r.organisation_id
  where c.user_id = p_user_id
    and r.role = 'organisation_administrator'
    and r.starts_at <= now() and (r.ends_at is null or r.ends_at > now())
$$;

comment on function public.peer_mentors_visible_to(uuid) is
  'The peer mentors the given auth user may see: themself, and as a coordinator those of a current '
  'assignment, a current shared chapter, or a current administrator role, in their organisation.';

-- Given any user id it answers for that user, so only the RPCs (running as
-- their owner) and the service role may call it.
revoke all on function public.peer_mentors_visible_to(uuid) from public, anon, authenticated;
grant execute on function public.peer_mentors_visible_to(uuid) to service_role;
