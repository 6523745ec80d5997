#!/usr/bin/env bash
# Runs every test, unit and integration, on a fresh machine of this kind:
# installs what is missing, starts the local stack on the tests' own database
# (STACK_PROFILE=test, made afresh; the demo's database is never touched), runs
# the tests, stops that stack, and brings back the demo stack if it was up
# before (the ports are fixed, so only one runs at a time). Runs the Deno tests,
# then the pgTAP database tests. Ends with a plain "N passed, N failed" over both.
#   bash scripts/test.sh            everything
#   bash scripts/test.sh --unit     unit tests only (no stack, no install of PostgreSQL)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$ROOT/tools/node_modules/.bin:$PATH"
# Deno reaches the npm registry through this machine's TLS proxy.
export DENO_CERT=/etc/ssl/certs/ca-certificates.crt NO_COLOR=1 RUST_BACKTRACE=0
cd "$ROOT" || exit 1

targets=(tests/)

# Stops the tests' stack and starts the demo stack again if it ran before, as it ran.
restore_stack() {
  local code=$?
  bash local/stack.sh down
  if [ "${#demo_up[@]}" -gt 0 ]; then
    echo "==> bringing the demo stack back: bash local/stack.sh ${demo_up[*]}"
    STACK_PROFILE=demo bash local/stack.sh "${demo_up[@]}" >/dev/null ||
      { echo "error: the demo stack did not come back: run bash local/stack.sh ${demo_up[*]}" >&2 && code=1; }
  fi
  exit "$code"
}
if [ "${1:-}" = "--unit" ]; then
  targets=(tests/unit/)
  [ -x tools/node_modules/.bin/deno ] || (cd tools && npm install --no-audit --no-fund --loglevel=error)
else
  bash scripts/install.sh || exit 1
  # Captured first: `grep -q` would close the pipe early, and pipefail would count that.
  stack_status=$(bash local/stack.sh status 2>/dev/null || true)
  export STACK_PROFILE=test
  if grep -q "^profile *test" <<<"$stack_status" && grep -q "^postgres *running" <<<"$stack_status"; then
    # Someone keeps the tests' stack up (STACK_PROFILE=test bash local/stack.sh up): use it as it is.
    bash local/stack.sh up || exit 1
  else
    demo_up=()
    if grep -q "^postgres *running" <<<"$stack_status"; then
      demo_up=(up)
      if grep -q "^demo_dataverse *running" <<<"$stack_status"; then demo_up+=(--demo-portal); fi
    fi
    trap restore_stack EXIT
    bash local/stack.sh reset || exit 1
    bash local/stack.sh up || exit 1
  fi
fi

echo "==> deno fmt --check, deno lint"
deno fmt --check --quiet || exit 1
deno lint --quiet || exit 1

# The entry point as `supabase functions deploy` bundles it: with the function's own deno.json.
echo "==> deno check (deploy config)"
deno check --no-lock --config supabase/functions/nightly-scheduler/deno.json \
  supabase/functions/nightly-scheduler/index.ts || exit 1

echo "==> deno test ${targets[*]}"
log=$(mktemp)
deno test --allow-net --allow-read --allow-env --allow-sys --allow-run "${targets[@]}" 2>&1 |
  tee "$log"
status=${PIPESTATUS[0]}
# Deno's own summary is "ok | N passed | N failed (…)"; CI reads the plain form.
summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1)
passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
passed=${passed:-0} failed=${failed:-0}
if [ "$status" -ne 0 ] && [ "$failed" = 0 ]; then
  echo "deno test exited with $status before finishing" >&2
fi

# Database tests (pgTAP), as `supabase test db` runs them: every file under
# supabase/tests/database, each in its own transaction, through pg_prove.
if [ "${1:-}" != "--unit" ]; then
  echo "==> pg_prove supabase/tests/database"
  db_url=$(sed -n 's/^DB_URL=//p' .local/stack.env)
  pg_prove --dbname "$db_url" --ext .sql --recurse --verbose supabase/tests/database/ 2>&1 |
    tee "$log"
  db_status=${PIPESTATUS[0]}
  db_passed=$(grep -cE '^ok [0-9]+' "$log")
  db_failed=$(grep -cE '^not ok [0-9]+' "$log")
  # A file that dies before its plan ends fails without a "not ok" line.
  if [ "$db_status" -ne 0 ] && [ "$db_failed" = 0 ]; then db_failed=1; fi
  passed=$((passed + db_passed)) failed=$((failed + db_failed))
  [ "$db_status" -eq 0 ] || status=1
fi
rm -f "$log"
echo "$passed passed, $failed failed"
exit "$status"
