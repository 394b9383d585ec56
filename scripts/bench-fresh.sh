#!/usr/bin/env bash
# Ingest with data that is never replayed: the project's own load generator (`device-readings
# bench`, every request built just before it is sent, every reading new) against this server
# (release build) and, when given, a peer server, alternating in one run, ROUNDS rounds of
# SECONDS each; prints every run (verified), then the medians and their ratio.
# usage: ROUNDS=3 scripts/bench-fresh.sh SECONDS BATCH [PEER_JS]
#   PEER_JS: a Node server taking its port as first argument (the prototype's design, for one).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
SECS=${1:-8}; BATCH=${2:-1000}; PEER=${3:-}
ROUNDS=${ROUNDS:-3}
BIN=.build/release/device-readings
[ -x $BIN ] || swift build -c release
OUT=$(mktemp -d /tmp/bench-fresh.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
servers="ours"; [ -n "$PEER" ] && servers="peer ours"
for round in $(seq "$ROUNDS"); do
  for server in $servers; do
    port=$((19700 + RANDOM % 200))
    if [ $server = ours ]; then
      $BIN serve --port $port --log-level warning > /dev/null 2>&1 & pid=$!
    else
      node "$PEER" $port > /dev/null 2>&1 & pid=$!
    fi
    wait_port $port
    # Far more readings than a run can send: the run ends by --duration, every reading new.
    $BIN bench --url http://127.0.0.1:$port --devices 1000 --readings 1000000 --batch "$BATCH" \
      --concurrency 8 --duration "$SECS" --seed $round > "$OUT/run.txt" 2>&1 || { echo "$server: bench failed" >&2; tail -5 "$OUT/run.txt" >&2; }
    rate=$(grep -o '"readings_per_second":[0-9.]*' "$OUT/run.txt" | cut -d: -f2)
    echo "$server batch=$BATCH readings/s=${rate%.*}" | tee -a "$OUT/all.txt"
    kill $pid; wait $pid 2>/dev/null || true
  done
done
python3 - "$OUT/all.txt" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    rows.setdefault(line.split()[0], []).append(int(re.search(r"readings/s=(\d+)", line).group(1)))
med = {k: statistics.median(v) for k, v in rows.items()}
for k, v in med.items():
    print(f"median {k}: {v:,.0f} readings/s")
if "peer" in med:
    print(f"ours/peer: {med['ours'] / med['peer']:.2f}x")
PY
