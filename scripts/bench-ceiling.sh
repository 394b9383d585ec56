#!/usr/bin/env bash
# The ceiling of HTTP ingest at one reading per request on this machine: nginx answering every
# POST /ingest with a constant 202 body (no parsing, no storage) beside seed-node and this server,
# same wrk client and workload, alternating in one run; medians of ROUNDS rounds. nginx's figure
# is what any server can reach here with the client sharing the cores.
# usage: ROUNDS=3 scripts/bench-ceiling.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-../shared/bench}
source "$BENCH/lib.sh"
SECS=${1:-8}
ROUNDS=${ROUNDS:-3}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || { echo "nginx is missing: apt-get install -y nginx-light" >&2; exit 2; }
[ -x .build/release/device-readings ] || swift build -c release
OUT=$(mktemp -d /tmp/bench-ceiling.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
write_nginx_conf() {
  mkdir -p "$OUT/nginx"
  cat > "$OUT/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $OUT/nginx;
  server {
    listen 127.0.0.1:$1;
    location = /ingest {
      default_type application/json;
      return 202 '{"accepted":1,"duplicates":0,"rejected":0,"results":[{"index":0,"id":"x","timestamp":"2023-01-01T00:00:00Z","status":202,"success":true}]}';
    }
  }
}
CONF
}
for round in $(seq "$ROUNDS"); do
  for server in nginx seed-node ours; do
    port=$((18100 + RANDOM % 800))
    case $server in
      ours) .build/release/device-readings serve --port $port --log-level warning > /dev/null 2>&1 & pid=$! ;;
      seed-node) node "$BENCH/peers/seed-node/server.js" $port > /dev/null 2>&1 & pid=$! ;;
      nginx) write_nginx_conf $port; "$NGINX" -c "$OUT/nginx/nginx.conf" -g 'daemon off;' > /dev/null 2>&1 & pid=$! ;;
    esac
    wait_port $port
    # nginx stores nothing, so the kit's count check cannot pass for it: throughput only.
    verify=0; [ $server = nginx ] && verify=1
    NOVERIFY=$verify SERVER_PIDS=$pid TAG=$server "$BENCH/run-ingest.sh" http://127.0.0.1:$port regular 1 "$SECS" > "$OUT/run.out" 2>&1 || true
    python3 scripts/bench-summary.py "$server" < "$OUT/run.out" | tee -a "$OUT/all.txt"
    stop_pid $pid
  done
done
echo
echo "medians (requests/s, batch 1):"
python3 - "$OUT/all.txt" <<'PY'
import re, statistics, sys
rates = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+)\s+batch=\S+\s+readings/s=(\d+)", line)
    if m: rates.setdefault(m.group(1), []).append(int(m.group(2)))
med = {k: statistics.median(v) for k, v in rates.items()}
for k in ("nginx", "seed-node", "ours"):
    if k in med: print(f"{k:10} {med[k]:>10,.0f}")
if "nginx" in med and "seed-node" in med:
    print(f"nginx / seed-node = {med['nginx'] / med['seed-node']:.2f}x (the most any server could reach against seed-node here)")
if "ours" in med and "seed-node" in med:
    print(f"ours / seed-node = {med['ours'] / med['seed-node']:.2f}x; ours / nginx = {med['ours'] / med['nginx']:.2f}x")
PY
