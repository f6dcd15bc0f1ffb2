#!/bin/bash
# test_waits.sh - "Wait for Response Packets" on responses that start in
# time and end late, and on responses that come before their request.
#
# Captures written by tests/e2e/wait_scenarios.py (with tests/tools/
# pcapgen.py), under a 2 s timeout:
#   slow.pcap      the response's first byte comes 0.5 s after the
#                  request, its last 3.5 s after: ok by default (until:
#                  first_byte), timeout then late with until: last_byte.
#   early413.pcap  a 413 answers a large POST while it is still uploading:
#                  the response reaches correlate before its request and
#                  is paired with it, both records flagged early_response.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger

"$PY" "$E2E_DIR/wait_scenarios.py" "$T" ||
    fail "wait_scenarios.py could not write the captures"

policy() { # NAME WAIT: a config whose audit policy waits as WAIT says
    cat >"$T/$1.yaml" <<EOT
policies:
  audit:
    - log: request
    - wait_for_response: $2
    - log: response
EOT
}
policy first "2s"
policy last "{timeout: 2s, until: last_byte}"

# trail CONFIG CAPTURE EXPECTED: the run's trail as text is EXPECTED.
trail() {
    local name=$1-$2
    hark_start run -c "$T/$1.yaml" -r "$T/$2.pcap" --db "$T/db-$name" \
        --run-dir "$T/run-$name"
    hark_wait "$E2E_TIMEOUT" || fail "$name: hark run still running"
    [ "$HARK_RC" = 0 ] || fail "$name: hark run exited $HARK_RC"
    query_json "$T/$name.jsonl" --db "$T/db-$name" ||
        fail "$name: hark query failed: $(cat "$T/$name.jsonl.err")"
    "$PY" "$E2E_DIR/trail_text.py" "$T/$name.jsonl" >"$T/$name.txt"
    printf '%s\n' "$3" >"$T/$name.want"
    diff -u "$T/$name.want" "$T/$name.txt" >"$T/$name.diff" ||
        problem "$name: the trail differs (want/got):
$(cat "$T/$name.diff")"
}

trail first slow "request 0 GET /slow - - -
response 0 GET /slow 200 ok -"
trail last slow "request 0 GET /slow - - -
response 0 GET /slow 200 late -
response 0 GET /slow - timeout -"
trail first early413 "request 0 POST /upload - - truncated,early_response
response 0 POST /upload 413 ok early_response"
held=$(stats_counter "$T/run-first-early413" correlate early_held)
[ "$held" = 1 ] ||
    problem "early413: correlate held $held early responses, want 1"

finish "ok: slow responses, until first and last byte, and an early 413"
