#!/bin/bash
# test_loss.sh - kill -9 of each stage under a bounded load: the loss hark
# reports covers the loss found, and a killed logger loses nothing.
#
# For each stage (logger first, then capture, reassemble-0, dispatch,
# correlate): a live run on lo, then tests/e2e/load.py sends LOAD_N
# requests, each on its own connection, at LOAD_RATE a second; once a
# third of them went out, the stage's process is killed with SIGKILL
# (the supervisor restarts it). After the load, SIGINT drains the run.
#   - logger: every request and response is in the trail exactly once,
#     no outage is recorded, hark verify passes and hark run exits 0;
#   - any other stage: hark run exits 3, its summary counts the outage,
#     the trail holds an outage record for the stage, and every request
#     missing from the trail was in flight during that outage; for the
#     capture, the connections the supervisor counted while it was down
#     are at least the requests missing (tests/e2e/check_loss.py).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl

LOAD_N=${LOAD_N:-450}
LOAD_RATE=${LOAD_RATE:-150}
start_server
U="http://127.0.0.1:$SERVER_PORT"

loaded() { [ "$(wc -l 2>/dev/null <"$T/load.tsv" || echo 0)" -ge "$1" ]; }
# the last request of the load reached the trail (or was lost for good)
settled() {
    "$HARK" query "${QUERY_ARGS[@]}" --json 2>/dev/null |
        grep -q "/load/$((LOAD_N - 1))\""
}

kill_under_load() {
    local stage=$1 mode=$2
    rm -rf "$T/db" "$T/run" "$T/load.tsv"
    live_config
    hark_start "${LIVE_ARGS[@]}"
    live_ready
    "$PY" "$E2E_DIR/load.py" --port "$SERVER_PORT" --count "$LOAD_N" \
        --rate "$LOAD_RATE" --out "$T/load.tsv" &
    local load=$!
    wait_for "$E2E_TIMEOUT" loaded $((LOAD_N / 3)) ||
        fail "$stage: the load did not start"
    local pid
    pid=$(stats_field "$T/run" "$stage" pid)
    pid_alive "$pid" || fail "$stage: no live pid in its stats file"
    kill -KILL "$pid"
    wait "$load" || fail "$stage: the load failed"
    wait_for 15 settled || note "$stage: the last request is not in the trail"
    sleep 1
    hark_stop INT 60
    query_json "$T/trail.jsonl" "${QUERY_ARGS[@]}" ||
        fail "$stage: hark query failed: $(cat "$T/trail.jsonl.err")"
    local verdict
    verdict=$("$PY" "$E2E_DIR/check_loss.py" "$T/trail.jsonl" "$T/load.tsv" \
        "$stage" "$mode") || problem "$verdict"
    note "$verdict"
    if [ "$mode" = lossless ]; then
        [ "$HARK_RC" = 0 ] ||
            problem "$stage: hark run exited $HARK_RC, want 0 (nothing lost)"
        local out
        out=$("$HARK" verify --db "$T/db" 2>&1) ||
            problem "$stage: hark verify: $out"
    else
        [ "$HARK_RC" = 3 ] ||
            problem "$stage: hark run exited $HARK_RC, want 3 (a stage died)"
        grep -q "^  outages    1:" "$T/hark.out" &&
            grep -q "^    $stage " "$T/hark.out" ||
            problem "$stage: the summary does not report the outage:" \
                "$(cat "$T/hark.out")"
    fi
}

kill_under_load logger lossless
for stage in capture reassemble-0 dispatch correlate; do
    kill_under_load "$stage" reported
done
finish "ok: the reported loss covers the loss found for every stage;" \
    "a killed logger lost nothing"
