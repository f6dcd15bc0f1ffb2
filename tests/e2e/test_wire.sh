#!/bin/bash
# test_wire.sh - crafted captures of what strict parsing drops.
#
# tests/e2e/wire_cases.py writes one capture per case (request lines
# servers answer, a one-digit status, HTTP after binary bytes, a CONNECT
# tunnel, 802.11/NFLOG/MPLS link types) with the transactions hark must
# log; each goes through `hark run -r` and its trail and stats are
# checked. Where tshark is installed it is asked too, for the link types:
# it must see the same request (the generator writes what it decodes).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
"$PY" "$E2E_DIR/wire_cases.py" make "$T/cases" ||
    fail "wire_cases.py could not write the captures"

n=0
for pcap in "$T"/cases/*.pcap; do
    name=$(basename "$pcap" .pcap)
    run="$T/run-$name"
    hark_start run -q -c hark.yaml -r "$pcap" --db "$T/db-$name" \
        --run-dir "$run"
    hark_wait "$E2E_TIMEOUT" || fail "$name: hark run still running"
    # 3 when the capture itself misses bytes, and the summary says so
    [ "$HARK_RC" = 0 ] ||
        { [ "$HARK_RC" = 3 ] && grep -q "not captured: [1-9]" "$T/hark.out"; } ||
        fail "$name: hark run exited $HARK_RC: $(tail -5 "$T/hark.err")"
    query_json "$T/$name.jsonl" --db "$T/db-$name" ||
        fail "$name: hark query: $(cat "$T/$name.jsonl.err")"
    if ! "$PY" "$E2E_DIR/wire_cases.py" check "$T/cases/$name.expect.json" \
        "$T/$name.jsonl" "$run"/stats/reassemble-*.json >"$T/$name.check" \
        2>&1; then
        problem "$name:"$'\n'"$(cat "$T/$name.check")"
    fi
    if [[ $name == link_* ]] && command -v tshark >/dev/null; then
        seen=$(tshark -r "$pcap" -Y http.request -T fields \
            -e http.request.uri 2>/dev/null)
        [ "$seen" = /link ] ||
            problem "$name: tshark reads the capture as '$seen', not /link"
    fi
    n=$((n + 1))
done
[ "$n" -ge 14 ] || fail "only $n cases"
finish "ok: $n cases"
