#!/bin/bash
# test_live_odd.sh - request lines real servers answer, sniffed on lo.
#
# Python's http.server and nginx on 127.0.0.1 at free ports, `hark run`
# sniffing both; tests/e2e/odd_requests.py sends each odd request line
# (HTTP/0.9, odd versions, tabs, an extra word, a blank, NUL or control
# byte in the target) to each server on its own connection and notes what
# came back. Every request a server answered must be in the trail as it
# was sent, flagged malformed, and paired with the server's status line
# when it sent one (Python answers some with a bare body, nginx answers
# "GET /x" that way).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl nginx

mkdir -p "$T/www"
echo hello >"$T/www/index.html"
start_http_server "$T/www"
start_nginx "$T/www"

SERVER_PORT=$PY_PORT
live_config
filter="tcp port $PY_PORT or tcp port $NGINX_PORT"
LIVE_ARGS=(run -c "$LIVE_CFG" -i lo -f "$filter" --db "$T/db"
    --run-dir "$T/run")
hark_start "${LIVE_ARGS[@]}"
live_ready
note "pipeline live; http.server on $PY_PORT, nginx on $NGINX_PORT"

"$PY" "$E2E_DIR/odd_requests.py" send "$T/sent.json" "$PY_PORT" \
    "$NGINX_PORT" || fail "could not send the requests"
# the last connections close; give the pipeline a moment, then drain it
sleep 2
hark_stop INT
[ "$HARK_RC" = 0 ] || fail "hark run exited $HARK_RC after SIGINT"
query_json "$T/trail.jsonl" "${QUERY_ARGS[@]}" ||
    fail "hark query: $(cat "$T/trail.jsonl.err")"
"$PY" "$E2E_DIR/odd_requests.py" check "$T/sent.json" "$T/trail.jsonl" ||
    fail "odd request lines missing or wrong in the trail"
finish "ok"
