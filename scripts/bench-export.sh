#!/usr/bin/env bash
# Export of one large device (release build, memory engine): load READINGS readings of one
# device with the project's load generator, then GET /devices/{id}/export (CSV, then NDJSON) to
# /dev/null ROUNDS times each, alternating, sampling the server's RSS every 10 ms during each.
# Prints readings/s per round and the medians, and the largest RSS growth over the RSS before
# the export (the issue's goal: ≥ 5M readings/s for CSV, growth ≤ 16 MiB).
# usage: scripts/bench-export.sh [READINGS] [ROUNDS]   e.g. scripts/bench-export.sh 30000000 3
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
READINGS=${1:-30000000}; ROUNDS=${2:-3}
BIN=$(release_binary)
port=$(pick_port)
$BIN serve --port "$port" --log-level warning > /dev/null 2>&1 & pid=$!
trap 'stop_pid $pid' EXIT
wait_port "$port"
$BIN bench --url "http://127.0.0.1:$port" --devices 1 --readings "$READINGS" --batch 10000 --concurrency 1 \
  --id-prefix export- | grep -E "readings/s|verified|mismatch" || true
id=$(curl -s "http://127.0.0.1:$port/devices?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"][0]["id"])')
stored=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "readings_stored" {printf "%d", $2}')
echo "device $id: $stored readings, server RSS $(( $(rss_kb $pid) / 1024 )) MiB"
results=()
for round in $(seq "$ROUNDS"); do
  for format in csv ndjson; do
    before=$(rss_kb $pid)
    peak=$before
    curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$port/devices/$id/export?format=$format" \
      > /tmp/bench-export.curl & curl_pid=$!
    while kill -0 $curl_pid 2>/dev/null; do
      now=$(rss_kb $pid); [ "$now" -gt "$peak" ] && peak=$now
      sleep 0.01
    done
    read -r seconds bytes < /tmp/bench-export.curl
    rate=$(python3 -c "print(int($stored / $seconds))")
    echo "round $round $format: $seconds s, $bytes bytes, $rate readings/s, RSS growth $(( (peak - before) / 1024 )) MiB"
    results+=("$format $rate $(( peak - before ))")
  done
done
printf '%s\n' "${results[@]}" | python3 -c '
import sys, statistics
rows = [line.split() for line in sys.stdin]
for fmt in ("csv", "ndjson"):
    rates = [int(r[1]) for r in rows if r[0] == fmt]
    growth = max(int(r[2]) for r in rows if r[0] == fmt)
    print(f"{fmt}: median {statistics.median(rates):,.0f} readings/s over {len(rates)} rounds, largest RSS growth {growth / 1024:.1f} MiB")'
