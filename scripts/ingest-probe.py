#!/usr/bin/env python3
"""POSTs one-reading ingests of one device (a reading of now each time, count 1) one after another
over one keep-alive connection until a file named by --until exists (or --seconds pass), then
writes one line per request: the wall-clock time it started (seconds since the epoch) and its
latency in seconds. Used by scripts/bench-retention.sh to measure ingest latency while a
retention's removal runs."""
import argparse, datetime, http.client, os, time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--device", default="probe")
parser.add_argument("--until", help="stop once this file exists")
parser.add_argument("--seconds", type=float, default=3600)
parser.add_argument("--out", required=True)
args = parser.parse_args()

connection = http.client.HTTPConnection("127.0.0.1", args.port)
rows = []
deadline = time.monotonic() + args.seconds
while time.monotonic() < deadline and not (args.until and os.path.exists(args.until)):
    started = time.time()
    stamp = datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = '{"id":"%s","readings":[{"timestamp":"%s","count":1}]}' % (args.device, stamp)
    t0 = time.perf_counter()
    connection.request("POST", "/ingest", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    rows.append((started, time.perf_counter() - t0, response.status))
with open(args.out, "w") as out:
    for started, latency, status in rows:
        out.write(f"{started:.6f} {latency:.6f} {status}\n")
