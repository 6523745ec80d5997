# Sourced by local/stack.sh (LOCAL ONLY): the services around the database:
# PostgREST, the pg_net worker stand-in, the gateway, the function, and the
# demo Dynamics portal.

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
  start_bg pg_net_worker env PG_NET_DB_URL="$ADMIN_DB_URL" "$DENO" run --allow-net --allow-env \
    --allow-read --allow-sys "$ROOT/local/pg_net_worker.ts"
}

start_gateway() {
  if running_pid gateway gateway.ts >/dev/null; then
    say "gateway already running"
    return
  fi
  say "starting gateway on 127.0.0.1:$API_PORT"
  start_bg gateway "$DENO" run --allow-net --allow-read="$ROOT/local/platform.env" \
    "$ROOT/local/gateway.ts"
}

# Always restarted, so it runs the current code, under the hosted Edge Runtime's
# limits: local/function_host.ts runs the function in workers that serve until a
# limit (EDGE_RUNTIME_WALL_CLOCK_MS, EDGE_RUNTIME_CPU_TIME_MS, EDGE_RUNTIME_MEMORY_MB
# and EDGE_RUNTIME_REQUEST_IDLE_TIMEOUT_MS from the caller; the paid plan's values
# when unset; see local/README.md). The function's environment is what the edge
# runtime injects plus HLF_DYNAMICS_* from the caller, nothing else. --no-lock keeps
# the stack from writing a lockfile into supabase/functions. The host runs with
# --allow-all (Deno reads another process's /proc only so); each worker with the
# permissions the function had before (net, env, read).
start_function() {
  stop_bg function function_host.ts >/dev/null
  [ -f "$FUNCTION_ENTRY" ] || fail "function entry point $FUNCTION_ENTRY does not exist"
  say "starting function nightly-scheduler on 127.0.0.1:$FN_PORT" \
    "(limits: wall clock ${EDGE_RUNTIME_WALL_CLOCK_MS:-400000} ms, CPU ${EDGE_RUNTIME_CPU_TIME_MS:-2000} ms," \
    "memory ${EDGE_RUNTIME_MEMORY_MB:-256} MB)"
  local passthrough=()
  while IFS= read -r var; do passthrough+=("$var=${!var}"); done \
    < <(compgen -e | grep -E '^(HLF_DYNAMICS_|EDGE_RUNTIME_)' || true)
  start_bg function env -i PATH="$PATH" HOME="${HOME:-/root}" DENO_CERT="$DENO_CERT" NO_COLOR=1 \
    ${DENO_DIR:+DENO_DIR="$DENO_DIR"} PORT="$FN_PORT" SUPABASE_URL="$API_URL" \
    SUPABASE_ANON_KEY="$ANON_KEY" SUPABASE_SERVICE_ROLE_KEY="$SERVICE_ROLE_KEY" \
    SUPABASE_DB_URL="$DB_URL" SCHEDULER_ENVIRONMENT=local "${passthrough[@]}" \
    "$DENO" run --no-lock --allow-all \
    "$ROOT/local/function_host.ts" "$FUNCTION_ENTRY"
}

wait_worker() {
  local i
  for i in $(seq 1 60); do
    running_pid pg_net_worker pg_net_worker.ts >/dev/null || break
    [ "$(psql_db -At -c "select count(*) from pg_stat_activity
      where application_name = 'pg_net 0.20.0'")" -gt 0 ] && return 0
    sleep 0.5
  done
  fail "pg_net worker did not connect to PostgreSQL" "$LOGS/pg_net_worker.log"
}

# The demo Dynamics portal (local/demo_dataverse.ts, the fake the tests use):
# started by `up --demo-portal`, which then points the function's HLF_DYNAMICS_*
# at it from the .local/demo_dataverse.env it writes.
start_demo_portal() {
  if ! running_pid demo_dataverse demo_dataverse.ts >/dev/null; then
    say "starting the demo Dynamics portal on 127.0.0.1:$DEMO_PORTAL_PORT"
    rm -f "$LOCAL/demo_dataverse.env"
    start_bg demo_dataverse "$DENO" run --allow-net=127.0.0.1 --allow-read \
      --allow-write="$LOCAL" --allow-env "$ROOT/local/demo_dataverse.ts"
  fi
  local i
  for i in $(seq 1 100); do
    [ -s "$LOCAL/demo_dataverse.env" ] && break
    sleep 0.1
  done
  [ -s "$LOCAL/demo_dataverse.env" ] ||
    fail "the demo portal did not start" "$LOGS/demo_dataverse.log"
  set -a
  # shellcheck disable=SC1091
  . "$LOCAL/demo_dataverse.env"
  set +a
}
