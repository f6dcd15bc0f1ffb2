#!/bin/sh
# fuzz.sh regress|run [SECONDS] - the libFuzzer targets in tests/fuzz.
#   regress: replays every seed in tests/fuzz/corpus/<name>/, then fuzzes
#            each target briefly (FUZZ_REGRESS_SECONDS, default 15) from a
#            scratch copy of its seeds; any crash fails.
#   run:     fuzzes each target for SECONDS (default 60); new inputs go to
#            build/fuzz/corpus/<name>, crashes to tests/fuzz/crashes/.
set -eu
mode=${1:-regress}
secs=${2:-${FUZZ_REGRESS_SECONDS:-15}}
command -v clang >/dev/null || { echo "fuzz: clang not installed (make deps)" >&2; exit 1; }
make -s FUZZ=1 fuzzers >/dev/null
bin=build/fuzz/bin/fuzz
status=0
for target in "$bin"/fuzz_*; do
    [ -x "$target" ] || continue
    name=$(basename "$target" | sed 's/^fuzz_//')
    seeds=tests/fuzz/corpus/$name
    work=build/fuzz/corpus/$name
    mkdir -p "$work" tests/fuzz/crashes
    [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null || true
    if [ "$mode" = regress ] && [ -d "$seeds" ]; then
        if ! "$target" -runs=0 "$seeds" >"build/fuzz/$name.log" 2>&1; then
            echo "FAIL fuzz $name: a seed crashes (build/fuzz/$name.log)"
            tail -30 "build/fuzz/$name.log"
            status=1
            continue
        fi
    fi
    if "$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix=tests/fuzz/crashes/"$name"- "$work" \
        >"build/fuzz/$name.log" 2>&1; then
        echo "ok   fuzz $name: $(grep -o 'Done [0-9]* runs' "build/fuzz/$name.log" | tail -1 | cut -d" " -f2) runs in ${secs}s"
    else
        echo "FAIL fuzz $name (build/fuzz/$name.log)"
        tail -30 "build/fuzz/$name.log"
        status=1
    fi
done
exit $status
