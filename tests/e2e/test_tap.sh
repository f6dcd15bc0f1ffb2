#!/bin/bash
# test_tap.sh - your own consumers on the bus: `hark tap` and the Python
# consumer of docs/bus.md, both subscribed while hark runs live on lo.
#
# Each must see the audit records of the transactions curl makes (method,
# path, status, outcome) in `log` frames published by correlate's tap, and
# `hark tap stats` must show stats frames, without slowing the pipeline.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl
/usr/bin/python3 -c 'import zmq, msgpack' 2>/dev/null ||
    skip "python3-zmq and python3-msgpack are not installed"

start_server
live_config
hark_start "${LIVE_ARGS[@]}"
live_ready
note "pipeline live on lo, server on port $SERVER_PORT"

"$HARK" tap -c "$LIVE_CFG" log >"$T/tap.jsonl" 2>"$T/tap.err" &
TAP_PID=$!
"$HARK" tap -c "$LIVE_CFG" --count 3 stats >"$T/stats.jsonl" 2>&1 &
STATS_PID=$!
# The consumer from docs/bus.md, pointed at this run's correlate tap.
/usr/bin/python3 - "ipc://$T/run/tap-correlate" >"$T/py.txt" 2>&1 <<'PY' &
import sys, zmq, msgpack
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.connect(sys.argv[1])
sub.setsockopt(zmq.SUBSCRIBE, b"log")
while True:
    topic, body = sub.recv_multipart()
    frame = msgpack.unpackb(body, raw=False, unicode_errors="surrogateescape")
    for r in frame["records"]:
        print(r["kind"], r["method"], r["uri"], r.get("status"),
              r.get("outcome"), flush=True)
PY
PY_PID=$!
on_exit 'kill $TAP_PID $STATS_PID $PY_PID 2>/dev/null'
sleep 1 # a SUB socket sees only what is published after it joined

U="http://127.0.0.1:$SERVER_PORT"
curl -s -o /dev/null "$U/api/v1/users/42" || fail "curl failed"
curl -s -o /dev/null -X POST --data-binary 'x=1' "$U/api/v1/items" ||
    fail "curl failed"

py_has() { grep -q "^$1\$" "$T/py.txt"; }
wait_for "$E2E_TIMEOUT" py_has "response GET /api/v1/users/42 200 ok" ||
    fail "python consumer: no response record for GET; got: $(cat "$T/py.txt")"
wait_for "$E2E_TIMEOUT" py_has "response POST /api/v1/items 201 ok" ||
    fail "python consumer: no response record for POST; got: $(cat "$T/py.txt")"
# Request records are made by dispatch; correlate passes them on, so its
# tap carries the whole trail.
py_has "request GET /api/v1/users/42 None None" ||
    fail "python consumer: no request record for GET; got: $(cat "$T/py.txt")"

tap_has() {
    /usr/bin/python3 - "$T/tap.jsonl" "$1" "$2" "$3" <<'PY'
import json, sys
path, method, uri, status = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for line in open(path):
    f = json.loads(line)
    if f["topic"] != "log":
        continue
    for r in f["frame"]["records"]:
        if (r["kind"] == "response" and r["method"] == method and
                r["uri"] == uri and r.get("status") == status and
                r.get("outcome") == "ok"):
            sys.exit(0)
sys.exit(1)
PY
}
wait_for "$E2E_TIMEOUT" tap_has GET /api/v1/users/42 200 ||
    fail "hark tap log: no response record for GET: $(head -c 2000 "$T/tap.jsonl")"
tap_has POST /api/v1/items 201 ||
    fail "hark tap log: no response record for POST"

stats_done() { ! kill -0 "$STATS_PID" 2>/dev/null; }
wait_for "$E2E_TIMEOUT" stats_done || fail "hark tap --count 3 stats did not end"
n=$(grep -c '"topic":"stats"' "$T/stats.jsonl" || :)
[ "$n" = 3 ] || fail "hark tap stats printed $n stats frames, want 3: $(cat "$T/stats.jsonl")"
grep -q '"counters":{' "$T/stats.jsonl" || fail "stats frames without counters"

hark_stop INT
[ "$HARK_RC" = 0 ] || fail "hark run exited $HARK_RC after SIGINT"
note "ok: hark tap and the Python consumer saw the records"
