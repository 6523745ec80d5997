# Sourced by local/stack.sh (LOCAL ONLY): the PostgreSQL cluster: tools check,
# initdb (superuser supabase_admin, as hosted), configuration, start, and the
# bootstrap + migrations (applied as postgres, not a superuser).

check_tools() {
  local bin
  for bin in "$PGBIN/postgres" "$DENO" "$SUPABASE" "$POSTGREST"; do
    [ -x "$bin" ] || fail "$bin is missing: run 'bash scripts/install.sh' first"
  done
  [ -f /usr/share/postgresql/15/extension/pg_cron.control ] ||
    fail "pg_cron is missing: run 'bash scripts/install.sh' first"
  bash "$ROOT/scripts/install.sh" --extensions-only
}

# Runs a command as the postgres user from /, which it can always enter.
as_postgres() { (cd / && runuser -u postgres -- "$@"); }

pg_running() { as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

init_postgres() {
  say "creating database cluster in $PGDATA"
  [ "$PGHOME" = "$LOCAL" ] || install -d -o postgres -g postgres -m 0700 "$PGHOME"
  install -d -o postgres -g postgres -m 0700 "$PGDATA"
  as_postgres "$PGBIN/initdb" -D "$PGDATA" -U supabase_admin --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log" 2>&1 || fail "initdb failed" "$LOGS/initdb.log"
  # Vault stand-in key: a file only the superuser can read, like pgsodium's root key.
  (umask 077 && random_hex >"$PGDATA/supabase_vault_local.key")
  chown postgres:postgres "$PGDATA/supabase_vault_local.key"
  echo "include_if_exists = 'supabase_local.conf'" >>"$PGDATA/postgresql.conf"
}

write_postgres_config() {
  # Both atomic: a running server re-reads them on any reload.
  write_atomic "$PGDATA/supabase_local.conf" 0644 <<EOF
# Written by local/stack.sh on every up.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 32
# Read by the pg_net stand-in's worker, as the real worker reads them.
pg_net.batch_size = 200
pg_net.ttl = '6 hours'
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  write_atomic "$PGDATA/pg_hba.conf" 0644 <<EOF
# Written by local/stack.sh: trust on loopback only (the server listens nowhere else).
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
EOF
  chown postgres:postgres "$PGDATA/supabase_local.conf" "$PGDATA/pg_hba.conf"
}

start_postgres() {
  [ -f "$PGDATA/PG_VERSION" ] || init_postgres
  write_postgres_config
  if pg_running; then
    say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
    return
  fi
  say "starting PostgreSQL 15 + pg_cron on 127.0.0.1:$PG_PORT"
  mkdir -p "$(dirname "$PGLOG")" && touch "$PGLOG" && chown postgres:postgres "$PGLOG"
  (cd / && setsid runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 \
    start >/dev/null) || fail "PostgreSQL did not start" "$PGLOG"
}

migrate() {
  psql_admin -c "select" >/dev/null 2>&1 ||
    fail "this database predates the hosted-like roles (no supabase_admin): run 'bash local/stack.sh reset'"
  say "applying local/bootstrap.sql as supabase_admin (Supabase roles, grants, preinstalled extensions)"
  PGOPTIONS="-c client_min_messages=warning" psql_admin -f "$ROOT/local/bootstrap.sql" \
    >>"$LOGS/migrations.log" 2>&1 ||
    fail "bootstrap.sql failed" "$LOGS/migrations.log"
  [ -f "$ROOT/supabase/config.toml" ] ||
    fail "supabase/config.toml is missing (the Supabase CLI needs it)"
  say "applying supabase/migrations with the Supabase CLI as postgres (not a superuser, as on hosted)"
  (cd "$ROOT" && "$SUPABASE" migration up --db-url "$DB_URL?sslmode=disable") \
    >>"$LOGS/migrations.log" 2>&1 || fail "migrations failed" "$LOGS/migrations.log"
  psql_db -c "notify pgrst, 'reload schema'"
}

stop_postgres() {
  if [ -f "$PGDATA/PG_VERSION" ] && pg_running; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
    say "stopped PostgreSQL"
  fi
}
