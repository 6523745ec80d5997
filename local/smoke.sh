#!/usr/bin/env bash
# End-to-end check of a running local stack (LOCAL ONLY): pg_net reaches the
# function through the gateway, pg_cron runs a job, Vault encrypts and refuses
# anon. Takes up to ~70 s (waits for the next whole minute for pg_cron).
#   bash local/smoke.sh
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/platform.env"
DB_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
q() { PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" "$DB_URL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
ok() { echo "ok   $*"; }
die() { echo "FAIL $*" >&2 && exit 1; }

# pg_net: one POST, answered by the function (any HTTP status) through the gateway.
id=$(q -c "select net.http_post(url := 'http://127.0.0.1:$API_PORT/functions/v1/nightly-scheduler',
  body := '{}'::jsonb, headers := jsonb_build_object('Content-Type', 'application/json'),
  timeout_milliseconds := 5000)")
for _ in $(seq 1 50); do
  status=$(q -c "select coalesce(status_code::text, 'error: ' || error_msg) from net._http_response where id = $id")
  [ -n "$status" ] && break
  sleep 0.2
done
case "$status" in [1-5][0-9][0-9]) ok "pg_net request $id answered with HTTP $status" ;; *) die "pg_net request $id: ${status:-no response}" ;; esac
q -c "select net.http_post('http://127.0.0.1:1', headers := '{\"Content-Type\": \"text/plain\"}')" 2>/dev/null &&
  die "pg_net accepted a non-JSON Content-Type"
ok "pg_net rejects a Content-Type other than application/json"

# Vault: round trip, ciphertext at rest, update keeps unspecified fields, anon refused.
sid=$(q -c "select vault.create_secret('smoke-value', 'local_smoke_' || gen_random_uuid(), 'd')")
q -c "select vault.update_secret('$sid', 'smoke-value-2')" >/dev/null
row=$(q -c "select decrypted_secret || '|' || description || '|' || (secret <> decrypted_secret)
  from vault.decrypted_secrets where id = '$sid'")
q -c "delete from vault.secrets where id = '$sid'"
[ "$row" = "smoke-value-2|d|true" ] || die "vault round trip gave '$row'"
ok "vault create/update/decrypted_secrets"
for role in anon authenticated; do
  q -c "set role $role; select count(*) from vault.decrypted_secrets" 2>/dev/null &&
    die "$role can read vault.decrypted_secrets"
done
[ "$(q -c "set role service_role; select count(*) >= 0 from vault.decrypted_secrets")" = t ] ||
  die "service_role cannot read vault.decrypted_secrets"
ok "vault readable by service_role only (anon, authenticated refused)"

# pg_cron: a job every minute must run once; then it is removed.
q -c "create extension if not exists pg_cron with schema pg_catalog"
job=$(q -c "select cron.schedule('local-smoke', '* * * * *', 'select 1')")
unschedule() { q -c "select cron.unschedule('local-smoke')" >/dev/null 2>&1 || true; }
trap unschedule EXIT
for _ in $(seq 1 75); do
  # pg_cron records the run as 'running' first: wait for its end.
  ran=$(q -c "select status from cron.job_run_details where jobid = $job order by runid desc limit 1")
  case "$ran" in succeeded | failed) break ;; esac
  sleep 1
done
[ "$ran" = succeeded ] || die "pg_cron job did not run (status '${ran:-none}')"
ok "pg_cron ran a '* * * * *' job"
echo "smoke test passed"
