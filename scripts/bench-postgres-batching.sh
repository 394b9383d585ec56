#!/usr/bin/env bash
# The PostgreSQL engine against the simplest PostgreSQL-backed design, in one run on one local
# cluster with PostgreSQL's default durability (release build): pgbench with 16 clients inserting
# one row per transaction (`INSERT … ON CONFLICT DO NOTHING` into a (device_id text, instant
# bigint, count bigint) table keyed on both), then this server with `device-readings bench`:
# batches of 1 and of 100 over 16 connections, fresh batches of 1000 over 8; then the same load
# over two instances at batch 100; and bytes on disk per reading (tables and indexes). Beside the
# batch-1 rounds, the same server on its memory engine, as the ceiling of the HTTP path here; after
# them, the database alone inserting 1M rows shaped like readings in one statement, as the ceiling
# of any PostgreSQL-backed design here.
# ROUNDS alternations of the pgbench and batch-1 runs give medians.
# usage: [BIN=path] scripts/bench-postgres-batching.sh [ROUNDS] [BATCH_WINDOW]   e.g. scripts/bench-postgres-batching.sh 3 0s
#   (BIN: another build to measure, such as one from before batching, with BATCH_WINDOW "")
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${POSTGRES_TEST_URL:-}" ]; then PG_DURABLE=1 exec scripts/with-postgres.sh "$0" "$@"; fi
source scripts/lib.sh
ROUNDS=${1:-3}; WINDOW=${2-0s}
BIN=${BIN:-$(release_binary)}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
URL=$POSTGRES_TEST_URL
psql -q "$URL" -c "DROP TABLE IF EXISTS naive; CREATE TABLE naive (device_id text, instant bigint, count bigint, PRIMARY KEY (device_id, instant))"
script=$(mktemp /tmp/naive.XXXXXX.sql)
cat > "$script" <<'SQL'
\set d random(1, 1000)
\set t random(1, 1000000000000000)
INSERT INTO naive VALUES ('dev-' || :d, :t, 1) ON CONFLICT DO NOTHING;
SQL
pids=()
cleanup() { for p in "${pids[@]}"; do stop_pid "$p"; done; rm -f "$script"; }
trap cleanup EXIT
serve() { # port
  # WINDOW empty: no --postgres-batch-window (for a build from before it, given as BIN=…).
  $BIN serve --port "$1" --postgres-url "$URL" ${WINDOW:+--postgres-batch-window "$WINDOW"} --log-level warning > /dev/null 2>&1 & pids+=($!)
  until curl -sf "http://127.0.0.1:$1/ready" > /dev/null; do sleep 0.1; done
}
field() { python3 -c "import json,sys; d=[json.loads(l) for l in sys.stdin if l.startswith('{')][-1]; assert d['verified'], 'verification failed'; print($1)"; }
p1=$(pick_port 18100 400); p2=$(pick_port 18600 400); pm=$(pick_port 19100 400)
serve "$p1"; serve "$p2"
# The same server on its memory engine: the ceiling of the HTTP path and the load generator here.
$BIN serve --port "$pm" --log-level warning > /dev/null 2>&1 & pids+=($!)
until curl -sf "http://127.0.0.1:$pm/ready" > /dev/null; do sleep 0.1; done
for round in $(seq "$ROUNDS"); do
  naive=$("$PGBIN/pgbench" -n -c 16 -j 2 -T 6 -f "$script" "$URL" 2>/dev/null | awk '/^tps/ {print int($3)}')
  one=$($BIN bench --url "http://127.0.0.1:$p1" --devices 1000 --readings 60 --batch 1 --concurrency 16 --id-prefix "b1-$round-" 2>/dev/null \
    | field 'int(d["readings_per_second"]), d["latency_ms"]["p99"]')
  memory=$($BIN bench --url "http://127.0.0.1:$pm" --devices 1000 --readings 60 --batch 1 --concurrency 16 --id-prefix m1-$round- 2>/dev/null \
    | field 'int(d["readings_per_second"])')
  echo "round $round: pgbench $naive inserts/s; batch 1: ${one% *} readings/s, p99 ${one#* } ms; memory engine batch 1: $memory readings/s"
  echo "$naive ${one% *} ${one#* } $memory" >> /tmp/bench-pg-rounds.$$
