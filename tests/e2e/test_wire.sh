#!/bin/bash
# test_wire.sh - crafted captures of what strict parsing drops.
#
# tests/e2e/wire_cases.py writes one capture per case (request lines
# servers answer, a one-digit status, HTTP after binary bytes, a CONNECT
# tunnel, 802.11/NFLOG/MPLS link types) with the transactions hark must
# log; each goes through `hark run -r` and its trail and stats are
# checked, and the summary's "not HTTP/1.x" line against the stats. Where tshark is installed it is asked too, for the link types:
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
    # what was captured but is in no record: the summary says it, as the
    # reassemblers counted it
    if ! "$PY" - "$T/hark.out" "$run"/stats/reassemble-*.json \
        >>"$T/nothttp" 2>"$T/$name.nothttp" <<'PY'; then
import json, re, sys
text = open(sys.argv[1]).read()
skipped = tunneled = 0
for p in sys.argv[2:]:
    c = json.load(open(p)).get("counters", {})
    skipped += c.get("http_resync_bytes", 0)
    tunneled += c.get("tunnel_bytes_client", 0) + c.get("tunnel_bytes_server", 0)
m = re.search(r"not HTTP/1\.x: (\d+) bytes skipped, (\d+) bytes in tunnels",
              text)
got = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
if got != (skipped, tunneled) or bool(m) != bool(skipped or tunneled):
    sys.exit("summary %r, the stats %d skipped and %d in tunnels"
             % (m and m.group(0), skipped, tunneled))
print(skipped, tunneled)
PY
        problem "$name: $(cat "$T/$name.nothttp")"
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
# the summary check above saw both kinds (socks_then_http, connect_smtp)
awk '$1 > 0 { s = 1 } $2 > 0 { t = 1 } END { exit !(s && t) }' \
    "$T/nothttp" || problem "no case had skipped and tunnel bytes"
finish "ok: $n cases"
