#!/usr/bin/env bash
# Runs every test, unit and integration, on a fresh machine of this kind:
# installs what is missing, starts the local stack, runs the tests, stops the
# stack (only if this script started it). Ends with a plain "N passed, N failed".
#   bash scripts/test.sh            everything
#   bash scripts/test.sh --unit     unit tests only (no stack, no install of PostgreSQL)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$ROOT/tools/node_modules/.bin:$PATH"
# Deno reaches the npm registry through this machine's TLS proxy.
export DENO_CERT=/etc/ssl/certs/ca-certificates.crt NO_COLOR=1 RUST_BACKTRACE=0
cd "$ROOT" || exit 1

targets=(tests/)
if [ "${1:-}" = "--unit" ]; then
  targets=(tests/unit/)
  [ -x tools/node_modules/.bin/deno ] || (cd tools && npm install --no-audit --no-fund --loglevel=error)
else
  bash scripts/install.sh || exit 1
  # Captured first: `grep -q` would close the pipe early, and pipefail would count that.
  stack_status=$(bash local/stack.sh status 2>/dev/null || true)
  if ! grep -q "^postgres *running" <<<"$stack_status"; then
    trap 'bash local/stack.sh down' EXIT
  fi
  bash local/stack.sh up || exit 1
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
rm -f "$log"
echo "${passed:-0} passed, ${failed:-0} failed"
if [ "$status" -ne 0 ] && [ "${failed:-0}" = 0 ]; then
  echo "deno test exited with $status before finishing" >&2
fi
exit "$status"
