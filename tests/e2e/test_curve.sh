#!/bin/bash
# test_curve.sh - the README's two-machine layout (every link, the query
# socket and the taps on tcp://127.0.0.1) against a neighbour without the
# keys.
#
# hark keygen makes this machine's key pair and a stranger's. A config
# with tcp:// endpoints and no keys is refused (exit 2) until it says
# bus.insecure: true. Then two live runs on lo with the same traffic (each
# request carries a canary Authorization header) and the same forger
# (tests/e2e/forger.py, pyzmq, once without CURVE and once with the
# stranger's key):
#   - insecure (the control): the forger reads the taps (which still hide
#     the canary: taps show what a policy would redact as [redacted]),
#     puts a DELETE /admin/forged record into the trail, reads the trail
#     from the query port and stops the logger with forged eofs - so each
#     check below can fail;
#   - with bus.curve_key and bus.peers: every one of those is refused, the
#     logger logs what comes after the forged eofs, hark tap and hark
#     query with the keys still work, and no tap, even for the keyed
#     reader, shows the canary.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl
/usr/bin/python3 -c 'import zmq, msgpack; assert zmq.has("curve")' \
    2>/dev/null || skip "python3-zmq with CURVE and python3-msgpack needed"

"$HARK" keygen -o "$T/this" >/dev/null || fail "hark keygen failed"
"$HARK" keygen -o "$T/stranger" >/dev/null || fail "hark keygen failed"
THIS_PUB=$(cut -d' ' -f2 <"$T/this.curve.pub")
CANARY="canary-$RANDOM$RANDOM"

start_server
P_R0=$(free_port) P_R1=$(free_port) P_D=$(free_port) P_C=$(free_port)
P_L=$(free_port) P_Q=$(free_port)
# taps: base + 0..3, +10.., +80..99; a random base well inside the range
TAP_BASE=$((20000 + RANDOM % 20000))

