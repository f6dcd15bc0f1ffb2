#!/bin/bash
# test_reload.sh - SIGHUP reloads service groups, relative paths, policies
# and redaction while traffic flows, and loses nothing.
#
# A live run on lo against a small server whose /slow answers only when
# told. Traffic runs in the background the whole time. Then:
#   - a response that is still awaited when the config changes: its wait
#     began under the old policy, so its record says so;
#   - a file that does not load: `hark check-config` says why (exit 2),
#     SIGHUP is refused with the same error, no stage hears of it and the
#     old routes stay;
#   - the new file: a new relative path with its own policy (redacting a
#     header, keeping no response body), and a changed label on the old
#     one, for every request after the reload;
#   - bodies: v1 keeps 4 bytes of every message, so the reassemblers carry
#     no more (policy_body_carried, counted in http_body_truncated); v2
#     keeps 64 KiB, and a response after the reload is whole, so the
#     reassemblers reloaded too;
#   - every request of the background traffic has both records, and hark
#     exits 0.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl

# The server: / and anything else 200 at once, /slow when $T/release is
# there.
cat >"$T/server.py" <<'EOF'
import http.server, os, sys, time
release = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path.startswith("/slow"):
            while not os.path.exists(release):
                time.sleep(0.05)
        body = b"ok %s\n" % self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "s=1")
        self.end_headers()
        self.wfile.write(body)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
"$PY" "$T/server.py" "$T/server.port" "$T/release" 2>"$T/server.log" &
SERVER_PID=$!
wait_for 10 test -s "$T/server.port" || fail "the server did not start"
SERVER_PORT=$(cat "$T/server.port")
U="http://127.0.0.1:$SERVER_PORT"

live_config # capture, logger and the run dir, for the server's port
CFG="$LIVE_CFG"
cp "$CFG" "$T/base.yaml"
# plain LABEL BODY: the policy every path had from the start
plain() {
    cat <<EOF
  plain:
    - log: {message: request, body: $2}
    - wait_for_response: 30s
    - log: {message: response, label: $1, body: $2}
EOF
}
write_v1() {
    cat "$T/base.yaml"
    cat <<EOF
service_groups:
  - name: Shop
    relative_paths:
      - path: /
        policy: plain
policies:
EOF
    plain "Response v1" 4
}
write_v2() {
    cat "$T/base.yaml"
    cat <<EOF
service_groups:
  - name: Shop
    relative_paths:
      - path: /
        policy: plain
      - path: /secret
        policy: guarded
policies:
  guarded:
    - log: {message: request, redact: [X-Token]}
    - wait_for_response: 30s
    - log: {message: response, body: 0, label: Guarded}
EOF
    plain "Response v2" 64KiB
}
write_v1 >"$CFG"
QUERY_ARGS=(-c "$CFG")
hark_start run -c "$CFG"
wait_for "$E2E_TIMEOUT" test -f "$T/run/stats/capture.json" ||
    fail "the pipeline did not start"
probe_ready "$U" trail_has || fail "the pipeline never logged a request"

# A wait that spans the reload.
curl -s -o /dev/null "$U/slow" &
SLOW=$!
echo -e "conn\tidx\tmethod\tpath\tstatus\treq_body_len\tresp_body_len" >"$T/slow.tsv"
echo -e "-\t-\tGET\t/slow\t200\t0\t9" >>"$T/slow.tsv" # "ok /slow\\n"
wait_for "$E2E_TIMEOUT" trail_has "$T/slow.tsv" --requests-only ||
    fail "the slow request is not in the trail"

# Traffic all along.
(
    for i in $(seq 1 120); do
        curl_tx "$T/bg.tsv" "$U/bg?n=$i"
        sleep 0.02
    done
) &
BG=$!

# v1 keeps 4 bytes of a body: the reassemblers cut the longer ones
# ("ok /bg?n=1\n" and the like) before they cross the bus, and count them.
SHARDS=$(cd "$T/run/stats" && ls reassemble-*.json | sed 's/\.json$//')
[ -n "$SHARDS" ] || fail "no reassembler stats"
bodies_cut() {
    local id n=0
    for id in $SHARDS; do
        n=$((n + $(stats_counter "$T/run" "$id" http_body_truncated)))
    done
    [ "$n" -gt 0 ]
}
wait_for "$E2E_TIMEOUT" bodies_cut ||
    fail "the reassemblers carried whole bodies that v1 keeps 4 bytes of"

