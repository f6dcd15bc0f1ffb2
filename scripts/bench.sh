#!/bin/sh
# bench.sh BINDIR - hark on ../shared/bench's workload, next to the read
# limit (a libpcap loop over every byte of the same file), the bus floor
# (the same bytes over hark's four ZeroMQ hops with no work at all: what
# the process design costs by itself) and, when they are installed,
# `tcpdump -w` and httpry on the same file; accuracy
# against the generator's truth; CPU and peak memory of every stage.
#   BENCH_PRESET=tiny|small|medium|large (default medium)
#   BENCH_RUNS=N      hark runs; the median one is reported (default 5)
#   BENCH_SHARDS=N    reassembler shards (default: hark.yaml's, 2)
#   BENCH_MODE=live   replay the workload live instead (scripts/bench_live.sh)
# The capture is generated once into build/bench/ (it is large and
# reproducible, so it stays out of the repository). Timings are a
# measurement, not a test: nothing here passes or fails on them.
set -eu
bin=$1
if [ "${BENCH_MODE:-}" = live ]; then
    exec scripts/bench_live.sh "$bin"
fi
preset=${BENCH_PRESET:-medium}
runs=${BENCH_RUNS:-5}
shared=${HARK_SHARED:-../shared}
gen="$shared/bench/gen_http_pcap.py"
out=build/bench
command -v python3 >/dev/null ||
    { echo "bench: python3 is needed (as root: make bench installs it)" >&2; exit 1; }
mkdir -p "$out"
pcap="$out/$preset.pcap"
truth="$out/$preset.truth.jsonl"
if [ ! -s "$pcap" ] || [ ! -s "$truth" ]; then
    [ -f "$gen" ] || { echo "bench: $gen not found (set HARK_SHARED)" >&2; exit 1; }
    echo "bench: generating the $preset workload into $pcap"
    python3 "$gen" --preset "$preset" -o "$pcap" -t "$truth" -q
fi
work=$(mktemp -d /tmp/hark-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
# Run as root, the stages run as supervisor.run_as: they must pass through.
chmod 0711 "$work"
cfg="$work/bench.yaml"
cp hark.yaml "$cfg"
if [ -n "${BENCH_SHARDS:-}" ]; then
    python3 - "$cfg" "$BENCH_SHARDS" <<'PY'
import re, sys
p, n = sys.argv[1], sys.argv[2]
s = open(p).read()
s = re.sub(r'(?m)^(\s*shards:\s*)\d+', r'\g<1>' + n, s, count=1)
open(p, 'w').write(s)
PY
fi

now() { date +%s.%N; }
# seconds START END
took() { awk "BEGIN { printf \"%.4f\", $2 - $1 }"; }

# The file is read once first, so every contender finds it in the page
# cache.
"$bin/tools/read_limit" "$pcap" >/dev/null

timed() { # FILE CMD...: appends the wall seconds of CMD to FILE
    f=$1
    shift
    t0=$(now)
    "$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; return 1; }
    t1=$(now)
    took "$t0" "$t1" >>"$f"
    echo >>"$f"
}

i=0
while [ "$i" -lt "$runs" ]; do
    i=$((i + 1))
    # the read limit in the same run as hark, just before it
    "$bin/tools/read_limit" "$pcap" | awk '{ print $3 }' >>"$work/read_limit"
    # and the bus alone: the file's bytes over hark's four hops, no work
    if [ -x "$bin/tools/bus_floor" ]; then
        "$bin/tools/bus_floor" "$pcap" 4 "$work" >>"$work/bus_floor" ||
            echo "bench: bus_floor failed" >&2
    fi
    rm -rf "$out/bench.db"
    rd="$work/run$i"
    t0=$(now)
    "$bin/hark" run -q -c "$cfg" -r "$pcap" --db "$out/bench.db" \
        --run-dir "$rd" >"$work/summary$i.txt" || {
        echo "bench: hark run failed (exit $?):" >&2
        cat "$work/summary$i.txt" >&2
        exit 1
    }
    t1=$(now)
    echo "$(took "$t0" "$t1") $rd/stats" >>"$work/hark"
    if command -v tcpdump >/dev/null; then
        timed "$work/tcpdump" tcpdump -q -n -r "$pcap" -w /dev/null
    fi
    if command -v httpry >/dev/null; then
        timed "$work/httpry" httpry -q -r "$pcap" -o /dev/null
    fi
done
cp "$work/summary$runs.txt" "$out/summary.txt"
# Accuracy from the last run's trail.
"$bin/hark" query --db "$out/bench.db" --json >"$out/trail.jsonl"
set -- --truth "$truth" --trail "$out/trail.jsonl" --runs "$work/hark" \
    --read-limit "$work/read_limit" --bytes "$(stat -c %s "$pcap")" \
    --preset "$preset"
[ -s "$work/tcpdump" ] && set -- "$@" --tcpdump "$work/tcpdump"
[ -s "$work/httpry" ] && set -- "$@" --httpry "$work/httpry"
[ -s "$work/bus_floor" ] && set -- "$@" --bus-floor "$work/bus_floor"
python3 scripts/bench_report.py "$@" | tee -a "$out/results.txt"
