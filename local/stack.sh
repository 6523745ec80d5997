#!/usr/bin/env bash
# Docker-free local Supabase stack (LOCAL ONLY; nothing here reaches production).
#   bash local/stack.sh up [--demo-portal]  start or refresh everything; returns once all answer
#                                           (--demo-portal: also the demo Dynamics portal,
#                                           with the function's HLF_DYNAMICS_* pointing at it)
#   bash local/stack.sh down     stop what `up` started; keep the data
#   bash local/stack.sh restart function   restart the function (its host and workers)
#                                with the current environment (EDGE_RUNTIME_*, HLF_DYNAMICS_*)
#   bash local/stack.sh status   show what runs
#   bash local/stack.sh reset    down, then delete the database and local secrets
# Ports and paths: local/platform.env. While up, .local/stack.env holds URLs and keys.
# FUNCTION_ENTRY=/path/to/x.ts overrides the function entry point (for testing).
set -euo pipefail

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib
# shellcheck source=lib/paths.sh
. "$LIB/paths.sh"    # where everything is (ports from local/platform.env)
# shellcheck source=lib/process.sh
. "$LIB/process.sh"  # messages, pid files, detached starts and stops, HTTP waits
# shellcheck source=lib/cluster.sh
. "$LIB/cluster.sh"  # PostgreSQL: initdb, config, start/stop, bootstrap + migrations
# shellcheck source=lib/seed.sh
. "$LIB/seed.sh"     # keys, .local/stack.env, Vault secrets
# shellcheck source=lib/services.sh
. "$LIB/services.sh" # PostgREST, pg_net worker, gateway, function, demo portal
# Deno finds deno.json (import map, node_modules) from the working directory.
cd "$ROOT"

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
  if [ "${1:-}" = "--demo-portal" ]; then start_demo_portal; else stop_bg demo_dataverse demo_dataverse.ts; fi
  start_function
  wait_http PostgREST /rest/v1/ "$LOGS/postgrest.log" gateway:gateway.ts "postgrest:$POSTGREST"
  wait_http "function nightly-scheduler" /functions/v1/nightly-scheduler "$LOGS/function.log" \
    gateway:gateway.ts "function:function_host.ts"
  wait_worker
  say "stack is up: API $API_URL, DB $DB_URL (keys and secrets in .local/stack.env)"
}

cmd_down() {
  stop_bg demo_dataverse demo_dataverse.ts
  stop_bg function function_host.ts
  stop_bg gateway gateway.ts
  stop_bg pg_net_worker pg_net_worker.ts
  stop_bg postgrest "$POSTGREST"
  stop_postgres
  rm -f "$LOCAL/stack.env"
}

cmd_status() {
  local name match pid
  if [ -f "$PGDATA/PG_VERSION" ] && pg_running; then
    echo "postgres       running  127.0.0.1:$PG_PORT"
  else
    echo "postgres       stopped"
  fi
  for name in postgrest pg_net_worker gateway function demo_dataverse; do
    case $name in
      postgrest) match=$POSTGREST ;;
      function) match=function_host.ts ;;
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

cmd_restart() {
  [ "${1:-}" = "function" ] || { echo "usage: bash local/stack.sh restart function" >&2 && exit 2; }
  [ -f "$LOCAL/stack.env" ] || fail "the stack is not up; run: bash local/stack.sh up"
  mkdir -p "$LOGS" "$RUN"
  write_env
  start_function
  wait_http "function nightly-scheduler" /functions/v1/nightly-scheduler "$LOGS/function.log" \
    gateway:gateway.ts "function:function_host.ts"
}

cmd_reset() {
  cmd_down
  rm -rf "$PGDATA" "$LOCAL/jwt_secret" "$LOCAL/scheduler_secret" "$LOCAL/api_keys.env" \
    "$LOCAL/postgrest.conf"
  say "removed .local/pgdata and the local secrets"
}

case "${1:-}" in
  up) cmd_up "${2:-}" ;;
  down) if [ "${2:-}" = "--purge" ]; then cmd_reset; else cmd_down; fi ;;
  status) cmd_status ;;
  restart) cmd_restart "${2:-}" ;;
  reset) cmd_reset ;;
  *) echo "usage: bash local/stack.sh up [--demo-portal]|down [--purge]|restart function|status|reset" >&2 && exit 2 ;;
esac