# A file that does not load: refused, the old config stays.
write_v2 >"$CFG"
echo "    - wait_for_response: soon" >>"$CFG"
rc=0
"$HARK" check-config "$CFG" >"$T/check.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "check-config of a bad file exited $rc, want 2"
grep -q "hark.yaml:[0-9]*: policies.plain" "$T/check.out" ||
    fail "check-config does not say where: $(cat "$T/check.out")"
kill -HUP "$HARK_PID"
wait_for 10 grep -q "reload refused, the running config stays: .*hark.yaml:[0-9]*: policies.plain" \
    "$T/hark.err" || fail "the bad file was not refused with its error"
hark_alive || fail "hark run died of a bad reload"
rm -f "$T/before.tsv"
curl_tx "$T/before.tsv" -H "X-Token: tok-before" "$U/secret/a"

# The new file.
write_v2 >"$CFG"
"$HARK" check-config "$CFG" >/dev/null || fail "check-config refused v2"
kill -HUP "$HARK_PID"
reloaded() {
    local id
    for id in dispatch correlate $SHARDS; do
        [ "$(stats_counter "$T/run" "$id" config_reloads)" = 1 ] || return 1
    done
}
wait_for "$E2E_TIMEOUT" reloaded ||
    fail "dispatch, correlate and the reassemblers did not all reload"
for id in dispatch correlate $SHARDS; do
    [ "$(stats_counter "$T/run" "$id" config_reload_failed)" = 0 ] ||
        fail "$id heard of the file that did not load"
done
rm -f "$T/after.tsv"
curl_tx "$T/after.tsv" -H "X-Token: tok-after" "$U/secret/b" --next "$U/plain"
touch "$T/release"
wait "$SLOW" || fail "the slow request failed"
wait "$BG" || fail "the background traffic failed"
for f in slow before after bg; do
    wait_trail "$T/$f.tsv" "the $f requests"
done
hark_stop INT
[ "$HARK_RC" = 0 ] || fail "hark run exited $HARK_RC: $(cat "$T/hark.out")"

"$HARK" query --db "$T/db" --json >"$T/trail.jsonl" || fail "hark query failed"
cat "$T/slow.tsv" "$T/before.tsv" "$T/after.tsv" "$T/bg.tsv" |
    sed '1!{/^conn\t/d}' >"$T/all.tsv"
check_trail "$T/trail.jsonl" "$T/all.tsv" || fail "records are missing"
"$PY" - "$T/trail.jsonl" <<'EOF' || fail "the records do not follow the reload"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
def one(path, kind):
    r = [x for x in recs if x["event"]["action"] == kind
         and x.get("url", {}).get("original") == path]
    assert len(r) == 1, (path, kind, len(r))
    return r[0]
# the wait began under v1: its response is logged by v1's policy
assert one("/slow", "response")["hark"]["step"] == "Response v1"
# before the reload /secret was the plain policy, token kept as sent
b = one("/secret/a", "request")["hark"]
assert b["policy"] == "plain" and b["route"] == "/", b
assert ["X-Token", "tok-before"] in b["headers"], b["headers"]
# after it: its own route and policy, the token redacted, no body kept
a = one("/secret/b", "request")["hark"]
assert a["policy"] == "guarded" and a["route"] == "/secret", a
assert not any(v == "tok-after" for _, v in a["headers"]), a["headers"]
ar = one("/secret/b", "response")["hark"]
assert ar["step"] == "Guarded" and ar["body"]["captured"] == 0, ar
p = one("/plain", "response")["hark"]
assert p["step"] == "Response v2", p
# v2 keeps 64 KiB: the reassemblers carry the whole "ok /plain\n" again
assert p["body"]["captured"] == 10, p["body"]
# v1 kept 4 bytes of "ok /secret/a\n"
assert one("/secret/a", "response")["hark"]["body"]["captured"] == 4
# background traffic: v1 labels, then v2 labels, nothing else
steps = {x["hark"]["step"] for x in recs if x["event"]["action"] == "response"
         and x["url"]["path"] == "/bg"}
assert steps <= {"Response v1", "Response v2"}, steps
print("records follow the reload; background labels:", sorted(steps))
EOF
finish "SIGHUP: a bad file refused, the new routes and policies applied, nothing lost"
