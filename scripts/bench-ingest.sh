#!/usr/bin/env bash
# Side-by-side ingest benchmark: this server (release build) and the prototype's design
# (../shared/bench/peers/seed-node), same workload, same run, one after the other.
# usage: scripts/bench-ingest.sh [WORKLOAD] [SECONDS] [BATCH...]   e.g. scripts/bench-ingest.sh regular 10 1 100 1000
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-../shared/bench}
source "$BENCH/lib.sh"
WORKLOAD=${1:-regular}; SECS=${2:-10}; shift 2 || true
BATCHES=${*:-1 100 1000}
[ -x .build/release/device-readings ] || swift build -c release
summary() { python3 scripts/bench-summary.py "$1"; }
for batch in $BATCHES; do
  for server in seed-node ours; do
    port=$((18100 + RANDOM % 800))
    if [ $server = ours ]; then
      .build/release/device-readings serve --port $port --log-level warning > /dev/null 2>&1 & pid=$!
    else
      node "$BENCH/peers/seed-node/server.js" $port > /dev/null 2>&1 & pid=$!
    fi
    wait_port $port
    SERVER_PIDS=$pid TAG=$server "$BENCH/run-ingest.sh" http://127.0.0.1:$port "$WORKLOAD" "$batch" "$SECS" > /tmp/bench-ingest-$server.out 2>&1 || true
    summary $server < /tmp/bench-ingest-$server.out
    stop_pid $pid
  done
done
