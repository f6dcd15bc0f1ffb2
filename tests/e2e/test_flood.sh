#!/bin/bash
# test_flood.sh - 600,000 spoofed SYNs, then 50 normal exchanges.
#
# tests/e2e/flood.py writes the capture; `hark run -r` with
# reassemble.memcap 64MiB must log all 50 exchanges (ok, nothing
# refused: half-open flows give way, whatever their age) while each
# reassembler's peak RSS (max_rss_kb of its final stats) stays within
# the memcap above its peak on the 50 exchanges alone. Under the
# sanitizer build the allowance also covers ASan's shadow (1/8) and a
# quarantine bounded to 16 MiB for these runs.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
MEMCAP_MIB=64
cat >"$T/flood.yaml" <<EOF
reassemble:
  memcap: ${MEMCAP_MIB}MiB
EOF
"$PY" "$E2E_DIR/flood.py" "$T/flood.pcap" 600000 50 ||
    fail "flood.py could not write the capture"
"$PY" "$E2E_DIR/flood.py" "$T/calm.pcap" 0 50 ||
    fail "flood.py could not write the capture"
allow_kb=$((MEMCAP_MIB * 1024))
if grep -q __asan_init "$HARK_BIN/hark-reassemble"; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=16"
    allow_kb=$((allow_kb + allow_kb / 8 + 16 * 1024))
fi

# peak RSS of the reassemblers of run dir $1 (the largest)
peak_rss() {
    local f max=0 v
    for f in "$1"/stats/reassemble-*.json; do
        v=$(stats_counter "$1" "$(basename "$f" .json)" max_rss_kb)
        [ "$v" -le "$max" ] || max=$v
    done
    echo "$max"
}

for run in calm flood; do
    hark_start run -q -c "$T/flood.yaml" -r "$T/$run.pcap" \
        --db "$T/db-$run" --run-dir "$T/run-$run"
    hark_wait 300 || fail "$run: hark run still running after 300 s"
    [ "$HARK_RC" = 0 ] ||
        fail "$run: hark run exited $HARK_RC: $(tail -5 "$T/hark.err")"
done
calm=$(peak_rss "$T/run-calm")
flood=$(peak_rss "$T/run-flood")
[ "$calm" -gt 0 ] && [ "$flood" -gt 0 ] || fail "no max_rss_kb in the stats"
note "peak RSS per reassembler: ${calm} KiB calm, ${flood} KiB flooded" \
    "(allowed: ${allow_kb} KiB more)"
[ "$flood" -le $((calm + allow_kb)) ] ||
    problem "flooded reassembler peaked at ${flood} KiB, over ${calm} +" \
        "${allow_kb} KiB"

query_json "$T/trail.jsonl" --db "$T/db-flood" ||
    fail "hark query: $(cat "$T/trail.jsonl.err")"
check_trail "$T/trail.jsonl" "$T/flood.pcap.expect.tsv" --exact ||
    problem "the 50 exchanges after the flood are not all in the trail"
refused=0 halfopen=0
for f in "$T"/run-flood/stats/reassemble-*.json; do
    id=$(basename "$f" .json)
    refused=$((refused + $(stats_counter "$T/run-flood" "$id" flows_refused)))
    halfopen=$((halfopen + $(stats_counter "$T/run-flood" "$id" \
        flows_evicted_halfopen)))
done
[ "$refused" = 0 ] || problem "$refused flows refused"
[ "$halfopen" -gt 0 ] || problem "no half-open flow evicted: no pressure?"
finish "ok: 50 exchanges after 600,000 SYNs; $halfopen half-open flows evicted"