done
hundred=$($BIN bench --url "http://127.0.0.1:$p1" --devices 1000 --readings 2000 --batch 100 --concurrency 16 --id-prefix b100- 2>/dev/null \
  | field 'int(d["readings_per_second"])')
fresh=$($BIN bench --url "http://127.0.0.1:$p1" --devices 1000 --readings 5000 --batch 1000 --concurrency 8 --id-prefix b1000- 2>/dev/null \
  | field 'int(d["readings_per_second"])')
$BIN bench --url "http://127.0.0.1:$p1" --devices 500 --readings 2000 --batch 100 --concurrency 8 --id-prefix twoa- 2>/dev/null > /tmp/bench-pg-two-a.$$ &
a=$!
$BIN bench --url "http://127.0.0.1:$p2" --devices 500 --readings 2000 --batch 100 --concurrency 8 --id-prefix twob- 2>/dev/null > /tmp/bench-pg-two-b.$$
wait $a
two=$(python3 -c "print(int($(field 'd["readings_per_second"]' < /tmp/bench-pg-two-a.$$) + $(field 'd["readings_per_second"]' < /tmp/bench-pg-two-b.$$)))")
bytes=$(psql -qtA "$URL" -c "SELECT (pg_total_relation_size('readings') + pg_total_relation_size('devices')) / GREATEST(1, (SELECT count(*) FROM readings))")
# The database's own ceiling for such rows here: 1M rows (1,000 devices × 1,000 instants, each
# device's in time order) into a table shaped like readings, by one INSERT … SELECT, no client.
ceiling=$(psql -qtA "$URL" <<'SQL' | tail -1
CREATE TABLE ceiling (device_key integer NOT NULL, small_count integer, large_count bigint, instant bigint NOT NULL,
  PRIMARY KEY (device_key, instant) WITH (fillfactor = 100));
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
INSERT INTO ceiling SELECT d, 1, NULL, k FROM generate_series(1, 1000) d, generate_series(1, 1000) k ORDER BY d, k;
SELECT (1000000 / extract(epoch FROM clock_timestamp() - t))::bigint FROM t0;
SQL
)
psql -q "$URL" -c "DROP TABLE ceiling"
naive_bytes=$(psql -qtA "$URL" -c "SELECT pg_total_relation_size('naive') / GREATEST(1, (SELECT count(*) FROM naive))")
python3 - "$hundred" "$fresh" "$two" "$bytes" "$naive_bytes" "$ceiling" /tmp/bench-pg-rounds.$$ <<'PY'
import sys, statistics
hundred, fresh, two, nbytes, naive_bytes, ceiling = map(int, sys.argv[1:7])
rows = [list(map(float, l.split())) for l in open(sys.argv[7])]
naive = statistics.median(r[0] for r in rows)
one = statistics.median(r[1] for r in rows)
p99 = statistics.median(r[2] for r in rows)
print(f"pgbench naive single-row inserts: {naive:,.0f}/s (median of {len(rows)})")
memory = statistics.median(r[3] for r in rows)
print(f"batch 1:    {one:,.0f} readings/s = {one / naive:.2f}x naive, p99 {p99:.1f} ms (medians)")
print(f"ceiling beside it: the memory engine at batch 1, {memory:,.0f} readings/s = {memory / naive:.2f}x naive")
print(f"batch 100:  {hundred:,} readings/s = {hundred / naive:.1f}x naive")
print(f"batch 1000 fresh: {fresh:,} readings/s = {fresh / naive:.1f}x naive")
print(f"ceiling beside them: the database alone inserting 1M such rows in one statement, {ceiling:,} rows/s = {ceiling / naive:.1f}x naive")
print(f"two instances, batch 100: {two:,} readings/s ({two / hundred:.2f}x one instance)")
print(f"bytes on disk per reading: {nbytes} (tables + indexes); naive table: {naive_bytes}")
PY
rm -f /tmp/bench-pg-rounds.$$ /tmp/bench-pg-two-a.$$ /tmp/bench-pg-two-b.$$
