#!/usr/bin/env python3
"""Reads GET paths of a running server one after another over one keep-alive connection until
a file named by --until exists (or --seconds pass), then prints latency percentiles as JSON.

Used by scripts/bench-order.sh to measure how reads of other devices fare while a large
out-of-order ingest runs."""
import argparse, http.client, json, os, time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--path", action="append", required=True)
parser.add_argument("--until", help="stop once this file exists")
parser.add_argument("--seconds", type=float, default=3600)
args = parser.parse_args()

connection = http.client.HTTPConnection("127.0.0.1", args.port)
latencies = []
statuses = {}
deadline = time.monotonic() + args.seconds
k = 0
while time.monotonic() < deadline and not (args.until and os.path.exists(args.until)):
    path = args.path[k % len(args.path)]
    k += 1
    start = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    latencies.append(time.perf_counter() - start)
    statuses[response.status] = statuses.get(response.status, 0) + 1

latencies.sort()
def percentile(p):
    return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 2) if latencies else None
print(json.dumps({"requests": len(latencies), "statuses": statuses, "p50_ms": percentile(50),
                  "p99_ms": percentile(99), "max_ms": round(latencies[-1] * 1000, 2) if latencies else None}))
