#!/bin/sh
# bench.sh BINDIR - throughput and accuracy on ../shared/bench's workload.
#   BENCH_PRESET=tiny|small|medium|large (default medium)
#   BENCH_SHARDS=N (default: the config's, 2)
# The capture is generated once into build/bench/ (it is large and
# reproducible, so it stays out of the repository).
set -eu
bin=$1
preset=${BENCH_PRESET:-medium}
shared=${HARK_SHARED:-../shared}
gen="$shared/bench/gen_http_pcap.py"
out=build/bench
mkdir -p "$out"
pcap="$out/$preset.pcap"
truth="$out/$preset.truth.jsonl"
if [ ! -s "$pcap" ] || [ ! -s "$truth" ]; then
    [ -f "$gen" ] || { echo "bench: $gen not found (set HARK_SHARED)" >&2; exit 1; }
    echo "bench: generating the $preset workload into $pcap"
    python3 "$gen" --preset "$preset" -o "$pcap" -t "$truth" -q
fi
run_dir=$(mktemp -d /tmp/hark-bench.XXXXXX)
trap 'rm -rf "$run_dir"' EXIT INT TERM
# Run as root, the stages run as supervisor.run_as: they must pass through.
chmod 0711 "$run_dir"
cfg="$run_dir/bench.yaml"
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
rm -rf "$out/bench.db"
size=$(stat -c %s "$pcap")
start=$(date +%s.%N)
"$bin/hark" run -q -c "$cfg" -r "$pcap" --db "$out/bench.db" \
    --run-dir "$run_dir/run" > "$out/summary.txt"
end=$(date +%s.%N)
"$bin/hark" query --db "$out/bench.db" --json > "$out/trail.jsonl"
python3 scripts/bench_report.py --truth "$truth" --trail "$out/trail.jsonl" \
    --stats "$run_dir/run/stats" --seconds "$(awk "BEGIN{print $end - $start}")" \
    --bytes "$size" --preset "$preset" | tee -a "$out/results.txt"
