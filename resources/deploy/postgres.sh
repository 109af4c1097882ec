#!/usr/bin/env bash
# Debian's PostgreSQL for the stack: one cluster in $STACK_DIR/postgres with the databases `dagster` (the
# recipe's Dagster instance) and `mlflow` (the tracking server's store). TCP logins need the password in
# DAGSTER_PG_PASSWORD; as root, the server runs as the `postgres` user, which must be able to enter $STACK_DIR.
set -euo pipefail
: "${DAGSTER_PG_PASSWORD:?set DAGSTER_PG_PASSWORD (the password of the database user postgres)}"
stack=${STACK_DIR:?set STACK_DIR (a folder of your own for the stack state, e.g. \$(mktemp -d))}
port=${STACK_PG_PORT:-5432}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
data=$stack/postgres
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
mkdir -p "$stack"
rm -f "$stack/postgres.ready"
if [ ! -s "$data/PG_VERSION" ]; then
  mkdir -p "$data"
  pwfile=$(mktemp "$stack/.pw.XXXXXX")
  trap 'rm -f "$pwfile"' EXIT  # removed however initdb ends
  printf '%s' "$DAGSTER_PG_PASSWORD" > "$pwfile"
  if [ ${#as_pg[@]} -gt 0 ]; then chown postgres "$data" "$pwfile"; fi
  "${as_pg[@]}" "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" -E UTF8 >/dev/null
  rm -f "$pwfile"
  trap - EXIT
fi
(
  export PGPASSWORD=$DAGSTER_PG_PASSWORD
  until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; do sleep 0.3; done
  for db in dagster mlflow; do
    "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1 \
      || "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
  done
  touch "$stack/postgres.ready"
) &
exec "${as_pg[@]}" "$bin/postgres" -D "$data" -p "$port" -k "$data" -c listen_addresses=127.0.0.1
