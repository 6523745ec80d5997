# Sourced by local/stack.sh (LOCAL ONLY): the local secrets and keys
# (.local/stack.env) and the Vault secrets the schedule reads.

random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# Writes a random secret to $1 once; never prints it.
ensure_secret() { [ -s "$1" ] || (umask 077 && random_hex >"$1"); }

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
  # Atomic: tests and the CLI read it while a restart rewrites it.
  write_atomic "$LOCAL/stack.env" <<EOF
API_URL=$API_URL
DB_URL=$DB_URL
ADMIN_DB_URL=$ADMIN_DB_URL
ANON_KEY=$ANON_KEY
SERVICE_ROLE_KEY=$SERVICE_ROLE_KEY
JWT_SECRET=$JWT_SECRET
SCHEDULER_SECRET=$SCHEDULER_SECRET
EOF
}
