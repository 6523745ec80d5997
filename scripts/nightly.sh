#!/usr/bin/env bash
# The main job on the local stack: installs what is missing, starts the stack
# (Postgres + pg_cron, PostgREST, pg_net and Vault stand-ins, gateway, function),
# seeds a demo roster, then runs every registered nightly job through the path
# pg_cron uses and prints the resulting scheduler_execution_log rows.
# The stack stays up afterwards; stop it with `bash local/stack.sh down`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$ROOT/tools/node_modules/.bin:$PATH"
export DENO_CERT=/etc/ssl/certs/ca-certificates.crt RUST_BACKTRACE=0
cd "$ROOT"
# shellcheck disable=SC1091
. local/platform.env

bash scripts/install.sh

# HLF's Dynamics portal is stood in for by local/demo_dataverse.ts; --demo-portal
# starts it and points the function's HLF_DYNAMICS_* at it, so the sync runs for real.
bash local/stack.sh up --demo-portal
if [ -f local/seed_roster.sql ]; then
  echo "==> seeding the demo roster (only when absent)"
  "$PGBIN/psql" "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" -X -q \
    -v ON_ERROR_STOP=1 -f local/seed_roster.sql
fi
deno run --allow-net --allow-read --allow-env --allow-sys scripts/run_nightly.ts
echo "==> the stack is still up: 'bash local/stack.sh down' stops it"
