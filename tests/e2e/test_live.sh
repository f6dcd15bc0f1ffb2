#!/bin/bash
# test_live.sh - sniff lo while curl talks to a real server.
#
# demo_server.py on 127.0.0.1 at a free port; `hark run -i lo -f "tcp port
# PORT"` in the background; once a probe request shows up in the trail,
# six transactions (keep-alive, POST, chunked, 404, DELETE) must appear in
# `hark query --json` while hark runs; SIGINT must drain the pipeline and
# exit 0, and afterwards every request and its response (status, body
# sizes, outcome ok) is in the trail and `hark verify` passes.
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

U="http://127.0.0.1:$SERVER_PORT"
exp="$T/expect.tsv"
curl_tx "$exp" "$U/" --next "$U/api/v1/users"
curl_tx "$exp" -X POST -H 'Content-Type: application/json' \
    --data-binary '{"name":"live","qty":1}' "$U/api/v1/items"
curl_tx "$exp" "$U/a/report" --next "$U/missing"
curl_tx "$exp" -X DELETE "$U/api/v1/items/7"
[ "$(($(wc -l <"$exp") - 1))" -eq 6 ] || fail "curl made no 6 transfers"

wait_trail "$exp" "the 6 live transactions"
note "6 transactions in the trail while hark runs"

hark_stop INT
[ "$HARK_RC" = 0 ] || fail "hark run exited $HARK_RC after SIGINT"

query_json "$T/trail.jsonl" "${QUERY_ARGS[@]}" ||
    fail "hark query --json after the run failed: $(cat "$T/trail.jsonl.err")"
check_trail "$T/trail.jsonl" "$exp" --server-port "$SERVER_PORT" ||
    fail "the trail after SIGINT lacks live transactions"
for id in $STAGE_IDS; do
    final=$(stats_field "$T/run" "$id" final)
    [ "$final" = true ] || fail "stats of $id not final after SIGINT" \
        "(final=$final)"
done
out=$("$HARK" verify --db "$T/db" 2>&1) || fail "hark verify failed: $out"
note "ok: verify: $out"
