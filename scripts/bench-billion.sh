#!/usr/bin/env bash
# A billion readings on one machine, over HTTP with the project's load generator (release build):
# a server with --data-dir and --sync interval, DEVICES × READINGS readings in batches of 1,000
# with 10 % of them late, then a graceful stop and a restart. Prints readings/s, RSS per reading
# above the idle process, the snapshot's size, and the time from the restart to a 200 from /ready.
# Usage: scripts/bench-billion.sh [BINARY] [DATA_DIR] [DEVICES] [READINGS]
# DATA_DIR must not exist yet (it is created, and deleted at the end unless KEEP=1); it needs
# about 4 bytes per reading of free disk (snapshots) plus SNAPSHOT_EVERY of journal.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/device-readings}
DIR=${2:-./billion-data}
DEVICES=${3:-100000}
READINGS=${4:-10000}
PORT=${PORT:-3320}
SNAPSHOT_EVERY=${SNAPSHOT_EVERY:-4GiB}
[ -e "$DIR" ] && { echo "$DIR exists; give a new directory" >&2; exit 64; }
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$DIR"' EXIT

serve() {
  "$BIN" serve --port "$PORT" --data-dir "$DIR" --sync interval --snapshot-every "$SNAPSHOT_EVERY" >>"$DIR.log" 2>&1 &
  SERVER=$!
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/ready")" = 200 ]; }

mkdir -p "$DIR"
serve
until ready; do sleep 0.1; done
idle=$(rss_kib)
"$BIN" bench --url "http://127.0.0.1:$PORT" --devices "$DEVICES" --readings "$READINGS" --batch 1000 \
  --concurrency 8 --out-of-order 10 --return-minimal 2>/dev/null | tail -1 >"$DIR.json"
full=$(rss_kib)
stored=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^readings_stored / {printf "%d", $2}')
kill -TERM "$SERVER"; wait "$SERVER" || true
snapshot=$(du -cb "$DIR"/snapshot-*.snap | tail -1 | cut -f1)
start=$(date +%s.%N)
serve
until ready; do sleep 0.05; done
end=$(date +%s.%N)
restarted=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^readings_stored / {printf "%d", $2}')
kill -TERM "$SERVER"; wait "$SERVER" || true
python3 - "$DIR.json" "$idle" "$full" "$stored" "$snapshot" "$start" "$end" "$restarted" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
idle, full, stored, snapshot = (int(x) for x in sys.argv[2:6])
start, end, restarted = float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])
assert run["verified"] and restarted == stored, (run, stored, restarted)
print(f"{stored:,} readings stored ({run['devices']:,} devices), {run['readings_per_second']:,.0f} readings/s, "
      f"p99 {run['latency_ms']['p99']} ms")
print(f"RSS {full // 1024:,} MiB, idle {idle // 1024} MiB: {(full - idle) * 1024 / stored:.2f} bytes per reading above idle "
      f"(engine's own estimate {run['bytes_per_reading']})")
print(f"snapshot {snapshot / 2**20:,.0f} MiB ({snapshot / stored:.2f} bytes per reading); "
      f"restart to /ready {end - start:.1f} s, {restarted:,} readings back")
PY
