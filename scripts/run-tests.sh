#!/bin/bash
# run-tests.sh - the `make test` driver.
#
#   scripts/run-tests.sh [BUILD_DIR]        (default build)
#
# Runs every unit test binary BUILD_DIR/bin/tests/test_*, then the fuzz
# corpus regression (scripts/fuzz.sh regress, when that script exists),
# then every end-to-end test tests/e2e/test_*.sh with HARK_BIN=BUILD_DIR/bin.
# Prints PASS / FAIL / SKIP per test with its duration, keeps going after
# a failure, shows the last 40 lines of each failing test's output, and
# exits 1 when anything failed. A test exiting 77 is skipped (it says why).
# Environment: TESTS (a pattern, e.g. TESTS=test_live runs only matching
# tests), TEST_TIMEOUT (seconds per test, default 600), and the sanitizer
# options below unless already set.
set -uo pipefail

BUILD_DIR=${1:-build}
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO" || exit 2
[ -d "$BUILD_DIR" ] || { echo "run-tests: no build dir $BUILD_DIR" >&2; exit 2; }
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
TESTS=${TESTS:-}

# Sanitizer builds: stop at the first error with a stack, report leaks.
# (Harmless for a build without sanitizers.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-print_suppressions=0}
export HARK_BIN="$BUILD_DIR/bin"
export HARK_BUILD="$BUILD_DIR"
export HARK_SHARED=${HARK_SHARED:-$REPO/../shared}

logs=$(mktemp -d "${TMPDIR:-/tmp}/hark-tests.XXXXXX")
trap 'rm -rf "$logs"' EXIT
pass=0 fail=0 skip=0
failed=()
t_start=$EPOCHREALTIME

elapsed() { # START -> seconds since START, one decimal
    awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'
}

# run NAME CMD...: runs one test with its output in a log.
run() {
    local name=$1
    shift
    if [ -n "$TESTS" ] && [[ $name != *$TESTS* ]]; then
        return 0
    fi
    local log="$logs/${name//\//_}.log" t0=$EPOCHREALTIME rc=0
    timeout -k 10 "$TEST_TIMEOUT" "$@" >"$log" 2>&1 </dev/null || rc=$?
    local took
    took=$(elapsed "$t0")
    case $rc in
    0)
        pass=$((pass + 1))
        printf 'PASS  %-36s %8s\n' "$name" "$took"
        ;;
    77)
        skip=$((skip + 1))
        printf 'SKIP  %-36s %8s  %s\n' "$name" "$took" \
            "$(grep -m1 'SKIP' "$log" | cut -c1-100)"
        ;;
    *)
        fail=$((fail + 1))
        failed+=("$name")
        local why="exit $rc"
        [ "$rc" = 124 ] && why="timed out after ${TEST_TIMEOUT}s"
        [ "$rc" -gt 128 ] && [ "$rc" != 124 ] &&
            why="killed by signal $((rc - 128))"
        printf 'FAIL  %-36s %8s  (%s)\n' "$name" "$took" "$why"
        echo "----- last 40 lines of $name:"
        tail -n 40 "$log" | sed 's/^/    /'
        echo "-----"
        ;;
    esac
}

echo "hark tests: build $BUILD_DIR"
echo "== unit tests"
shopt -s nullglob
units=("$BUILD_DIR"/bin/tests/test_*)
if [ ${#units[@]} -eq 0 ] && [ -z "$TESTS" ]; then
    echo "(no unit test binaries in $BUILD_DIR/bin/tests)"
    fail=$((fail + 1))
    failed+=("unit tests: none built")
fi
for t in "${units[@]}"; do
    if [ ! -f "$t" ] || [ ! -x "$t" ]; then continue; fi
    run "unit/$(basename "$t")" "$t"
done

echo "== fuzz regression"
if [ -f scripts/fuzz.sh ]; then
    run "fuzz/regress" sh scripts/fuzz.sh regress
else
    echo "(skipped: scripts/fuzz.sh does not exist yet)"
fi

echo "== end to end"
for t in tests/e2e/test_*.sh; do
    run "e2e/$(basename "$t" .sh)" bash "$t"
done

echo "== $pass passed, $fail failed, $skip skipped in $(elapsed "$t_start")"
if [ "$fail" -gt 0 ]; then
    printf '   failed: %s\n' "${failed[@]}"
    exit 1
fi
exit 0
