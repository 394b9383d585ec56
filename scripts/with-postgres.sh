#!/usr/bin/env bash
# Runs a command with POSTGRES_TEST_URL pointing at a throwaway PostgreSQL cluster on loopback,
# created here with initdb and stopped (and deleted) afterwards. When POSTGRES_TEST_URL is already
# set, uses that server. When PostgreSQL is not installed, says so and runs the command without it
# (the PostgreSQL engine's tests are then not run).
# usage: [PG_DURABLE=1] scripts/with-postgres.sh COMMAND [ARGS...]
set -euo pipefail
if [ -n "${POSTGRES_TEST_URL:-}" ]; then exec "$@"; fi
bindir=""
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then bindir=$(pg_config --bindir); fi
[ -n "$bindir" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "*** PostgreSQL is not installed: SKIPPING the PostgreSQL engine tests (apt-get install postgresql to run them) ***" >&2
  exec "$@"
fi
dir=$(mktemp -d /tmp/dr-pg.XXXXXX)
# Tests run without fsync (they test answers, not disks); PG_DURABLE=1 keeps PostgreSQL's default
# durability, for benchmarks.
durability="-c fsync=off"
[ "${PG_DURABLE:-0}" = 1 ] && durability=""
port=$(( 20000 + RANDOM % 20000 ))
as_postgres=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root: the cluster belongs to the postgres user.
  chown postgres "$dir"
  as_postgres=(runuser -u postgres --)
fi
cleanup() {
  "${as_postgres[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"${as_postgres[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
"${as_postgres[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 ${durability} -c max_connections=500" start >/dev/null
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port for the tests" >&2
POSTGRES_TEST_URL="postgres://postgres@127.0.0.1:$port/postgres" "$@"
