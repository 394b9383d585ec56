#!/usr/bin/env bash
# GET /devices/{id}/latest_timestamp under wrk (16 connections, one thread): this server (release
# build), SwiftNIO's ceiling (http-ceiling answering the same body as a constant) and a peer
# server given by its start command, alternating in one run, ROUNDS rounds of SECONDS each;
# prints every run, then the medians of requests/s and server CPU per request, and their ratios.
# usage: ROUNDS=3 scripts/bench-reads.sh SECONDS [PEER_JS]
#   PEER_JS: a Node server taking its port as first argument (the prototype's design, for one);
#   without it, only this server is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
SECS=${1:-8}
PEER=${2:-}
ROUNDS=${ROUNDS:-3}
command -v wrk > /dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
[ -x .build/release/device-readings ] || swift build -c release
[ -x .build/release/http-ceiling ] || swift build -c release --product http-ceiling
OUT=$(mktemp -d /tmp/bench-reads.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
printf '%s' '{"id":"sensor-1","latest_timestamp":"2024-01-01T00:00:00Z"}' > "$OUT/answer.json"
servers="ceiling ours"; [ -n "$PEER" ] && servers="peer ceiling ours"
for round in $(seq "$ROUNDS"); do
  for server in $servers; do
    port=$((18900 + RANDOM % 800))
    case $server in
      ours) .build/release/device-readings serve --port $port --log-level warning > /dev/null 2>&1 & pid=$! ;;
      ceiling) .build/release/http-ceiling $port 200 "$OUT/answer.json" > /dev/null 2>&1 & pid=$! ;;
      peer) node "$PEER" $port > /dev/null 2>&1 & pid=$! ;;
    esac
    wait_port $port
    [ $server = ceiling ] || curl -sf -o /dev/null -H 'Content-Type: application/json' \
      -d '{"id":"sensor-1","readings":[{"timestamp":"2024-01-01T00:00:00Z","count":1}]}' http://127.0.0.1:$port/ingest
    cpu0=$(cpu_ticks $pid)
    wrk -t1 -c16 -d"${SECS}s" --latency http://127.0.0.1:$port/devices/sensor-1/latest_timestamp > "$OUT/wrk.txt"
    cpu1=$(cpu_ticks $pid)
    rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk.txt")
    total=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
    cpu_us=$(python3 -c "print(round(($cpu1 - $cpu0) * 1e6 / $(getconf CLK_TCK) / $total, 1))")
    echo "$server requests/s=$rps p99=$p99 server_cpu_us_per_request=$cpu_us" | tee -a "$OUT/all.txt"
    kill $pid; wait $pid 2>/dev/null || true
  done
done
python3 - "$OUT/all.txt" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name = line.split()[0]
    rps = float(re.search(r"requests/s=([0-9.]+)", line).group(1))
    cpu = float(re.search(r"per_request=([0-9.]+)", line).group(1))
    rows.setdefault(name, []).append((rps, cpu))
med = {k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v)) for k, v in rows.items()}
for k, (r, c) in med.items():
    print(f"median {k}: {r:,.0f} requests/s, {c} µs server CPU per request")
for other in ("peer", "ceiling"):
    if other in med:
        print(f"ours/{other}: {med['ours'][0] / med[other][0]:.2f}x requests/s, {med['ours'][1] / med[other][1]:.2f}x CPU per request")
if "peer" in med:
    print(f"ceiling/peer: {med['ceiling'][0] / med['peer'][0]:.2f}x requests/s, {med['ceiling'][1] / med['peer'][1]:.2f}x CPU per request")
PY
