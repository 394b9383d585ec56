#!/usr/bin/env bash
# Runs a test command with a deadline, so that a hung test fails the run with its name instead
# of stalling it: after TEST_DEADLINE_MINUTES (default 35) the command's process group is ended,
# the tests that started and never finished are listed, and the exit status is 124.
#   scripts/with-deadline.sh swift test --skip-build
set -uo pipefail
minutes=${TEST_DEADLINE_MINUTES:-35}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# setsid: the command and everything it starts (the test runner, servers under test) share one
# process group that can be ended together.
setsid "$@" > >(tee "$log") 2>&1 &
pid=$!
deadline=$((SECONDS + minutes * 60))
while kill -0 "$pid" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo
    echo "with-deadline: still running after $minutes minutes; these tests started and never finished:"
    started=$(sed -n 's/^◇ Test \(.*\) started\.$/\1/p' "$log" | grep -v '^case passing' | sort -u)
    finished=$(sed -n 's/^[✔✘] Test \(.*\) \(passed\|failed\) after .*/\1/p' "$log" | sed 's/ with [0-9]* test cases\{0,1\}$//' | sort -u)
    comm -23 <(echo "$started") <(echo "$finished") | sed 's/^/  /'
    kill -TERM -- "-$pid" 2>/dev/null
    sleep 5
    kill -KILL -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    exit 124
  fi
  sleep 2
done
wait "$pid"
