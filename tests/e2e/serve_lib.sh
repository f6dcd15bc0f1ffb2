# serve_lib.sh - helpers for the `hark serve` tests (source after lib.sh).
# shellcheck shell=bash disable=SC2034
#
#   serve_trail        the trail of serve_scenarios.py's capture in
#                      $SERVE_DB (its `hark query --json` in $T/trail.jsonl)
#   serve_start ARGS   `hark serve ARGS --listen 127.0.0.1:0` in the
#                      background; sets SERVE_PID and SERVE_URL
#   serve_stop         SIGTERM, and it must exit 0
# serve's stderr goes to $T/err.serve, which lib.sh's exit check reads for
# sanitizer reports.

SERVE_PID=
SERVE_URL=
SERVE_CFG="$T/serve.yaml"
SERVE_DB="$T/serve-db"

# Three relative paths with their own policies, so the latency chart has
# routes to compare; /static keeps 1 KiB of a response body; every wait
# is 2 s (the capture has a request no one answers).
serve_config() {
    cat >"$SERVE_CFG" <<EOF
# written by tests/e2e/serve_lib.sh for $E2E_NAME
service_groups:
  - name: Web
    relative_paths:
      - path: /
        policy: audit
      - path: /api
        policy: audit_api
      - path: /static
        policy: audit_static
policies:
  audit:
    - log: request
    - wait_for_response: 2s
    - log: response
  audit_api:
    - log: request
    - wait_for_response: 2s
    - log: response
  audit_static:
    - log: request
    - wait_for_response: 2s
    - log: { message: response, body: 1024 }
logger:
  db: "$SERVE_DB"
bus:
  run_dir: "$T/serve-run"
EOF
}

serve_trail() {
    need_bin hark hark-capture hark-reassemble hark-dispatch \
        hark-correlate hark-logger
    serve_config
    "$PY" "$E2E_DIR/serve_scenarios.py" "$T/serve.pcap" ||
        fail "serve_scenarios.py could not write the capture"
    hark_start run -c "$SERVE_CFG" -r "$T/serve.pcap"
    hark_wait "$E2E_TIMEOUT" || fail "hark run did not finish"
    [ "$HARK_RC" = 0 ] || fail "hark run exited $HARK_RC"
    query_json "$T/trail.jsonl" --db "$SERVE_DB" ||
        fail "hark query failed: $(cat "$T/trail.jsonl.err")"
    [ "$(count_kind "$T/trail.jsonl" response)" = 36 ] ||
        fail "the trail holds $(count_kind "$T/trail.jsonl" response)" \
            "responses, want 36"
}

# serve_start ARGS...: waits for the line that says where it listens.
serve_start() {
    rm -f "$T/serve.out"
    "$HARK" serve "$@" --listen 127.0.0.1:0 >"$T/serve.out" \
        2>>"$T/err.serve" &
    SERVE_PID=$!
    wait_for 10 grep -q "^hark serve: http://" "$T/serve.out" || {
        cat "$T/err.serve" >&2
        fail "hark serve did not start"
    }
    SERVE_URL=$(sed -n 's|^hark serve: \(http://[^ ]*\)/ .*|\1|p' \
        "$T/serve.out")
    [ -n "$SERVE_URL" ] || fail "no address in: $(cat "$T/serve.out")"
}

serve_stop() {
    [ -n "$SERVE_PID" ] || return 0
    kill -TERM "$SERVE_PID" 2>/dev/null || :
    local rc=0
    wait_for 10 eval '! kill -0 "$SERVE_PID" 2>/dev/null' ||
        kill -KILL "$SERVE_PID" 2>/dev/null || :
    wait "$SERVE_PID" || rc=$?
    SERVE_PID=
    return "$rc"
}

# lib.sh's cleanup runs after serve is stopped, with the test's status.
_serve_cleanup() {
    local rc=$?
    set +e
    serve_stop
    (exit "$rc")
    _e2e_cleanup
}
trap _serve_cleanup EXIT
