#!/usr/bin/env bash
# Side-by-side ingest benchmark: this server (release build) and the prototype's design
# (peers/seed-node in the outside kit named by BENCH), same workload, alternating in one run, ROUNDS rounds each;
# prints every run and then the medians and the ratio.
# usage: scripts/bench-ingest.sh [WORKLOAD] [SECONDS] [BATCH...]   e.g. ROUNDS=3 scripts/bench-ingest.sh regular 10 1 100 1000
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:?set BENCH to the folder of the outside comparison kit (lib.sh, workloads, peers/seed-node); it is not part of this repository}
source "$BENCH/lib.sh"
WORKLOAD=${1:-regular}; SECS=${2:-10}; shift 2 || true
BATCHES=${*:-1 100 1000}
ROUNDS=${ROUNDS:-3}
[ -x .build/release/device-readings ] || swift build -c release
OUT=$(mktemp -d /tmp/bench-ingest.XXXXXX)
for batch in $BATCHES; do
  for round in $(seq "$ROUNDS"); do
    for server in seed-node ours; do
      port=$((18100 + RANDOM % 800))
      if [ $server = ours ]; then
        .build/release/device-readings serve --port $port --log-level warning > /dev/null 2>&1 & pid=$!
      else
        node "$BENCH/peers/seed-node/server.js" $port > /dev/null 2>&1 & pid=$!
      fi
      wait_port $port
      SERVER_PIDS=$pid TAG=$server "$BENCH/run-ingest.sh" http://127.0.0.1:$port "$WORKLOAD" "$batch" "$SECS" > "$OUT/run.out" 2>&1 || true
      python3 scripts/bench-summary.py "$server" < "$OUT/run.out" | tee -a "$OUT/b$batch.txt"
      stop_pid $pid
    done
  done
done
python3 - "$OUT" $BATCHES <<'PY'
import re, statistics, sys
out = sys.argv[1]
print("\nmedians (readings/s, p99 ms):")
for batch in sys.argv[2:]:
    rows = {"seed-node": [], "ours": []}
    for line in open(f"{out}/b{batch}.txt"):
        name = line.split()[0]
        rate = int(re.search(r"readings/s=(\d+)", line).group(1))
        p99 = float(re.search(r"p99=([0-9.]+)ms", line).group(1))
        rows[name].append((rate, p99))
    med = {k: (statistics.median(r for r, _ in v), statistics.median(p for _, p in v)) for k, v in rows.items() if v}
    print(f"batch={batch:<5} seed-node={med['seed-node'][0]:>10,.0f} (p99 {med['seed-node'][1]} ms)  "
          f"ours={med['ours'][0]:>10,.0f} (p99 {med['ours'][1]} ms)  ratio={med['ours'][0] / med['seed-node'][0]:.2f}x")
PY
rm -rf "$OUT"
