#!/usr/bin/env bash
# Retention removing half of the readings (release build, journaled engine): load DEVICES ×
# READINGS readings with the project's load generator, stop (final snapshot), and start again with
# a --retention that puts the horizon in the middle of every device's history, so that the first
# removal (as soon as the store has recovered) removes half of them. Meanwhile three clients post
# one-reading ingests back to back and the server's RSS is sampled every 20 ms.
# Prints: RSS idle (a fresh server), loaded (before the removal) and after it, the fall as a share
# of the readings' RSS (loaded − idle); and the ingest p50/p99 while the removal ran against the 3 s
# after it (the issue's goals: a fall ≥ 40 % of the readings' share, p99 within 2× of without).
# usage: scripts/bench-retention.sh [DEVICES] [READINGS_PER_DEVICE]   e.g. scripts/bench-retention.sh 1000 100000
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
DEVICES=${1:-1000}; READINGS=${2:-100000}
BIN=$(release_binary)
dir=$(mktemp -d /tmp/dr-retention.XXXXXX)
port=$(pick_port)
pids=()
cleanup() { for p in "${pids[@]}"; do stop_pid "$p"; done; rm -rf "$dir"; }
trap cleanup EXIT
$BIN serve --port "$port" --data-dir "$dir/data" --sync off --snapshot-every off --log-level warning > /dev/null 2>&1 & pid=$!
pids+=($pid)
wait_port "$port"
until curl -sf "http://127.0.0.1:$port/ready" > /dev/null; do sleep 0.1; done
idle=$(rss_kb $pid)
$BIN bench --url "http://127.0.0.1:$port" --devices "$DEVICES" --readings "$READINGS" --batch 1000 --concurrency 4 \
  | grep -E "readings/s|verified|mismatch" || true
stored=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "readings_stored" {printf "%d", $2}')
stop_pid $pid
# Every device reports every 60 s from 2024-01-01T00:00:00Z: the middle of its history is
# READINGS/2 minutes after that.
middle=$((1704067200 + 60 * READINGS / 2))
retention="$(( $(date +%s) - middle ))s"
echo "loaded $stored readings; restarting with --retention $retention"
$BIN serve --port "$port" --data-dir "$dir/data" --sync off --snapshot-every off --retention "$retention" \
  --log-level notice > "$dir/log" 2>&1 & pid=$!
pids+=($pid)
(while kill -0 $pid 2>/dev/null; do echo "$(date +%s.%N) $(rss_kb $pid)"; sleep 0.02; done) > "$dir/rss" 2>/dev/null &
pids+=($!)
wait_port "$port"
probes=()
for k in 1 2 3; do
  python3 scripts/ingest-probe.py --port "$port" --device "probe-$k" --until "$dir/stop" --out "$dir/probe-$k" & probes+=($!)
done
for _ in $(seq 6000); do grep -q "removed expired readings" "$dir/log" && break; sleep 0.02; done
end=$(date +%s.%N)
seconds=$(grep -o 'retention.seconds=[0-9.e-]*' "$dir/log" | head -1 | cut -d= -f2)
removed=$(grep -o 'retention.removed=[0-9]*' "$dir/log" | head -1 | cut -d= -f2)
sleep 4
touch "$dir/stop"; wait "${probes[@]}"
cat "$dir"/probe-* > "$dir/probe"
after=$(rss_kb $pid)
left=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "readings_stored" {printf "%d", $2}')
python3 - "$dir" "$idle" "$after" "$end" "$seconds" "$removed" "$left" <<'PY'
import sys, statistics
d, idle, after, end, seconds, removed, left = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
start = end - seconds
rss = [tuple(map(float, l.split())) for l in open(f"{d}/rss") if len(l.split()) == 2]
loaded = max(r for t, r in rss if t < start)
rows = [l.split() for l in open(f"{d}/probe")]
during = sorted(float(l) for t, l, s in rows if s == "202" and start <= float(t) <= end)
without = sorted(float(l) for t, l, s in rows if s == "202" and end + 0.5 <= float(t) <= end + 3.5)
def pct(xs, p): return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000
share = loaded - idle
print(f"removed {removed} readings in {seconds:.2f} s, {left} left")
print(f"RSS idle {idle/1024:.0f} MiB, loaded {loaded/1024:.0f} MiB, after {after/1024:.0f} MiB: fell {(loaded-after)/1024:.0f} MiB = {100*(loaded-after)/share:.0f} % of the readings' {share/1024:.0f} MiB")
print(f"ingest during removal: {len(during)} requests, p50 {pct(during, .5):.2f} ms, p99 {pct(during, .99):.2f} ms")
print(f"ingest after it (3 s): {len(without)} requests, p50 {pct(without, .5):.2f} ms, p99 {pct(without, .99):.2f} ms")
print(f"p99 ratio during / without: {pct(during, .99) / pct(without, .99):.2f}")
PY
