"""Prints one line from run-ingest.sh's JSON summary (the last JSON line on stdin)."""
import json
import sys

lines = [line for line in sys.stdin.read().splitlines() if line.startswith("{")]
if not lines:
    sys.exit(f"{sys.argv[1]}: no summary (see /tmp/bench-ingest-{sys.argv[1]}.out)")
d = json.loads(lines[-1])
print(f"{sys.argv[1]:9} batch={d['batch']:<5} readings/s={d['readings_per_s']:<9} requests/s={d['requests_per_s']:<7} "
      f"p50={d['lat_ms']['p50']}ms p99={d['lat_ms']['p99']}ms verify={d['verify']} "
      f"server_cpu_us_per_reading={d.get('server_cpu_us_per_reading')}")
