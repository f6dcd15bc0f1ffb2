#!/bin/bash
# test_determinism.sh - the same capture gives the same trail.
#
# Two runs of `hark run -r tests/data/demo.pcap` into two databases must
# give byte-identical `hark query --json` output (timeouts and record
# times come from packet time, never the wall clock), and both trails must
# verify. (The hash chain follows write order, which depends on how the
# shards interleave, so its head may differ: see common/store.h.)
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
[ -f hark.yaml ] || fail "hark.yaml is missing at the repo root"

for i in 1 2; do
    hark_start run -c hark.yaml -r "$DEMO_PCAP" --db "$T/db$i" \
        --run-dir "$T/run$i"
    hark_wait "$E2E_TIMEOUT" ||
        fail "run $i: hark run -r demo.pcap still running after ${E2E_TIMEOUT}s"
    [ "$HARK_RC" = 0 ] || fail "run $i: hark run -r demo.pcap exited $HARK_RC"
    cp "$T/hark.err" "$T/hark$i.err"
    query_json "$T/trail$i.jsonl" -c hark.yaml --db "$T/db$i" ||
        fail "run $i: hark query --json failed: $(cat "$T/trail$i.jsonl.err")"
    [ -s "$T/trail$i.jsonl" ] || fail "run $i: the trail is empty"
    "$HARK" verify --db "$T/db$i" >"$T/verify$i" 2>&1 ||
        fail "run $i: hark verify failed: $(cat "$T/verify$i")"
done

if ! cmp -s "$T/trail1.jsonl" "$T/trail2.jsonl"; then
    echo "--- first differing records (run 1 / run 2):" >&2
    diff "$T/trail1.jsonl" "$T/trail2.jsonl" | head -n 8 | cut -c1-400 >&2
    fail "two runs of demo.pcap gave different 'hark query --json' output"
fi
c1=$(sed -n 's/^ok: \([0-9]*\) records.*/\1/p' "$T/verify1")
c2=$(sed -n 's/^ok: \([0-9]*\) records.*/\1/p' "$T/verify2")
if [ -z "$c1" ] || [ "$c1" != "$c2" ] ||
    [ "$c1" != "$(wc -l <"$T/trail1.jsonl")" ]; then
    fail "hark verify disagrees with the trail ($(wc -l <"$T/trail1.jsonl")" \
        "records): $(cat "$T/verify1") / $(cat "$T/verify2")"
fi

note "ok: $(wc -l <"$T/trail1.jsonl") records identical in two runs;" \
    "verify: $(cat "$T/verify1") / $(cat "$T/verify2")"
