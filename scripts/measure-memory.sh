#!/usr/bin/env bash
# Memory per reading: start the release server, note its idle RSS, load N bodies of a dataset
# with the bench kit's loader (each body exactly once, all devices verified), note RSS again.
# usage: scripts/measure-memory.sh [DATASET] [BODIES]   e.g. scripts/measure-memory.sh mem-5k-b1000 1000
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:?set BENCH to the folder of the outside comparison kit (lib.sh, workloads, peers/seed-node); it is not part of this repository}
source "$BENCH/lib.sh"
DATASET=${1:-mem-5k-b1000}; BODIES=${2:-1000}
DATA=${BENCH_DATA:-/tmp/device-readings-bench/data}
[ -s "$DATA/$DATASET/bodies.ndjson" ] || BENCH_DATA=$DATA "$BENCH/workload/make-data.sh" "$DATASET"
[ -x .build/release/device-readings ] || swift build -c release
port=$((18100 + RANDOM % 800))
.build/release/device-readings serve --port $port --log-level warning > /dev/null 2>&1 & pid=$!
wait_port $port
curl -s -o /dev/null http://127.0.0.1:$port/health
idle=$(rss_kb $pid)
python3 "$BENCH/driver/verify.py" load http://127.0.0.1:$port "$DATA/$DATASET/bodies.ndjson" --lines "$BODIES" --sample 0 > /tmp/measure-memory.out
readings=$(curl -s "http://127.0.0.1:$port/metrics" 2>/dev/null | awk '/^readings_stored /{print $2}')
[ -n "$readings" ] || readings=$(python3 -c "import json;m=json.load(open('$DATA/$DATASET/meta.json'));print(round(m['readings_sent']*$BODIES/m['requests']))")
loaded=$(rss_kb $pid)
stop_pid $pid
python3 -c "
idle, loaded, n = $idle, $loaded, $readings
print(f'readings={n} idle_rss={idle/1024:.1f}MiB loaded_rss={loaded/1024:.1f}MiB bytes_per_reading_above_idle={(loaded-idle)*1024/n:.1f}')"
tail -1 /tmp/measure-memory.out