# write_config FILE KEYS: the tcp layout; KEYS is the bus lines about keys
write_config() {
    cat >"$1" <<EOF
capture:
  device: lo
  filter: "tcp port $SERVER_PORT"
logger:
  db: "$T/db-$(basename "$1" .yaml)"
supervisor:
  drain_timeout: 3s
bus:
  run_dir: "$T/run-$(basename "$1" .yaml)"
  reassemble: [tcp://127.0.0.1:$P_R0, tcp://127.0.0.1:$P_R1]
  dispatch: tcp://127.0.0.1:$P_D
  correlate: tcp://127.0.0.1:$P_C
  logger: tcp://127.0.0.1:$P_L
  query: tcp://127.0.0.1:$P_Q
  tap_base_port: $TAP_BASE
$2
EOF
}

write_config "$T/nokeys.yaml" ""
# bounded: a hark that accepted the config would run until stopped
timeout -s INT 20 "$HARK" run -c "$T/nokeys.yaml" >"$T/nokeys.out" 2>&1 &&
    rc=0 || rc=$?
[ "$rc" = 2 ] || fail "tcp:// without keys: hark run exited $rc, want 2"
grep -q "no CURVE keys are set" "$T/nokeys.out" ||
    fail "tcp:// without keys: no clear refusal: $(cat "$T/nokeys.out")"
timeout -s INT 20 "$HARK_BIN/hark-logger" -c "$T/nokeys.yaml" \
    >"$T/nokeys.logger" 2>&1 && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "tcp:// without keys: hark-logger exited $rc, want 2"

write_config "$T/insecure.yaml" "  insecure: true"
write_config "$T/keys.yaml" "  curve_key: $T/this.curve
  peers:
    127.0.0.1: $T/this.curve.pub"

U="http://127.0.0.1:$SERVER_PORT"
traffic() { # traffic TAG: two requests with the canary
    curl -s -o /dev/null -H "Authorization: Bearer $CANARY" "$U/api/v1/users/42?$1" ||
        fail "curl failed"
    curl -s -o /dev/null -H "Authorization: Bearer $CANARY" \
        -X POST --data-binary 'x=1' "$U/api/v1/items?$1" || fail "curl failed"
}
tap_eps() {
    local e="" p
    for p in 0 1 2 3 10 11; do e="$e tcp://127.0.0.1:$((TAP_BASE + p))"; done
    echo "$e"
}
forge() { # forge NAME WHAT ENDPOINT... : runs the forger twice, no key and
    # the stranger's; output in $T/forge-NAME-WHAT
    {
        "$PY" "$E2E_DIR/forger.py" "$2" "${@:3}" --canary "$CANARY"
        "$PY" "$E2E_DIR/forger.py" "$2" "${@:3}" --canary "$CANARY" \
            --key "$T/stranger.curve" --server-key "$THIS_PUB"
    } >"$T/forge-$1-$2" 2>&1
}
trail_of() { # trail_of NAME: the trail of run NAME as JSON lines
    "$HARK" query -c "$T/$1.yaml" --json >"$T/trail-$1.jsonl" 2>"$T/q.err" ||
        fail "hark query -c $1.yaml failed: $(cat "$T/q.err")"
}
has_in_trail() { grep -q "$2" "$T/trail-$1.jsonl"; }

# run NAME: a live run with the forger at work while traffic flows
run() {
    local name=$1 cfg="$T/$1.yaml"
    QUERY_ARGS=(-c "$cfg")
    hark_start run -c "$cfg"
    wait_for "$E2E_TIMEOUT" test -f "$T/run-$name/stats/logger.json" ||
        fail "$name: the pipeline did not start"
    LOGGER_PID=$(stats_field "$T/run-$name" logger pid)
    # wait until records flow end to end
    local n=0
    until { traffic "warmup$n"; sleep 0.5; "$HARK" query -c "$cfg" --json \
        2>/dev/null | grep -q "warmup"; }; do
        n=$((n + 1))
        [ "$n" -lt 40 ] || fail "$name: no record reached the trail"
        hark_alive || fail "$name: hark run exited"
    done
    forge "$name" tap $(tap_eps) &
    local tp=$!
    sleep 0.5
    traffic "during-tap"
    wait "$tp"
    forge "$name" record "tcp://127.0.0.1:$P_L"
    forge "$name" query "tcp://127.0.0.1:$P_Q"
    forge "$name" eof "tcp://127.0.0.1:$P_L"
    sleep 1
    traffic "after-eof"
    sleep 2
}

# ---- the control: without CURVE the forger gets everywhere ----
run insecure
grep -q "bus.insecure: .* without authentication" "$T/hark.err" ||
    fail "insecure: no warning about bus.insecure"
grep -q "tap: received [1-9]" "$T/forge-insecure-tap" ||
    fail "control: the forger read nothing off the taps: $(cat "$T/forge-insecure-tap")"
# even then the taps hide what a policy redacts
grep -q "canary yes" "$T/forge-insecure-tap" &&
    fail "control: a tap showed the Authorization canary"
grep -q "query: answered" "$T/forge-insecure-query" ||
    fail "control: the forger got no answer from the query port"
pid_alive "$LOGGER_PID" &&
    fail "control: the forged eofs did not stop the logger"
hark_stop INT 60
trail_of insecure
has_in_trail insecure '/admin/forged' ||
    fail "control: the forged record is not in the trail"
note "control: without CURVE the forger read the taps, wrote a record," \
    "read the trail and stopped the logger"

# ---- with keys: refused everywhere ----
run keys
for w in tap record query eof; do
    note "forger $w: $(tr '\n' ' ' <"$T/forge-keys-$w")"
done
grep -q "tap: received 0 canary no" "$T/forge-keys-tap" &&
    [ "$(grep -c "tap: received 0 canary no" "$T/forge-keys-tap")" = 2 ] ||
    fail "a tap answered the forger: $(cat "$T/forge-keys-tap")"
[ "$(grep -c "query: silent" "$T/forge-keys-query")" = 2 ] ||
    fail "the query port answered the forger: $(cat "$T/forge-keys-query")"
pid_alive "$LOGGER_PID" ||
    fail "the logger stopped after the forged eofs"
refused=$(stats_counter "$T/run-keys" logger curve_refused)
[ "$refused" -gt 0 ] || fail "the logger counted no refused key"
# the keyed reader: records on the taps, and no canary even there
"$HARK" tap -c "$T/keys.yaml" msg log >"$T/tap-keys.jsonl" \
    2>"$T/tap-keys.err" &
TAPPER=$!
sleep 1
traffic "keyed-tap"
tapped() { grep -q '"Authorization","\[redacted\]"' "$T/tap-keys.jsonl"; }
wait_for 20 tapped || {
    kill "$TAPPER" 2>/dev/null
    fail "hark tap with the keys: no request with Authorization" \
        "[redacted]: $(head -c 600 "$T/tap-keys.jsonl") $(cat "$T/tap-keys.err")"
}
sleep 1
kill "$TAPPER" 2>/dev/null
wait "$TAPPER" 2>/dev/null || :
grep -q '"topic":"log"' "$T/tap-keys.jsonl" ||
    fail "hark tap with the keys: no log frame"
grep -q "$CANARY" "$T/tap-keys.jsonl" &&
    fail "a tap showed the Authorization canary"
trail_of keys  # hark query over tcp with the keys, while it runs
has_in_trail keys 'after-eof' ||
    fail "requests after the forged eofs are not in the trail"
hark_stop INT 60
[ "$HARK_RC" = 0 ] || fail "hark run with keys exited $HARK_RC"
trail_of keys
has_in_trail keys '/admin/forged' && fail "the forged record is in the trail"
has_in_trail keys 'after-eof' || fail "the trail lacks what came after"
grep -q "$CANARY" "$T/trail-keys.jsonl" &&
    fail "the trail holds the Authorization canary"
finish "ok: with CURVE the forger read nothing, wrote nothing, stopped" \
    "nothing ($refused refused connections at the logger)"
