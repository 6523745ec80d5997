-- Extensions the scheduler relies on, as hosted Supabase provides them:
-- pg_cron fires the nightly schedule, pg_net makes the HTTP call, and
-- supabase_vault keeps the function URL and the shared secret.
create extension if not exists pg_cron with schema pg_catalog;
create extension if not exists pg_net with schema extensions;
create extension if not exists supabase_vault with schema vault;
