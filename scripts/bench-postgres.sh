#!/usr/bin/env bash
# PostgreSQL engine figures, one run (release build), on a throwaway local cluster:
# readings/s with batches of 1000 through one instance and through two instances on one database
# (device-readings bench, 8 connections per instance, distinct devices), side by side with the
# same number of rows inserted by psql as INSERT ... ON CONFLICT DO NOTHING statements of 1000 rows.
# usage: scripts/bench-postgres.sh [DEVICES] [READINGS_PER_DEVICE]    (default 200 × 5000 = 1M)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${POSTGRES_TEST_URL:-}" ]; then exec scripts/with-postgres.sh "$0" "$@"; fi
DEVICES=${1:-200}; PER=${2:-5000}
[ -x .build/release/device-readings ] || swift build -c release
BIN=.build/release/device-readings
start() { $BIN serve --port "$1" --postgres-url "$POSTGRES_TEST_URL" --log-level warning > /dev/null 2>&1 & pids+=($!); until curl -sf "http://127.0.0.1:$1/ready" > /dev/null; do sleep 0.1; done; }
rate() { python3 -c 'import json,sys; d=[json.loads(l) for l in sys.stdin if l.startswith("{")][-1]; assert d["verified"], "verification failed"; print(d["readings_per_second"])'; }
pids=()
p1=$((18100 + RANDOM % 400)); p2=$((18600 + RANDOM % 400))
start $p1; start $p2
one=$($BIN bench --url http://127.0.0.1:$p1 --devices "$DEVICES" --readings "$PER" --batch 1000 --concurrency 8 --id-prefix one- 2>/dev/null | rate)
$BIN bench --url http://127.0.0.1:$p1 --devices "$DEVICES" --readings "$PER" --batch 1000 --concurrency 8 --id-prefix twoa- 2>/dev/null > /tmp/bench-pg-a.out &
a=$!
$BIN bench --url http://127.0.0.1:$p2 --devices "$DEVICES" --readings "$PER" --batch 1000 --concurrency 8 --id-prefix twob- 2>/dev/null > /tmp/bench-pg-b.out
wait $a
two=$(python3 -c "print($(rate < /tmp/bench-pg-a.out) + $(rate < /tmp/bench-pg-b.out))")
for pid in "${pids[@]}"; do stop_pid "$pid"; done
# The database's own cost for the same rows: INSERT ... ON CONFLICT DO NOTHING, 1000 rows each.
sql=$(mktemp /tmp/bench-pg.XXXXXX.sql)
python3 - "$DEVICES" "$PER" > "$sql" <<'PY'
import sys
devices, per = int(sys.argv[1]), int(sys.argv[2])
base = 1704067200 * 10**9
for d in range(devices):
    for start in range(0, per, 1000):
        rows = ",".join(f"('psql-{d}',{base + (start + k) * 60 * 10**9},{(start + k) % 51})" for k in range(min(1000, per - start)))
        print(f"INSERT INTO readings (device_id, instant, count) VALUES {rows} ON CONFLICT DO NOTHING;")
PY
t0=$(date +%s.%N)
psql -q "$POSTGRES_TEST_URL" -v ON_ERROR_STOP=1 -f "$sql" > /dev/null
t1=$(date +%s.%N)
rm -f "$sql"
python3 -c "
n = $DEVICES * $PER
print(f'readings={n} batches of 1000')
print(f'one instance            {float($one):>12,.0f} readings/s')
print(f'two instances (sum)     {float($two):>12,.0f} readings/s')
print(f'psql INSERT ON CONFLICT {n / ($t1 - $t0):>12,.0f} readings/s (one connection, no per-reading answers)')"
