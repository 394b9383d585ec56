#!/usr/bin/env bash
# How long the PostgreSQL engine takes to remove the readings of one deleted device in the
# background: a device of N readings (requests of 1,000) is deleted, then the readings table is
# watched until they are gone. Default durability (release build).
# usage: [BIN=path] scripts/bench-purge.sh [READINGS]   e.g. scripts/bench-purge.sh 2000000
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${POSTGRES_TEST_URL:-}" ]; then PG_DURABLE=1 exec scripts/with-postgres.sh "$0" "$@"; fi
source scripts/lib.sh
N=${1:-2000000}
BIN=${BIN:-$(release_binary)}
port=$(pick_port 19900 300)
$BIN serve --port "$port" --postgres-url "$POSTGRES_TEST_URL" --log-level warning > /dev/null 2>&1 & pid=$!
trap 'stop_pid "$pid"' EXIT
until curl -sf "http://127.0.0.1:$port/ready" > /dev/null; do sleep 0.1; done
$BIN bench --url "http://127.0.0.1:$port" --devices 1 --readings "$N" --batch 1000 --concurrency 1 --id-prefix big- > /dev/null 2>&1
t0=$(date +%s.%N)
curl -sf -o /dev/null -w "DELETE answered %{http_code} in %{time_total} s\n" -X DELETE "http://127.0.0.1:$port/devices/big-0"
until [ "$(psql -qtA "$POSTGRES_TEST_URL" -c "SELECT count(*) FROM device_purges")" = 0 ]; do sleep 0.2; done
t1=$(date +%s.%N)
left=$(psql -qtA "$POSTGRES_TEST_URL" -c "SELECT count(*) FROM readings")
python3 -c "print(f'{$N:,} readings purged in {$t1 - $t0:.1f} s ({$N / ($t1 - $t0):,.0f} readings/s); left: $left')"
