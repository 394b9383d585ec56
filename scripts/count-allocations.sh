#!/usr/bin/env bash
# Heap allocations per request on the real server (release build), counted by the kernel: a
# uprobe on libc's malloc records every call the server process makes while wrk drives it, and
# the server's own /metrics says how many requests it answered in the same window.
#   get:    GET /devices/{id}/latest_timestamp
#   ingest: POST /ingest, one new reading per request
# Needs perf and root (uprobes). usage: scripts/count-allocations.sh [get|ingest] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
MODE=${1:-get}
SECS=${2:-3}
command -v perf > /dev/null || { echo "perf is missing: apt-get install -y linux-perf" >&2; exit 2; }
command -v wrk > /dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
[ -x .build/release/device-readings ] || swift build -c release
LIBC=$(ldd .build/release/device-readings | awk '/libc.so.6/ {print $3}')
perf probe -q -x "$LIBC" malloc 2> /dev/null || true
OUT=$(mktemp -d /tmp/count-allocations.XXXXXX)
port=$((18900 + RANDOM % 800))
.build/release/device-readings serve --port $port --log-level warning > /dev/null 2>&1 & pid=$!
trap 'kill $pid 2> /dev/null || true; rm -rf "$OUT"' EXIT
wait_port $port
curl -sf -o /dev/null -H 'Content-Type: application/json' \
  -d '{"id":"sensor-1","readings":[{"timestamp":"2024-01-01T00:00:00Z","count":1}]}' http://127.0.0.1:$port/ingest
cat > "$OUT/ingest.lua" <<'LUA'
-- One new reading per request: each connection's own device, one second apart.
local n = 0
setup = function(thread) thread:set("id", tostring(math.random(1, 1e9))) end
request = function()
  n = n + 1
  local body = string.format('{"id":"dev-%s","readings":[{"timestamp":"%s","count":1}]}', id, os.date("!%Y-%m-%dT%H:%M:%SZ", 1e9 + n))
  return wrk.format("POST", "/ingest", {["Content-Type"] = "application/json"}, body)
end
LUA
case $MODE in
  get) args=(http://127.0.0.1:$port/devices/sensor-1/latest_timestamp) ;;
  ingest) args=(-s "$OUT/ingest.lua" http://127.0.0.1:$port/ingest) ;;
  *) echo "usage: $0 [get|ingest] [SECONDS]" >&2; exit 2 ;;
esac
answered() { curl -sf http://127.0.0.1:$port/metrics | awk '/^http_requests_total/ {s += $NF} END {print s}'; }
wrk -t1 -c16 -d$((SECS + 4))s "${args[@]}" > "$OUT/wrk.txt" & wrk_pid=$!
sleep 2
before=$(answered)
perf stat -e probe_libc:malloc -p $pid -x, -o "$OUT/stat.csv" -- sleep "$SECS"
after=$(answered)
wait $wrk_pid
mallocs=$(awk -F, '/probe_libc:malloc/ {print $1}' "$OUT/stat.csv")
# The two scrapes of /metrics are answered inside the window too.
curl -sf http://127.0.0.1:$port/metrics | grep "^http_requests_total" | grep -v " 0$" >&2
python3 -c "r = $after - $before - 1; print(f'$MODE: {$mallocs} mallocs for {r} requests: {$mallocs / r:.1f} per request')"
