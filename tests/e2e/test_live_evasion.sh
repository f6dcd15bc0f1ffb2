#!/bin/bash
# test_live_evasion.sh - attacks injected into a live connection on lo, as
# the real Linux stack treats them (tests/e2e/inject.py): an in-window RST
# not at the expected byte (RFC 5961: ignored, the connection goes on) and
# a decoy request with a wrong TCP checksum (dropped by the server). The
# trail must hold exactly the requests the server answered, the decoy
# nowhere, and the counters must say what hark refused.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark
start_server
live_config
hark_start "${LIVE_ARGS[@]}"
live_ready
note "pipeline live on lo, server on port $SERVER_PORT"

"$PY" "$E2E_DIR/inject.py" "$SERVER_PORT" "$T/answered" ||
    fail "the injection run failed"
# The server's own word: it answered every real request on the one
# connection, the RST notwithstanding, and never saw the decoy.
[ "$(awk '{print $1}' "$T/answered" | tr '\n' ' ')" = \
    "/one /after-rst /real " ] ||
    fail "the server did not answer as Linux should: $(cat "$T/answered")"

{
    printf 'conn\tidx\tmethod\tpath\tstatus\treq_body_len\tresp_body_len\n'
    awk -v OFS='\t' '{print 0, NR - 1, "GET", $1, $2, 0, $3}' "$T/answered"
} >"$T/want.tsv"
wait_trail "$T/want.tsv" "the 3 answered requests"
hark_stop INT
query_json "$T/trail.jsonl" "${QUERY_ARGS[@]}" || fail "hark query failed"
grep -q '"/decoy' "$T/trail.jsonl" &&
    fail "the decoy the server dropped is in the trail"
rst=0 bad=0
for id in $(ls "$T/run/stats" | sed -n 's/^\(reassemble-[0-9]*\)\.json$/\1/p'); do
    rst=$((rst + $(stats_counter "$T/run" "$id" rst_ignored)))
    bad=$((bad + $(stats_counter "$T/run" "$id" checksum_bad)))
done
[ "$rst" -ge 1 ] || fail "rst_ignored is $rst: the RST was not seen or was believed"
[ "$bad" -ge 1 ] || fail "checksum_bad is $bad: the decoy was not refused"
note "ok: 3 requests answered and logged, RST ignored ($rst), decoy refused ($bad)"
finish
