-- Peer mentors, the organisations they belong to, and their certifications:
-- the data the nightly jobs certification_expiry_check and hlf_dynamics_sync
-- work on. Other services write these tables; the scheduler's jobs maintain
-- certification.status and tell the organisations' portals about changes.

create table public.organisation (
  id uuid primary key default gen_random_uuid(),
  code text not null unique check (code ~ '^[a-z0-9_]{1,32}$'),
  name text not null
);

create table public.peer_mentor (
  id uuid primary key default gen_random_uuid(),
  organisation_id uuid not null references public.organisation (id),
  full_name text not null,
  email text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index peer_mentor_organisation_idx on public.peer_mentor (organisation_id);

create table public.certification (
  id uuid primary key default gen_random_uuid(),
  peer_mentor_id uuid not null references public.peer_mentor (id) on delete cascade,
  certification_type text not null,
  issued_at timestamptz not null,
  expires_at timestamptz not null,
  status text not null default 'active' check (status in ('active', 'expired', 'revoked')),
  expired_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint certification_expires_after_issue check (expires_at > issued_at),
  constraint certification_expired_at_iff_expired check ((status = 'expired') = (expired_at is not null))
);

create index certification_peer_mentor_idx on public.certification (peer_mentor_id);

-- Keeps updated_at honest for writers that forget it; a writer that sets it
-- explicitly (the nightly job passes its clock's time) keeps its value.
create function public.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.updated_at is not distinct from old.updated_at then
    new.updated_at := now();
  end if;
  return new;
end;
$$;

create trigger peer_mentor_touch_updated_at before update on public.peer_mentor
  for each row execute function public.touch_updated_at();
create trigger certification_touch_updated_at before update on public.certification
  for each row execute function public.touch_updated_at();

-- Personal data: nothing for anon/authenticated until a product decides on policies.
alter table public.organisation enable row level security;
alter table public.peer_mentor enable row level security;
alter table public.certification enable row level security;
revoke all on public.organisation, public.peer_mentor, public.certification
  from public, anon, authenticated;
grant select, insert, update, delete on public.organisation, public.peer_mentor, public.certification
  to service_role;
