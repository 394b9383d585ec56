#!/usr/bin/env bash
# Property-based API check: starts the given device-readings binary on a free loopback port
# (memory engine, no keys, nothing from the environment or a .env), seeds two devices, and runs
# schemathesis against the live server with the document it serves at /openapi.json. Fails on any
# 5xx and on any response whose status, Content-Type, headers or body the document does not allow.
#
# usage: scripts/schemathesis.sh <path-to-device-readings-binary>
#
# Environment (all optional):
#   OPENAPI_FILE        test against this document file instead of the server's /openapi.json
#                       (e.g. Sources/ReadingsHTTP/Resources/openapi.json, for a binary that does
#                       not serve it yet); the base URL is then given to schemathesis with --url
#   EXCLUDE_PATH_REGEX  skip operations whose path matches this regex (for trying a binary that
#                       lacks some routes; CI sets nothing, so every operation is tested)
#   MAX_EXAMPLES        examples per operation in the fuzzing phase (default 200)
#   SEED                hypothesis seed (default 20261129)
#   SCHEMATHESIS_VENV   where the virtualenv lives (default .venv-schemathesis in the repository)
#   WITH_KEY=1          start the server with an API key and send it (CI runs both ways)
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
# Every check schemathesis has: no 5xx; every response's status, Content-Type, documented headers
# and body as the document says; schema-valid requests accepted and schema-violating ones
# refused; a method a path does not serve answered 405 with a true Allow; and the rest. The one
# exception is in scripts/schemathesis.toml, with its reason. CHECKS=a,b narrows the run.
CHECKS=${CHECKS:-all}

if [ $# -ne 1 ]; then
  echo "usage: $0 <path-to-device-readings-binary>" >&2
  exit 64
fi
binary=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
if [ ! -x "$binary" ]; then
  echo "$0: $1 is not an executable" >&2
  exit 64
fi
openapi_file=""
if [ -n "${OPENAPI_FILE:-}" ]; then
  # Relative to the caller's working directory, like the binary's path.
  if [ ! -f "$OPENAPI_FILE" ]; then
    echo "$0: OPENAPI_FILE $OPENAPI_FILE does not exist" >&2
    exit 64
  fi
  openapi_file=$(cd "$(dirname "$OPENAPI_FILE")" && pwd)/$(basename "$OPENAPI_FILE")
fi
cd "$(dirname "$0")/.."
repo=$(pwd)
max_examples=${MAX_EXAMPLES:-200}
seed=${SEED:-20261129}

# --- schemathesis in its own virtualenv (reused when it already has the pinned version) ---
venv=${SCHEMATHESIS_VENV:-$repo/.venv-schemathesis}
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qx "schemathesis, version $SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's python3 keeps venv (ensurepip) in a separate package.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      rm -rf "$venv"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
      python3 -m venv "$venv"
    else
      echo "$0: python3 -m venv failed; install python3-venv" >&2
      exit 1
    fi
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -c "$repo/scripts/schemathesis-constraints.txt" "schemathesis==$SCHEMATHESIS_VERSION"
fi

# --- the server: memory engine, a free loopback port, a scratch working directory ---
work=$(mktemp -d /tmp/dr-schemathesis.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

key=""
auth=()
if [ -n "${WITH_KEY:-}" ]; then
  key=schemathesis-key
  auth=(-H "Authorization: Bearer $key")
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
base="http://127.0.0.1:$port"
# Run in $work so that no .env is read, with an empty environment so that no setting comes from it.
(
  cd "$work"
  exec env -i PATH="$PATH" HOME="${HOME:-/}" \
    "$binary" serve --host 127.0.0.1 --port "$port" --log-level warning ${key:+--api-key "$key"}
) >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "$base/health" 2>/dev/null && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "$0: the server exited before answering /health:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fsS -o /dev/null "$base/health" || { echo "$0: the server did not answer /health in 30 s" >&2; exit 1; }

# --- seed data so that the GET operations (whose documented examples name these ids) hit devices ---
ingest() {
  local status
  status=$(curl -sS -o "$work/seed.json" -w '%{http_code}' -X POST "$base/ingest" "${auth[@]}" \
    -H 'Content-Type: application/json' --data-binary "$1")
  case "$status" in
    202 | 207) ;;
    *) echo "$0: seeding failed with $status: $(cat "$work/seed.json")" >&2; exit 1 ;;
  esac
}
ingest '{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":3},{"timestamp":"2023-01-01T00:00:01.5Z","count":2},{"timestamp":"2023-01-01T05:30:00+05:30","count":7},{"timestamp":"2023-01-01T12:00:00Z","count":0}]}'
ingest '{"id":"sensor/α 1","readings":[{"timestamp":"2022-12-31T23:59:59.999999999Z","count":1},{"timestamp":"2023-01-01T00:00:00Z","count":9007199254740991}]}'

# --- schemathesis ---
if [ -n "$openapi_file" ]; then
  location=$openapi_file
else
  location=$base/openapi.json
fi
args=(
  --config-file "$repo/scripts/schemathesis.toml"
  run "$location"
  --url "$base"
  --checks "$CHECKS"
  --phases examples,coverage,fuzzing
  --max-examples "$max_examples"
  --seed "$seed"
  --workers 1
  --request-timeout 10
  --generation-database none
  --no-color
)
if [ -n "$key" ]; then
  args+=(--header "Authorization: Bearer $key")
fi
if [ -n "${EXCLUDE_PATH_REGEX:-}" ]; then
  args+=(--exclude-path-regex "$EXCLUDE_PATH_REGEX")
fi
echo "+ schemathesis ${args[*]}" >&2
status=0
(cd "$work" && "$venv/bin/schemathesis" "${args[@]}") || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "$0: the server died during the run; its log:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "$0: schemathesis failed (exit $status); last lines of the server log:" >&2
  tail -n 20 "$work/server.log" >&2
fi
exit "$status"
