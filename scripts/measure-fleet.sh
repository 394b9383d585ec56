#!/usr/bin/env bash
# A fleet of many devices with a few readings each (release build, memory engine): RSS per device
# above idle, the engine's own bytes per device, and how long GET /devices pages take (median of
# 21 requests each: first page, a page deep in the id order, a prefix page, silent devices).
# usage: scripts/measure-fleet.sh [DEVICES] [READINGS_PER_DEVICE]   e.g. scripts/measure-fleet.sh 1000000 3
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${1:-1000000}
PER=${2:-3}
[ -x .build/release/device-readings ] || swift build -c release
port=$((19100 + RANDOM % 800))
.build/release/device-readings serve --port "$port" --log-level warning > /dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/health" > /dev/null; do sleep 0.1; done
rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$pid/status"; }
idle=$(rss)
.build/release/device-readings bench --url "http://127.0.0.1:$port" --devices "$DEVICES" --readings "$PER" \
  --batch "$PER" --concurrency 16 --id-prefix fleet- | grep -E "readings/s|verified|mismatch" || true
loaded=$(rss)
metrics=$(curl -s "http://127.0.0.1:$port/metrics")
devices=$(echo "$metrics" | awk '$1 == "devices_stored" {printf "%d", $2}')
readings=$(echo "$metrics" | awk '$1 == "readings_stored" {printf "%d", $2}')
bytes=$(echo "$metrics" | awk '$1 == "store_memory_bytes" {printf "%d", $2}')
echo "devices $devices, readings $readings"
echo "RSS idle $((idle / 1048576)) MiB, loaded $((loaded / 1048576)) MiB: $(( (loaded - idle) / devices )) bytes per device above idle"
echo "engine estimate: $(( bytes / devices )) bytes per device (store_memory_bytes / devices_stored)"
timing() { # label url
  local times=()
  for _ in $(seq 21); do times+=("$(curl -s -o /dev/null -w '%{time_total}' "$2")"); done
  printf '%s\n' "${times[@]}" | sort -n | awk -v label="$1" 'NR == 11 {printf "%-34s median %.2f ms\n", label, $1 * 1000}'
}
timing "GET /devices?limit=100" "http://127.0.0.1:$port/devices?limit=100"
middle=$(curl -s "http://127.0.0.1:$port/devices?limit=1&after=fleet-5" | python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"][0]["id"])')
timing "GET /devices?limit=100&after=(middle)" "http://127.0.0.1:$port/devices?limit=100&after=$middle"
timing "GET /devices?limit=1000&prefix=fleet-9" "http://127.0.0.1:$port/devices?limit=1000&prefix=fleet-9"
# Silent devices: every device's readings are from 2024, so all are silent for an hour (the page
# fills at once) and none for 100,000 days (the whole fleet is scanned for nothing).
timing "GET /devices?silent_for=1h&limit=100" "http://127.0.0.1:$port/devices?silent_for=1h&limit=100"
timing "GET /devices?silent_for=99999d&limit=100" "http://127.0.0.1:$port/devices?silent_for=99999d&limit=100"
timing "GET /health (for scale)" "http://127.0.0.1:$port/health"
