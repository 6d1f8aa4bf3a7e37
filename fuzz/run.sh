#!/bin/sh
# Builds the libFuzzer targets (clang, -DMQTTD_FUZZ=ON) into build-fuzz and runs each one for
# FUZZ_SECONDS (default 300) over its seed corpus fuzz/corpus/<target>, one after the other, or
# all at once with FUZZ_PARALLEL=1 (each under nice -n 19, one job each). New inputs collect in
# build-fuzz/corpus/<target>, crashes in build-fuzz/artifacts/<target>/, logs in FUZZ_LOGS
# (default build-fuzz/logs). Exits non-zero when a target found a crash. Usage:
#   fuzz/run.sh [TARGET...]        (targets: codec session config ws ..., default all)
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-300}
BUILD=${FUZZ_BUILD:-build-fuzz}
LOGS=${FUZZ_LOGS:-$BUILD/logs}

CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMQTTD_FUZZ=ON >/dev/null
if [ $# -eq 0 ]; then
    set -- $(ls fuzz/fuzz_*.c | sed 's|fuzz/fuzz_||; s|\.c$||')
fi
for t in "$@"; do
    cmake --build "$BUILD" -j 2 --target "fuzz_$t" >/dev/null
done

mkdir -p "$LOGS"
run_one() {
    t=$1
    mkdir -p "$BUILD/corpus/$t" "$BUILD/artifacts/$t"
    nice -n 19 "$BUILD/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t/" \
        "$BUILD/corpus/$t" "fuzz/corpus/$t" >"$LOGS/$t.log" 2>&1
}

failed=0
if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
    pids=""
    for t in "$@"; do
        run_one "$t" &
        pids="$pids $!"
    done
    for p in $pids; do
        wait "$p" || failed=1
    done
else
    for t in "$@"; do
        echo "fuzz_$t: ${SECONDS_EACH}s"
        run_one "$t" || failed=1
    done
fi

for t in "$@"; do
    printf '%-10s %s  %s\n' "$t" \
        "$(grep -h 'stat::number_of_executed_units' "$LOGS/$t.log" | tr -s ' ')" \
        "$(grep -h -E '^#[0-9]+[[:space:]]+DONE' "$LOGS/$t.log" | tail -1 | sed 's/^#[0-9]*[[:space:]]*//')"
    if ls "$BUILD/artifacts/$t/" | grep -q .; then
        echo "  found: $(ls "$BUILD/artifacts/$t/")"
    fi
done
exit $failed
