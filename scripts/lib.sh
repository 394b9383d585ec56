# Helpers shared by the benchmark scripts (sourced, not run).

# Waits until something listens on 127.0.0.1:PORT (30 s at most).
wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# A free-looking port in BASE..BASE+RANGE (default 18100..18899).
pick_port() { echo $(( ${1:-18100} + RANDOM % ${2:-800} )); }

# Resident set size of PID in KiB.
rss_kb() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }

# User + system CPU of PID in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }

# SIGTERM, then wait for PID to exit.
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# The release build of the server (built if missing).
release_binary() {
  [ -x .build/release/device-readings ] || swift build -c release >&2
  echo .build/release/device-readings
}
