#!/usr/bin/env bash
# Builds the two libFuzzer targets (IngestBodyFuzzer, TimestampFuzzer) with the fuzzer and address
# sanitizers and runs each for a bounded time from the seed corpus in Sources/Fuzz/corpus.
#
#   scripts/fuzz.sh [SECONDS]      # default 30 seconds per target
#
# Environment: SWIFT (default: swift), FUZZ_SCRATCH (default: .build-fuzz, the build directory;
# never the shared .build), FUZZ_TARGETS (default: "IngestBodyFuzzer TimestampFuzzer").
# The working corpus lives in a temporary directory that is removed afterwards, so every run
# starts from the same seeds and leaves the tree as it was. A crashing input is kept under
# $FUZZ_SCRATCH/artifacts/<target>/ and the script exits non-zero; replay it with the plain build:
#   swift run --scratch-path .build-difftest IngestBodyFuzzer <file>
# (see docs/fuzzing.md).
set -euo pipefail

seconds="${1:-30}"
case "$seconds" in
    '' | *[!0-9]* | 0) echo "usage: $0 [SECONDS] (a positive whole number, default 30)" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
swift="${SWIFT:-swift}"
scratch="${FUZZ_SCRATCH:-$root/.build-fuzz}"
targets="${FUZZ_TARGETS:-IngestBodyFuzzer TimestampFuzzer}"
seeds="$root/Sources/Fuzz/corpus"

work="$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Per target: seed directory, dictionary, maximum input length.
settings() {
    case "$1" in
        IngestBodyFuzzer) echo "ingest json.dict 4096" ;;
        TimestampFuzzer) echo "timestamp timestamp.dict 64" ;;
        *) echo "unknown fuzz target $1" >&2; return 1 ;;
    esac
}

for target in $targets; do
    settings "$target" >/dev/null
    echo "== building $target (release, -sanitize=fuzzer,address, -DFUZZING) in $scratch"
    set +e
    "$swift" build -c release --scratch-path "$scratch" --product "$target" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library >"$work/build.log" 2>&1
    code=$?
    set -e
    # Known noise: a dependency's unhandled file, and a harmless gold warning about an ASan symbol.
    grep -v -e "swift-distributed-tracing" -e "found 1 file(s) which are unhandled" -e "Cannot export local symbol '__asan_extra_spill_area'" \
        "$work/build.log" || true
    if [ "$code" -ne 0 ] || [ ! -x "$scratch/release/$target" ]; then
        echo "build of $target failed (exit $code)" >&2
        exit 1
    fi
done

status=0
summary=""
for target in $targets; do
    read -r seed_dir dict max_len < <(settings "$target")
    corpus="$work/$target/corpus"
    artifacts="$scratch/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    cp "$seeds/$seed_dir"/* "$corpus/"
    log="$work/$target/log"
    echo "== running $target for ${seconds}s (seeds: $(ls "$corpus" | wc -l), -max_len=$max_len)"
    touch "$work/$target/start"
    set +e
    # -rss_limit_mb: ASan plus the instrumented binary stays far below it; a leak or blow-up won't.
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" "$scratch/release/$target" "$corpus" \
        -max_total_time="$seconds" -max_len="$max_len" -dict="$seeds/$dict" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1
    code=$?
    set -e
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    added="$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)"
    rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)"
    cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)"
    if [ "$code" -eq 0 ]; then
        line="$target: OK, ${runs:-?} runs, ${rate:-?} execs/s, ${added:-?} new inputs, $cov, peak RSS ${rss:-?} MB"
    else
        status=1
        line="$target: FAILED (exit $code), ${runs:-?} runs"
        echo "---- $target output (last 60 lines) ----"
        tail -60 "$log"
        echo "---- crashing input(s) kept:"
        find "$artifacts" -type f -newer "$work/$target/start" -print
        echo "replay: swift run --scratch-path .build-difftest $target <file>"
    fi
    echo "$line"
    summary="$summary$line"$'\n'
done

echo "== summary"
printf '%s' "$summary"
exit "$status"
