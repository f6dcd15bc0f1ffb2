#!/bin/bash
# test_restart.sh - the supervisor restarts a stage killed with SIGKILL.
#
# A live run as in test_live.sh; for each stage in turn (capture,
# reassemble-0, dispatch, correlate, logger): kill -9 the pid its stats
# file names, then wait until the stats file names a different, live pid
# and hark's stderr has one more line saying "restarted". After all the
# kills the pipeline must still work end to end: new transactions reach
# the trail and SIGINT drains it. What the killed stages held is gone, so
# hark exits 3 and the trail holds an outage record for each of them but
# the logger (which loses nothing: correlate sends it again what it never
# committed).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl
[ -f hark.yaml ] || fail "hark.yaml is missing at the repo root"

start_server
live_config
hark_start "${LIVE_ARGS[@]}"
live_ready
note "pipeline live on lo, server on port $SERVER_PORT"

restarted_lines() { grep -c restarted "$T/hark.err" || :; }
new_pid_up() {
    local p
    p=$(stats_field "$T/run" "$1" pid)
    [ -n "$p" ] && [ "$p" != "$2" ] && pid_alive "$p"
}
more_restarts() { [ "$(restarted_lines)" -gt "$1" ]; }

for id in capture reassemble-0 dispatch correlate logger; do
    old=$(stats_field "$T/run" "$id" pid)
    [ -n "$old" ] || fail "no pid in $T/run/stats/$id.json"
    pid_alive "$old" || fail "$id: pid $old from its stats file is not running"
    grep -q hark- "/proc/$old/cmdline" 2>/dev/null ||
        fail "$id: pid $old is not a hark stage: $(tr '\0' ' ' <"/proc/$old/cmdline")"
    before=$(restarted_lines)
    kill -KILL "$old"
    wait_for "$E2E_TIMEOUT" new_pid_up "$id" "$old" || {
        hark_alive || fail "hark run exited after kill -9 of $id"
        fail "$id: killed pid $old, no new live pid in its stats file" \
            "after ${E2E_TIMEOUT}s: $(cat "$T/run/stats/$id.json")"
    }
    wait_for "$E2E_TIMEOUT" more_restarts "$before" ||
        fail "$id: restarted, but hark's stderr has no new 'restarted' line"
    line=$(grep restarted "$T/hark.err" | tail -n 1)
    note "$id: killed $old, now $(stats_field "$T/run" "$id" pid): $line"
    case $line in
    *"$id"*) ;;
    *) note "warning: the restart line does not name $id" ;;
    esac
done
hark_alive || fail "hark run exited after the kills"

# The pipeline works again: a probe, then real transactions.
live_ready
U="http://127.0.0.1:$SERVER_PORT"
exp="$T/expect.tsv"
curl_tx "$exp" "$U/" --next "$U/api/v1/users/42"
curl_tx "$exp" -X POST --data-binary 'after=restart' "$U/api/v1/items"
curl_tx "$exp" "$U/a/report"
wait_trail "$exp" "the transactions made after the restarts"

hark_stop INT
[ "$HARK_RC" = 3 ] ||
    fail "hark run exited $HARK_RC after SIGINT, want 3 (stages died)"
grep -q "^  outages    4:" "$T/hark.out" ||
    fail "the summary does not count 4 outages: $(cat "$T/hark.out")"
query_json "$T/trail.jsonl" "${QUERY_ARGS[@]}" ||
    fail "hark query --json after the run failed: $(cat "$T/trail.jsonl.err")"
check_trail "$T/trail.jsonl" "$exp" --server-port "$SERVER_PORT" ||
    fail "the trail after SIGINT lacks the transactions"
stages=$("$PY" -c 'import json, sys
print(" ".join(sorted(r["hark"]["outage"]["stage"] for r in map(json.loads, open(sys.argv[1]))
                      if r["event"]["action"] == "outage")))' "$T/trail.jsonl")
[ "$stages" = "capture correlate dispatch reassemble-0" ] ||
    fail "outage records for '$stages', want capture correlate dispatch reassemble-0"
note "ok: 5 stages killed and restarted, $(($(wc -l <"$exp") - 1))" \
    "transactions after the restarts in the trail, outages: $stages"
