#!/usr/bin/env bash
# The ceilings of HTTP ingest on this machine, beside seed-node and this server, same wrk client
# and workload, alternating in one run; medians of ROUNDS rounds:
# - nginx answering every POST /ingest with a constant body (no parsing, no storage): what any
#   server can reach here with the client sharing the cores;
# - http-ceiling (Benchmarks/HTTPCeiling): SwiftNIO alone (its HTTP/1.1 decoder and one handler),
#   reading the body and answering the same constant body: what a server on this stack can
#   reach, before any work of its own;
# - http-ceiling again, answering what this server answers when that body comes again (every
#   reading a duplicate, the longest common answer): the kit replays its bodies once a server
#   has sent them all, which this server does within 8 s at 100 and 1000 readings per request.
# All of them read every request body; nginx and the first http-ceiling answer this server's
# own answer to the dataset's first body while that body is new (every reading accepted: the
# shortest answer the contract allows, since each reading gets a result).
# usage: ROUNDS=3 scripts/bench-ceiling.sh [SECONDS] [BATCH...]   e.g. scripts/bench-ceiling.sh 8 1 100 1000
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:?set BENCH to the folder of the outside comparison kit (lib.sh, workloads, peers/seed-node); it is not part of this repository}
source "$BENCH/lib.sh"
SECS=${1:-8}; shift || true
BATCHES=${*:-1}
ROUNDS=${ROUNDS:-3}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || { echo "nginx is missing: apt-get install -y nginx-light" >&2; exit 2; }
[ -x .build/release/device-readings ] || swift build -c release
[ -x .build/release/http-ceiling ] || swift build -c release --product http-ceiling
OUT=$(mktemp -d /tmp/bench-ceiling.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
DATA=${BENCH_DATA:-${TMPDIR:-/tmp}/device-readings-bench/data}

# This server's answers to the first body of regular-bBATCH, sent twice to a new server.
capture_answer() { # batch
  local port=$((18100 + RANDOM % 800)) pid
  [ -s "$DATA/regular-b$1/bodies.ndjson" ] || "$BENCH/workload/make-data.sh" regular "$1" > /dev/null
  .build/release/device-readings serve --port $port --log-level warning > /dev/null 2>&1 & pid=$!
  wait_port $port
  for answer in answer repeat; do
    head -1 "$DATA/regular-b$1/bodies.ndjson" | curl -sf -o "$OUT/nginx/$answer-b$1.json" \
      -H 'Content-Type: application/json' --data-binary @- http://127.0.0.1:$port/ingest
  done
  stop_pid $pid
}
# POST to a static file is a 405 in nginx; error_page turns it into a 202 with the file.
write_nginx_conf() { # port batch
  cat > "$OUT/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $OUT/nginx;
  client_max_body_size 16m;
  server {
    listen 127.0.0.1:$1;
    location = /ingest { error_page 405 =202 /answer; }
    location = /answer { internal; default_type application/json; alias $OUT/nginx/answer-b$2.json; }
  }
}
CONF
}
mkdir -p "$OUT/nginx"
for batch in $BATCHES; do
  capture_answer "$batch"
  for round in $(seq "$ROUNDS"); do
    for server in nginx nio nio-repeat seed-node ours; do
      port=$((18100 + RANDOM % 800))
      case $server in
        ours) .build/release/device-readings serve --port $port --log-level warning > /dev/null 2>&1 & pid=$! ;;
        nio*) answer=answer; [ $server = nio-repeat ] && answer=repeat
          .build/release/http-ceiling $port 202 "$OUT/nginx/$answer-b$batch.json" > /dev/null 2>&1 & pid=$! ;;
        seed-node) node "$BENCH/peers/seed-node/server.js" $port > /dev/null 2>&1 & pid=$! ;;
        nginx) write_nginx_conf $port "$batch"; "$NGINX" -c "$OUT/nginx/nginx.conf" -g 'daemon off;' > /dev/null 2>&1 & pid=$! ;;
      esac
      wait_port $port
      # The ceilings store nothing, so the kit's count check cannot pass for them: throughput only.
      verify=0; case $server in nginx|nio*) verify=1 ;; esac
      NOVERIFY=$verify SERVER_PIDS=$pid TAG=$server "$BENCH/run-ingest.sh" http://127.0.0.1:$port regular "$batch" "$SECS" > "$OUT/run.out" 2>&1 || true
      python3 scripts/bench-summary.py "$server" < "$OUT/run.out" | tee -a "$OUT/all.txt"
      stop_pid $pid
    done
  done
done
echo
python3 - "$OUT/all.txt" $BATCHES <<'PY'
import re, statistics, sys
rates, cpus = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+)\s+batch=(\S+)\s+readings/s=(\d+)", line)
    if m: rates.setdefault((m.group(2), m.group(1)), []).append(int(m.group(3)))
    c = re.search(r"server_cpu_us_per_reading=([0-9.]+)", line)
    if m and c: cpus.setdefault((m.group(2), m.group(1)), []).append(float(c.group(1)))
print("medians (readings/s):")
for batch in sys.argv[2:]:
    med = {k: statistics.median(rates[(batch, k)]) for k in ("nginx", "nio", "nio-repeat", "seed-node", "ours") if (batch, k) in rates}
    line = f"batch={batch:<5}" + "".join(f" {k}={v:>11,.0f}" for k, v in med.items())
    if "nginx" in med and "seed-node" in med:
        line += f"  nginx/seed-node={med['nginx'] / med['seed-node']:.2f}x"
    for ceiling in ("nio", "nio-repeat"):
        if ceiling in med and "seed-node" in med:
            line += f"  {ceiling}/seed-node={med[ceiling] / med['seed-node']:.2f}x"
    if "ours" in med and "seed-node" in med:
        line += f"  ours/seed-node={med['ours'] / med['seed-node']:.2f}x  ours/nginx={med['ours'] / med['nginx']:.2f}x  ours/nio={med['ours'] / med['nio']:.2f}x"
    print(line)
    cpu = {k: statistics.median(cpus[(batch, k)]) for k in ("nginx", "nio", "seed-node", "ours") if (batch, k) in cpus}
    if cpu:
        line = f"batch={batch:<5} server CPU µs per reading:" + "".join(f" {k}={v:.2f}" for k, v in cpu.items())
        if "ours" in cpu and "seed-node" in cpu:
            line += f"  ours/seed-node={cpu['ours'] / cpu['seed-node']:.2f}x"
        print(line)
PY
