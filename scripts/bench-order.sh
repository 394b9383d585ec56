#!/usr/bin/env bash
# Ingest in any arrival order, measured with the project's own load generator (release build):
#   1. in order against --out-of-order 10 and 50 (4 devices × 1,000,000 readings, batches of
#      10,000), alternating, ROUNDS rounds, medians and ratios to in order from the same run;
#      with BASELINE=<binary>, the same in-order run on that build alternates with this one;
#   2. one device's 30,000,000-reading history shuffled, then reversed, in batches of 100,000,
#      while a probe reads 64 other devices one request after another (p50/p99 of those reads).
# Each run starts a fresh memory-engine server on a free loopback port and stops it after.
# Usage: scripts/bench-order.sh [BINARY] [ROUNDS] [HISTORY_READINGS]   (HISTORY_READINGS 0: part 1 only)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/device-readings}
ROUNDS=${2:-3}
HISTORY=${3:-30000000}
PORT=${PORT:-3310}
OUT=$(mktemp -d)
SERVER=
PROBE=
cleanup() {
  [ -n "$PROBE" ] && kill "$PROBE" 2>/dev/null
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
  rm -rf "$OUT"
}
trap cleanup EXIT

start_server() {  # binary
  "$1" serve --port "$PORT" >"$OUT/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=; }
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }

bench() {  # binary, then bench flags; prints readings/s
  start_server "$1"; shift
  "$BIN" bench --url "http://127.0.0.1:$PORT" --return-minimal "$@" 2>/dev/null | tail -1 >"$OUT/last.json"
  stop_server
  python3 -c "import json; d=json.load(open('$OUT/last.json')); assert d['verified'], d; print(d['readings_per_second'])"
}

median() { python3 -c "import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:])))" "$@"; }

declare -A runs
kinds=(in ooo10 ooo50)
[ -n "${BASELINE:-}" ] && kinds=(baseline "${kinds[@]}")
for round in $(seq "$ROUNDS"); do
  for kind in "${kinds[@]}"; do
    flags=(--devices 4 --readings 1000000 --batch 10000 --concurrency 4)
    binary=$BIN
    case $kind in
      baseline) binary=$BASELINE ;;
      ooo10) flags+=(--out-of-order 10) ;;
      ooo50) flags+=(--out-of-order 50) ;;
    esac
    value=$(bench "$binary" "${flags[@]}")
    runs[$kind]="${runs[$kind]:-} $value"
    echo "round $round $kind: $value readings/s" >&2
  done
done
in_median=$(median ${runs[in]})
echo "4 devices x 1,000,000 readings, batches of 10,000 (medians of $ROUNDS alternating rounds):"
for kind in "${kinds[@]}"; do
  m=$(median ${runs[$kind]})
  echo "  $kind: $m readings/s ($(python3 -c "print(round($m / $in_median, 2))") of in order)"
done

[ "$HISTORY" -gt 0 ] || exit 0
for order in shuffled reversed; do
  start_server "$BIN"
  for i in $(seq 0 63); do
    curl -sf -X POST "http://127.0.0.1:$PORT/ingest" -H 'Content-Type: application/json' \
      -d "{\"id\":\"other-$i\",\"readings\":[{\"timestamp\":\"2024-01-01T00:00:00Z\",\"count\":1}]}" >/dev/null
  done
  paths=()
  for i in $(seq 0 63); do paths+=(--path "/devices/other-$i/latest_timestamp"); done
  rm -f "$OUT/done"
  python3 scripts/latency-probe.py --port "$PORT" "${paths[@]}" --until "$OUT/done" >"$OUT/probe.json" &
  PROBE=$!
  "$BIN" bench --url "http://127.0.0.1:$PORT" --return-minimal --devices 1 --readings "$HISTORY" --batch 100000 \
    --concurrency 1 --order "$order" 2>/dev/null | tail -1 >"$OUT/last.json"
  touch "$OUT/done"
  wait "$PROBE"
  PROBE=
  rss=$(grep VmRSS "/proc/$SERVER/status" | awk '{print $2}')
  stop_server
  python3 - "$OUT/last.json" "$OUT/probe.json" "$order" "$rss" <<'PY'
import json, sys
run, probe = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert run["verified"], run
print(f"1 device x {run['readings_per_device']:,} readings {sys.argv[3]}, batches of 100,000: "
      f"{run['readings_per_second']:,.0f} readings/s, {run['bytes_per_reading']} bytes/reading (engine), "
      f"server RSS {int(sys.argv[4]) // 1024} MiB; reads of 64 other devices meanwhile: "
      f"{probe['requests']} requests, p50 {probe['p50_ms']} ms, p99 {probe['p99_ms']} ms, max {probe['max_ms']} ms, "
      f"statuses {probe['statuses']}")
PY
done
