#!/usr/bin/env bash
# Durability figures, one run, side by side (release build):
#  1. ingest readings/s with batches of 1000 (the project's load generator, 8 connections, every
#     reading new, verified) for memory only and --data-dir with --sync off, interval and always;
#  2. recovery: N readings loaded with --sync off, then restart after kill -9 (journal replay) and
#     after SIGTERM (snapshot load), with readings/s from the server's own "recovered" log line;
#  3. bytes on disk per reading in the journal and in the snapshot.
# usage: scripts/bench-durability.sh [SECONDS] [BATCHES]   (BATCHES of 1000 readings for recovery; default 10 s, 10000 = 10M readings)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
SECS=${1:-10}; BODIES=${2:-10000}
BIN=$(release_binary)
WORK=$(mktemp -d /tmp/bench-durability.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

serve() { # port args... ; sets pid
  $BIN serve --port "$1" --log-level info "${@:2}" > "$WORK/server.log" 2>&1 & pid=$!
  wait_port "$1"
  until curl -sf "http://127.0.0.1:$1/ready" > /dev/null; do sleep 0.1; done
}

echo "== ingest, batches of 1000, ${SECS}s each, 8 connections"
for mode in memory off interval always; do
  port=$(pick_port); rm -rf "$WORK/dir"
  if [ $mode = memory ]; then serve $port; else serve $port --data-dir "$WORK/dir" --sync $mode; fi
  $BIN bench --url "http://127.0.0.1:$port" --devices 1000 --readings 1000000 --batch 1000 --concurrency 8 \
    --duration "$SECS" > "$WORK/run.out" 2>&1 || true
  python3 - "$mode" "$WORK/run.out" <<'PY'
import json, sys
d = json.loads([l for l in open(sys.argv[2]) if l.startswith("{")][-1])
print(f"{sys.argv[1]:9} readings/s={d['readings_per_second']:,.0f} p99={d['latency_ms']['p99']}ms verified={d['verified']}")
PY
  stop_pid $pid
done

echo "== recovery and disk, $BODIES bodies of 1000 readings"
port=$(pick_port); rm -rf "$WORK/dir"
serve $port --data-dir "$WORK/dir" --sync off --snapshot-every off
$BIN bench --url "http://127.0.0.1:$port" --devices 1000 --readings "$BODIES" --batch 1000 --concurrency 8 > /dev/null
readings=$((BODIES * 1000))
journal_bytes=$(cat "$WORK"/dir/journal-*.log | wc -c)
kill -9 $pid; wait $pid 2>/dev/null || true
serve $port --data-dir "$WORK/dir" --snapshot-every off
python3 - "$WORK/server.log" "$readings" "journal replay" <<'PY'
import re, sys
line = [l for l in open(sys.argv[1]) if " recovered" in l][-1]
secs = float(re.search(r"recovery.seconds=([0-9.e-]+)", line).group(1))
n = int(re.search(r"recovery.replayed_readings=(\d+)", line).group(1)) + int(re.search(r"recovery.snapshot_readings=(\d+)", line).group(1))
print(f"{sys.argv[3]:15} readings={n} seconds={secs:.2f} readings/s={n/secs:,.0f}")
PY
kill -TERM $pid; wait $pid 2>/dev/null || true
snapshot_bytes=$(cat "$WORK"/dir/snapshot-*.snap | wc -c)
serve $port --data-dir "$WORK/dir" --snapshot-every off
python3 - "$WORK/server.log" "$readings" "snapshot load" <<'PY'
import re, sys
line = [l for l in open(sys.argv[1]) if " recovered" in l][-1]
secs = float(re.search(r"recovery.seconds=([0-9.e-]+)", line).group(1))
n = int(re.search(r"recovery.replayed_readings=(\d+)", line).group(1)) + int(re.search(r"recovery.snapshot_readings=(\d+)", line).group(1))
print(f"{sys.argv[3]:15} readings={n} seconds={secs:.2f} readings/s={n/secs:,.0f}")
PY
stop_pid $pid
python3 -c "print(f'disk            journal {$journal_bytes/$readings:.2f} bytes/reading, snapshot {$snapshot_bytes/$readings:.2f} bytes/reading')"
