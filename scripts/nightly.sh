#!/usr/bin/env bash
# The main job on the local stack: installs what is missing, starts the stack
# (Postgres + pg_cron, PostgREST, pg_net and Vault stand-ins, gateway, function),
# seeds a demo roster, then runs every registered nightly job through the path
# pg_cron uses and prints the resulting scheduler_execution_log rows, and last
# what one demo coordinator sees (certification counts by status, over HTTP).
# The stack stays up afterwards; stop it with `bash local/stack.sh down`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$ROOT/tools/node_modules/.bin:$PATH"
export DENO_CERT=/etc/ssl/certs/ca-certificates.crt RUST_BACKTRACE=0
cd "$ROOT"

bash scripts/install.sh

# HLF's Dynamics portal is stood in for by local/demo_dataverse.ts, and the
# function is started with HLF_DYNAMICS_* pointing at it, so the sync runs for real.
mkdir -p .local/logs .local/run
if ! { pid=$(cat .local/run/demo_dataverse.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }; then
  echo "==> starting the demo Dynamics portal (local/demo_dataverse.ts) on 127.0.0.1:54350"
  rm -f .local/demo_dataverse.env
  setsid tools/node_modules/deno/deno run --allow-net=127.0.0.1 --allow-read --allow-write=.local \
    --allow-env local/demo_dataverse.ts >>.local/logs/demo_dataverse.log 2>&1 </dev/null &
  echo $! >.local/run/demo_dataverse.pid
fi
for _ in $(seq 1 100); do [ -s .local/demo_dataverse.env ] && break; sleep 0.1; done
[ -s .local/demo_dataverse.env ] || { echo "error: the demo portal did not start; see .local/logs/demo_dataverse.log" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. .local/demo_dataverse.env
set +a
bash local/stack.sh up
if [ -f local/seed_roster.sql ]; then
  echo "==> seeding the demo roster (only when absent)"
  /usr/lib/postgresql/15/bin/psql "postgresql://postgres@127.0.0.1:54322/postgres" -X -q \
    -v ON_ERROR_STOP=1 -f local/seed_roster.sql
fi
nightly_status=0
deno run --allow-net --allow-read --allow-env --allow-sys scripts/run_nightly.ts || nightly_status=$?
deno run --allow-net --allow-read --allow-env --allow-sys scripts/show_coordinator_view.ts
echo "==> the stack is still up: 'bash local/stack.sh down' stops it"
exit "$nightly_status"
