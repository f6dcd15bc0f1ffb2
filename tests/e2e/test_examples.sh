#!/bin/bash
# test_examples.sh - the tap consumers in examples/ against a real pipeline.
#
# A live run on lo with the taps on tcp (bus.tap_base_port) and CURVE
# keys, as on a machine of its own. examples/tap_log.py (pyzmq, msgpack)
# and examples/tap_log (C: libzmq, msgpack-c; built by `make examples`)
# read correlate's tap with a reader's key the config lists in
# bus.peers; curl makes four transactions; each consumer prints the
# request and response record of every one (method, path, status,
# outcome), each once, the same lines. A reader whose key is not listed
# gets nothing.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl
TAP_C="$HARK_BIN/examples/tap_log"
[ -x "$TAP_C" ] || fail "$TAP_C is not built (make examples)"
"$PY" -c 'import zmq, msgpack; assert zmq.has("curve")' 2>/dev/null ||
    fail "needs python3-zmq with CURVE and python3-msgpack"

for k in this reader stranger; do
    "$HARK" keygen -o "$T/$k" >/dev/null || fail "hark keygen failed"
done
start_server
live_config
TAP_BASE=$((20000 + RANDOM % 20000))
cat >>"$LIVE_CFG" <<EOF
  tap_base_port: $TAP_BASE
  curve_key: $T/this.curve
  peers:
    127.0.0.1: $T/this.curve.pub
    reader: $T/reader.curve.pub
EOF
hark_start "${LIVE_ARGS[@]}"
live_ready
EP="tcp://127.0.0.1:$((TAP_BASE + 2))" # correlate's tap (docs/bus.md)
KEYS=(--key "$T/reader.curve" --server-key "$T/this.curve.pub")
"$PY" "$REPO/examples/tap_log.py" "$EP" "${KEYS[@]}" \
    >"$T/py.out" 2>"$T/py.err" &
PY_PID=$!
"$TAP_C" "$EP" "${KEYS[@]}" >"$T/c.out" 2>"$T/err.c" &
C_PID=$!
timeout 10 "$PY" "$REPO/examples/tap_log.py" "$EP" --key "$T/stranger.curve" \
    --server-key "$T/this.curve.pub" >"$T/stranger.out" 2>/dev/null &
STRANGER=$!
wait_for 10 grep -q reading "$T/py.err" || fail "tap_log.py did not start: $(cat "$T/py.err")"
wait_for 10 grep -q reading "$T/err.c" || fail "tap_log (C) did not start: $(cat "$T/err.c")"
sleep 1 # the subscriptions reach the tap

U="http://127.0.0.1:$SERVER_PORT"
curl -sS -o /dev/null "$U/api/v1/users" || fail "curl failed"
curl -sS -o /dev/null -X POST --data-binary '{"n":1}' "$U/api/v1/items" ||
    fail "curl failed"
curl -sS -o /dev/null "$U/missing" || fail "curl failed"
curl -sS -o /dev/null -X DELETE "$U/api/v1/items/7" || fail "curl failed"
WANT=("request GET /api/v1/users -" "response GET /api/v1/users 200 ok"
    "request POST /api/v1/items -" "response POST /api/v1/items 201 ok"
    "request GET /missing -" "response GET /missing 404 ok"
    "request DELETE /api/v1/items/7 -" "response DELETE /api/v1/items/7 204 ok")
read_all() {
    local w
    for w in "${WANT[@]}"; do grep -qxF "$w" "$1" || return 1; done
}
wait_for "$E2E_TIMEOUT" read_all "$T/py.out" ||
    fail "tap_log.py did not print every record: $(cat "$T/py.out" "$T/py.err")"
wait_for "$E2E_TIMEOUT" read_all "$T/c.out" ||
    fail "tap_log (C) did not print every record: $(cat "$T/c.out" "$T/err.c")"
kill "$PY_PID" "$C_PID" 2>/dev/null || :
wait "$PY_PID" "$C_PID" 2>/dev/null || :
# the same records from both, each once
diff <(grep -v probe "$T/py.out") <(grep -v probe "$T/c.out") ||
    fail "the two consumers disagree"
[ -z "$(grep -v probe "$T/py.out" | sort | uniq -d)" ] ||
    fail "a record was printed twice"
kill "$STRANGER" 2>/dev/null || :
wait "$STRANGER" 2>/dev/null || :
[ -s "$T/stranger.out" ] && fail "a reader without a listed key read records"
hark_stop INT
finish "examples/tap_log.py and examples/tap_log read every record off a CURVE tap"
