#!/usr/bin/env bash
# Memory per reading, from the process's own RSS: start the release server, note its idle RSS,
# load DEVICES × READINGS readings with the project's load generator (`device-readings bench`,
# batches of 1000, every device verified), note RSS again.
# usage: scripts/measure-memory.sh [DEVICES] [READINGS_PER_DEVICE]   e.g. scripts/measure-memory.sh 5000 1000
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
DEVICES=${1:-5000}; READINGS=${2:-1000}
BIN=$(release_binary)
port=$(pick_port)
$BIN serve --port "$port" --log-level warning > /dev/null 2>&1 & pid=$!
trap 'stop_pid $pid' EXIT
wait_port "$port"
curl -s -o /dev/null "http://127.0.0.1:$port/health"
idle=$(rss_kb $pid)
$BIN bench --url "http://127.0.0.1:$port" --devices "$DEVICES" --readings "$READINGS" --batch 1000 --concurrency 8 \
  > /tmp/measure-memory.out
readings=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^readings_stored / {print $2}')
loaded=$(rss_kb $pid)
python3 -c "
idle, loaded, n = $idle, $loaded, int(float("$readings"))
print(f'readings={n} idle_rss={idle/1024:.1f}MiB loaded_rss={loaded/1024:.1f}MiB bytes_per_reading_above_idle={(loaded-idle)*1024/n:.1f}')"
grep -o '"verified":[a-z]*' /tmp/measure-memory.out
