#!/usr/bin/env bash
# Bytes on disk per reading on the PostgreSQL engine (readings and devices, tables and indexes,
# after VACUUM), for three arrival shapes, each into a database of its own: requests of 1,000
# readings of one device (a backfill), of 100, and of 1 (every request a reading of another
# device: the devices' readings interleave on arrival, the worst case for the primary key); and
# each again after `REINDEX INDEX CONCURRENTLY readings_pkey`, which packs the index's pages full.
# usage: [BIN=path] scripts/measure-postgres-size.sh [DEVICES] [READINGS_PER_DEVICE]   e.g. 1000 300
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${POSTGRES_TEST_URL:-}" ]; then exec scripts/with-postgres.sh "$0" "$@"; fi
source scripts/lib.sh
DEVICES=${1:-1000}; PER=${2:-300}
BIN=${BIN:-$(release_binary)}
pid=""
trap '[ -n "$pid" ] && stop_pid "$pid"' EXIT
for batch in 1000 100 1; do
  db="size_$batch"
  psql -q "$POSTGRES_TEST_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  url="${POSTGRES_TEST_URL%/*}/$db"
  port=$(pick_port 19600 300)
  $BIN serve --port "$port" --postgres-url "$url" --log-level warning > /dev/null 2>&1 & pid=$!
  until curl -sf "http://127.0.0.1:$port/ready" > /dev/null; do sleep 0.1; done
  concurrency=16; [ "$batch" = 1000 ] && concurrency=8
  $BIN bench --url "http://127.0.0.1:$port" --devices "$DEVICES" --readings "$PER" --batch "$batch" --concurrency "$concurrency" \
    --id-prefix "size-" > /dev/null 2>&1
  stop_pid "$pid"; pid=""
  psql -q "$url" -c "VACUUM ANALYZE"
  for when in "" " after REINDEX"; do
    [ -n "$when" ] && psql -q "$url" -c "REINDEX INDEX CONCURRENTLY readings_pkey"
    psql -qtA -F ' ' "$url" -c "
      SELECT count(*), pg_relation_size('readings'), pg_indexes_size('readings'), pg_total_relation_size('devices')
      FROM readings" | while read -r n heap index devices; do
        python3 -c "
n=$n; print(f'requests of $batch$when: {n:,} readings, heap {$heap/n:.1f} B + primary key {$index/n:.1f} B + devices {$devices/n:.1f} B = {($heap+$index+$devices)/n:.1f} B per reading')"
      done
  done
done
