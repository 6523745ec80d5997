-- Who coordinates whom: chapters within an organisation, peer mentors'
-- chapter memberships, coordinators (Supabase Auth users) with their roles,
-- direct assignments of peer mentors to coordinators, and a peer mentor's own
-- user id. Every period has a start and an optional end; an ended one grants
-- nothing (see peer_mentors_visible_to).
--
-- Every link carries its organisation_id and reaches both ends through a
-- composite foreign key on (organisation_id, id), so no membership, role or
-- assignment can ever join two organisations: the organisation boundary is
-- a property of the data, and the visibility rule states it once more.

-- The peer mentor's own login, when they have one.
alter table public.peer_mentor add column user_id uuid references auth.users (id) on delete set null;
create index peer_mentor_user_idx on public.peer_mentor (user_id) where user_id is not null;
-- Target of the composite foreign keys below.
alter table public.peer_mentor
  add constraint peer_mentor_organisation_id_key unique (organisation_id, id);

create table public.chapter (
  id uuid primary key default gen_random_uuid(),
  organisation_id uuid not null references public.organisation (id) on delete cascade,
  name text not null,
  constraint chapter_organisation_id_key unique (organisation_id, id),
  constraint chapter_name_once unique (organisation_id, name)
);

create table public.chapter_membership (
  id bigint generated always as identity primary key,
  organisation_id uuid not null,
  chapter_id uuid not null,
  peer_mentor_id uuid not null,
  starts_at timestamptz not null default now(),
  ends_at timestamptz,
  constraint chapter_membership_chapter_fk foreign key (organisation_id, chapter_id)
    references public.chapter (organisation_id, id) on delete cascade,
  constraint chapter_membership_peer_mentor_fk foreign key (organisation_id, peer_mentor_id)
    references public.peer_mentor (organisation_id, id) on delete cascade,
  constraint chapter_membership_period check (ends_at is null or ends_at > starts_at)
);

-- A chapter's members (the chapter coordinator's path) and a mentor's
-- chapters; what the visibility rule checks is in the index, so reading a
-- chapter of 2,000 needs no heap visit.
create index chapter_membership_chapter_idx on public.chapter_membership (chapter_id, peer_mentor_id)
  include (organisation_id, starts_at, ends_at);
create index chapter_membership_peer_mentor_idx on public.chapter_membership (peer_mentor_id, chapter_id)
  include (organisation_id, starts_at, ends_at);

-- A coordinator is a Supabase Auth user acting for one organisation; the same
-- user acting for two organisations is two coordinators.
create table public.coordinator (
  id uuid primary key default gen_random_uuid(),
  organisation_id uuid not null references public.organisation (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  full_name text not null,
  constraint coordinator_user_once unique (user_id, organisation_id),
  constraint coordinator_organisation_id_key unique (organisation_id, id)
);

-- A chapter coordinator role names its chapter; an organisation administrator
-- role names none and covers the whole organisation.
create table public.coordinator_role (
  id bigint generated always as identity primary key,
  organisation_id uuid not null,
  coordinator_id uuid not null,
  role text not null check (role in ('chapter_coordinator', 'organisation_administrator')),
  chapter_id uuid,
  starts_at timestamptz not null default now(),
  ends_at timestamptz,
  constraint coordinator_role_coordinator_fk foreign key (organisation_id, coordinator_id)
    references public.coordinator (organisation_id, id) on delete cascade,
  constraint coordinator_role_chapter_fk foreign key (organisation_id, chapter_id)
    references public.chapter (organisation_id, id) on delete cascade,
  constraint coordinator_role_scope check ((role = 'chapter_coordinator') = (chapter_id is not null)),
  constraint coordinator_role_period check (ends_at is null or ends_at > starts_at)
);

create index coordinator_role_coordinator_idx
  on public.coordinator_role (coordinator_id) include (role, chapter_id, starts_at, ends_at);
create index coordinator_role_chapter_idx on public.coordinator_role (chapter_id)
  where chapter_id is not null;

create table public.peer_mentor_assignment (
  id bigint generated always as identity primary key,
  organisation_id uuid not null,
  coordinator_id uuid not null,
  peer_mentor_id uuid not null,
  starts_at timestamptz not null default now(),
  ends_at timestamptz,
  constraint peer_mentor_assignment_coordinator_fk foreign key (organisation_id, coordinator_id)
    references public.coordinator (organisation_id, id) on delete cascade,
  constraint peer_mentor_assignment_peer_mentor_fk foreign key (organisation_id, peer_mentor_id)
    references public.peer_mentor (organisation_id, id) on delete cascade,
  constraint peer_mentor_assignment_period check (ends_at is null or ends_at > starts_at)
);

create index peer_mentor_assignment_coordinator_idx
  on public.peer_mentor_assignment (coordinator_id, peer_mentor_id)
  include (organisation_id, starts_at, ends_at);
create index peer_mentor_assignment_peer_mentor_idx
  on public.peer_mentor_assignment (peer_mentor_id);

-- Deny by default: anon and authenticated read these only through the
-- certification RPCs, which apply peer_mentors_visible_to.
alter table public.chapter enable row level security;
alter table public.chapter_membership enable row level security;
alter table public.coordinator enable row level security;
alter table public.coordinator_role enable row level security;
alter table public.peer_mentor_assignment enable row level security;
revoke all on public.chapter, public.chapter_membership, public.coordinator,
  public.coordinator_role, public.peer_mentor_assignment
  from public, anon, authenticated;
grant select, insert, update, delete on public.chapter, public.chapter_membership,
  public.coordinator, public.coordinator_role, public.peer_mentor_assignment
  to service_role;
