#!/bin/bash
# test_redaction.sh - a canary secret must reach no sink, live on lo.
#
# A raw server and client (redaction_canary.py) exchange requests whose
# Authorization, Proxy-Authorization, Cookie, X-Api-Key and Set-Cookie
# values hold a canary, with the names spelled as hostile peers spell
# them ("Authorization : x", "Authorization\0: x", "Proxy_Authorization",
# a bare CR or an obs-fold carrying "Authorization: x", ...). hark sniffs
# it with those names redacted, while `hark tap` reads every stage's tap
# on every topic. The canary must then be nowhere: not in the tap output
# (as text or inside any base64 packet or body), `hark query --json` live
# and afterwards, `hark query`'s table, `hark export` JSON and HAR, the
# stages' logs, or the LevelDB files. A control header that is not
# redacted must be found in the records, so the scan is known to see.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl

CANARY_PY="$E2E_DIR/redaction_canary.py"
"$PY" "$CANARY_PY" server "$T/server.port" 2>"$T/server.log" &
SERVER_PID=$!
wait_for 10 test -s "$T/server.port" ||
    fail "canary server did not start: $(cat "$T/server.log")"
SERVER_PORT=$(cat "$T/server.port")

names="[Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key]"
live_config "" "policies:
  audit:
    - log: { message: request, redact: $names }
    - wait_for_response: 5s
    - log: { message: response, redact: $names }"
hark_start "${LIVE_ARGS[@]}"
live_ready
note "pipeline live on lo, canary server on port $SERVER_PORT"

# every stage's tap, every topic
"$HARK" tap -c "$LIVE_CFG" pkt msg log eof stats >"$T/tap.jsonl" \
    2>"$T/tap.err" &
TAP_PID=$!
on_exit 'kill $TAP_PID 2>/dev/null'
sleep 1 # a SUB socket sees only what is published after it joined

n=$("$PY" "$CANARY_PY" client "$SERVER_PORT") || fail "canary client failed"

all_in() {
    query_json "$T/live.jsonl" "${QUERY_ARGS[@]}" || return 1
    local got
    got=$("$PY" - "$T/live.jsonl" <<'PYEOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if (r["url"]["original"].startswith("/canary/") and
            r["event"]["action"] == "response" and
            r["hark"]["outcome"] == "ok"):
        n += 1
print(n)
PYEOF
)
    [ "$got" = "$n" ]
}
wait_for "$E2E_TIMEOUT" all_in ||
    fail "the $n canary exchanges did not all reach the trail"
note "$n canary exchanges in the trail while hark runs"
sleep 1 # the taps publish as the stages send; let the reader catch up

hark_stop INT
[ "$HARK_RC" = 0 ] || fail "hark run exited $HARK_RC after SIGINT"
kill "$TAP_PID" 2>/dev/null || :
wait "$TAP_PID" 2>/dev/null || :

query_json "$T/after.jsonl" "${QUERY_ARGS[@]}" ||
    fail "hark query --json failed: $(cat "$T/after.jsonl.err")"
"$HARK" query "${QUERY_ARGS[@]}" >"$T/table.txt" 2>&1 ||
    fail "hark query failed: $(cat "$T/table.txt")"
"$HARK" export -c "$LIVE_CFG" --db "$T/db" --format json \
    -o "$T/export.jsonl" || fail "hark export --format json failed"
"$HARK" export -c "$LIVE_CFG" --db "$T/db" --format har \
    -o "$T/export.har" || fail "hark export --format har failed"
cat "$T"/db/* >"$T/leveldb.bin" 2>/dev/null || :

# The scan can see: the control header is where records are, and every
# stage's tap was read.
for f in live.jsonl after.jsonl export.jsonl export.har tap.jsonl; do
    for side in q r; do
        "$PY" "$CANARY_PY" has "$T/$f" "VISIBLE_5e1c2$side" ||
            problem "the control header ($side) is not in $f:" \
                "the scan would see nothing"
    done
done
"$PY" - "$T/tap.jsonl" <<'PYEOF' || problem "not every tap was read"
import json, sys
seen = set()
for line in open(sys.argv[1]):
    f = json.loads(line)
    seen.add((f["frame"].get("src"), f["topic"]))
want = {("capture", "pkt"), ("dispatch", "msg"), ("dispatch", "log"),
        ("correlate", "log")}
missing = want - seen
if not any(src.startswith("reassemble-") and t == "msg" for src, t in seen):
    missing.add(("reassemble-*", "msg"))
if missing:
    print("  no frames from %s; saw %s" % (sorted(missing), sorted(seen)))
    sys.exit(1)
PYEOF
# The headers are on record, their values redacted.
redacted_on_record() {
    "$PY" - "$T/after.jsonl" <<'PYEOF'
import json, sys
redacted = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if not r["url"]["original"].startswith("/canary/"):
        continue
    for name, value in r["hark"]["headers"]:
        if value == "[redacted]":
            redacted += 1
# 11 requests with one each (the obs-fold may be dropped as malformed),
# 11 responses with four Set-Cookie spellings each
if redacted < 10 + 11 * 4:
    print("  only %d redacted header values" % redacted)
    sys.exit(1)
PYEOF
}
redacted_on_record || problem "hostile headers are not on record as [redacted]"

# The canary, anywhere.
leaks=$("$PY" "$CANARY_PY" scan "$T/tap.jsonl" "$T/live.jsonl" \
    "$T/after.jsonl" "$T/table.txt" "$T/export.jsonl" "$T/export.har" \
    "$T/hark.err" "$T/hark.out" "$T/leveldb.bin") ||
    problem "the canary reached a sink:
$leaks"
finish "ok: $n exchanges, the canary in no tap, trail, query or export"
