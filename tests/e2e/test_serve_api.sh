#!/bin/bash
# test_serve_api.sh - `hark serve`'s JSON API, as a script uses it.
#
# On the trail of serve_scenarios.py's capture:
#   - /api/records pages through every record a filter selects, newest
#     first, each once (checked against `hark query --json`);
#   - /api/record and the charts answer; every bad parameter gets a 400
#     with its reason, unknown paths 404, other methods 405, a foreign
#     Host header 403, and the server is still up afterwards;
#   - the page and the API carry the Content-Security-Policy; the page
#     has no inline script or style;
#   - a token: 401 without it, 200 with it (header or the cookie the page
#     gets from /?token=); refused without one off loopback;
#   - live (as root): while `hark run` sniffs lo, the API answers through
#     the logger's query socket (records, a transaction and its chain
#     proof, a chart); after it ends, from the trail itself.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/serve_lib.sh"

need_tool curl
serve_trail
serve_start --db "$SERVE_DB"
U=$SERVE_URL

# json_field FILE KEY...: the value FILE's JSON holds under the keys (a
# number indexes an array); nothing for null.
json_field() {
    "$PY" -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print("" if v is None else v)' "$@"
}

# get PATH: the body of GET PATH into $T/body, the status printed
get() {
    curl -sS -o "$T/body" -w '%{http_code}' "$@" 2>"$T/curl.err" ||
        echo "curl-failed"
}

# pages FILTERS...: follows /api/records?FILTERS&limit=7 through "next"
# into $T/pages.jsonl, and checks them against the trail.
pages() {
    local q="limit=7" next="" n=0 f
    for f in "$@"; do q="$q&$f"; done
    : >"$T/pages.jsonl"
    while :; do
        [ "$(get "$U/api/records?$q${next:+&before=$next}")" = 200 ] ||
            { problem "records?$q: $(cat "$T/body")"; return; }
        cat "$T/body" >>"$T/pages.jsonl"
        next=$(json_field "$T/body" next)
        n=$((n + 1))
        [ -n "$next" ] && [ "$n" -lt 100 ] || break
    done
    local out
    out=$("$PY" "$E2E_DIR/check_serve.py" api-list "$T/pages.jsonl" \
        "$T/trail.jsonl" "$@") || problem "records?$q:
$out"
}

pages
pages kind=any
pages kind=request method=POST
pages status=none
pages status=5xx
pages status=404
pages outcome=timeout
pages flag=chunked kind=any
pages flag=truncated
pages path=/api/v1/users
pages path=/static
pages client=2001:db8::5 kind=any
pages client=10.1.0.2:41009
pages server=[2001:db8::2]:80
pages uid="$(head -1 "$T/trail.jsonl" >"$T/first.json" &&
    json_field "$T/first.json" hark uid)" kind=any
pages since=1700000005 until=1700000015
pages since=1700000005.5 path=/api status=2xx method=GET

# one transaction: the timeout, with its request, and both verify
key=$("$PY" "$E2E_DIR/check_serve.py" key "$T/trail.jsonl" outcome=timeout)
[ "$(get "$U/api/record?key=$key")" = 200 ] ||
    problem "record?key=$key: $(cat "$T/body")"
"$PY" - "$T/body" <<'PY' ||
import json, sys
t = json.load(open(sys.argv[1]))
assert t["request"]["record"]["url"]["original"] == "/api/v1/slow"
(r,) = t["responses"]
assert r["record"]["hark"]["outcome"] == "timeout"
assert r["view"]["outcome"]["meaning"].startswith("no response came")
assert "wait_end" in r["view"]["timings"]
for side in (t["request"], r):
    chain = side["chain"]
    assert chain["available"] and chain["verifies"], chain
PY
    problem "the timeout's transaction: $(cat "$T/body")"
missing=$(printf '74%016x%s%08x02' 42 0000000000000001 0)
[ "$(get "$U/api/record?key=$missing")" = 404 ] ||
    problem "a key not in the trail: $(cat "$T/body")"

# charts answer, and agree with each other on the total
for c in rate latency paths clients outcomes; do
    [ "$(get "$U/api/chart/$c?top=3")" = 200 ] ||
        problem "chart/$c: $(cat "$T/body")"
    "$PY" - "$T/body" "$c" <<'PY' || problem "chart/$c: $(cat "$T/body")"
import json, sys
c, name = json.load(open(sys.argv[1])), sys.argv[2]
assert c["total"] == 36, c["total"]
if name == "rate":
    assert sum(c["totals"]) == 36 and len(c["buckets"]) <= 120
if name in ("paths", "clients"):
    assert len(c[name]) == 3, c[name]
PY
done

# bad input: a 400 with the reason, never a crash
bad() { # PATH WORDS
    local code
    code=$(get "$U$1")
    if [ "$code" != 400 ] || ! grep -q "\"error\":\".*$2" "$T/body"; then
        problem "$1: $code $(cat "$T/body"), want 400 with '$2'"
    fi
}
bad "/api/records?status=600x" "status: expected"
bad "/api/records?status=99" "status: expected"
bad "/api/records?path=relative" "path: expected a path starting"
bad "/api/records?path=/a%01b" "without control characters"
bad "/api/records?path=/$(head -c 1100 /dev/zero | tr '\0' a)" "at most 1024"
bad "/api/records?method=G%20T" "method: expected"
bad "/api/records?since=noon" "since: not a time"
bad "/api/records?since=2026-11-26T25:00:00Z" "since: no such time of day"
bad "/api/records?since=1700000010&until=1700000000" "since must be before"
bad "/api/records?client=300.1.1.1" "client: expected"
bad "/api/records?server=%5B::1" "server: expected"
bad "/api/records?uid=xyz" "uid: expected"
bad "/api/records?kind=all" "kind: expected"
bad "/api/records?outcome=OK" "outcome: expected"
bad "/api/records?flag=bogus" "flag: expected"
bad "/api/records?limit=100000" "limit: expected"
bad "/api/records?limit=1&limit=2" "given twice"
bad "/api/records?before=74ab" "before: expected"
bad "/api/records?key=$key" "'key' does not apply"
bad "/api/records?token=x" "unknown parameter 'token'"
bad "/api/records?%00=1" "unknown parameter"
bad "/api/record" "key: the record to show is missing"
bad "/api/record?key=%ff%fe" "key: expected"
bad "/api/chart/rate?kind=request" "'kind' does not apply"
bad "/api/chart/paths?top=0" "top: expected"
many=$(for i in $(seq 40); do printf 'p%d=1&' "$i"; done)
bad "/api/records?$many" "too many query parameters"
[ "$(get "$U/api/nothing")" = 404 ] || problem "/api/nothing: not a 404"
[ "$(get "$U/nothing")" = 404 ] || problem "/nothing: not a 404"
[ "$(get "$U/api/chart/pie")" = 404 ] || problem "/api/chart/pie: not a 404"
[ "$(get -X POST -d x=1 "$U/api/records")" = 405 ] ||
    problem "POST: not a 405"
[ "$(get -X DELETE "$U/")" = 405 ] || problem "DELETE: not a 405"
[ "$(get -H 'Host: evil.example' "$U/api/info")" = 403 ] ||
    problem "a foreign Host header was not refused"
[ "$(get -H 'Host: localhost:1' "$U/api/info")" = 200 ] ||
    problem "Host: localhost was refused"
long=$(head -c 70000 /dev/zero | tr '\0' a)
code=$(get "$U/api/records?path=/$long")
case $code in 4??) ;; *) problem "a 70 KB URL got $code" ;; esac
[ "$(get "$U/api/info")" = 200 ] && grep -q '"live":false' "$T/body" ||
    problem "hark serve stopped answering after bad input"
kill -0 "$SERVE_PID" || fail "hark serve died"

# the headers, and a page without inline code
curl -sS -D "$T/headers" -o "$T/page.html" "$U/" ||
    problem "GET / failed"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self'" \
    "$T/headers" || problem "no Content-Security-Policy on the page"
grep -qi '^x-content-type-options: nosniff' "$T/headers" ||
    problem "no nosniff on the page"
out=$("$PY" "$E2E_DIR/check_serve.py" static "$T/page.html") ||
    problem "the page: $out"
curl -sS -D "$T/headers" -o /dev/null "$U/api/info"
grep -qi "^content-security-policy: " "$T/headers" &&
    grep -qi '^content-type: application/json' "$T/headers" ||
    problem "the API's headers: $(cat "$T/headers")"
serve_stop || problem "hark serve did not exit 0 on SIGTERM"

# a token
tok=abcdefghijklmnop0123456789
printf '%s\n' "$tok" >"$T/token"
chmod 644 "$T/token"
"$HARK" serve --db "$SERVE_DB" --token-file "$T/token" --listen 127.0.0.1:0 \
    >/dev/null 2>"$T/tok.err" && problem "a token file others can read" \
    "was taken"
grep -q "others can read it" "$T/tok.err" ||
    problem "the token file's mode: $(cat "$T/tok.err")"
chmod 600 "$T/token"
"$HARK" serve --db "$SERVE_DB" --listen 0.0.0.0:0 >/dev/null 2>"$T/any.err" &&
    problem "served every address without a token"
grep -q "not a loopback address: give a token" "$T/any.err" ||
    problem "no token, off loopback: $(cat "$T/any.err")"
"$HARK" serve --db "$SERVE_DB" --listen nowhere >/dev/null 2>"$T/bad.err" &&
    problem "--listen nowhere was taken"
serve_start --db "$SERVE_DB" --token-file "$T/token"
U=$SERVE_URL
[ "$(get "$U/api/info")" = 401 ] || problem "no token: not a 401"
[ "$(get "$U/")" = 401 ] || problem "the page without a token: not a 401"
[ "$(get -H "Authorization: Bearer wrong$tok" "$U/api/info")" = 401 ] ||
    problem "a wrong token: not a 401"
[ "$(get -H "Authorization: Bearer $tok" "$U/api/info")" = 200 ] ||
    problem "the token: $(cat "$T/body")"
curl -sS -D "$T/login" -o /dev/null "$U/?view=charts&token=$tok&path=/a%20b"
grep -qi '^HTTP/1.1 303' "$T/login" &&
    grep -qi '^location: /?view=charts&path=%2Fa%20b' "$T/login" &&
    grep -qi "^set-cookie: hark_token=$tok; Path=/; HttpOnly; SameSite=Strict" \
        "$T/login" || problem "/?token= did not log in: $(cat "$T/login")"
[ "$(get -H "Cookie: hark_token=$tok" "$U/api/records?limit=1")" = 200 ] ||
    problem "the cookie: $(cat "$T/body")"
serve_stop || problem "hark serve (token) did not exit 0"

# live: the logger holds the trail, the API asks it
if [ "$(id -u)" = 0 ]; then
    start_server
    live_config
    hark_start "${LIVE_ARGS[@]}"
    live_ready
    curl_tx "$T/live.tsv" "http://127.0.0.1:$SERVER_PORT/api/v1/users" \
        --next "http://127.0.0.1:$SERVER_PORT/missing"
    wait_trail "$T/live.tsv" "two live transactions"
    serve_start -c "$LIVE_CFG"
    U=$SERVE_URL
    [ "$(get "$U/api/info")" = 200 ] && grep -q '"live":true' "$T/body" ||
        problem "live: /api/info: $(cat "$T/body")"
    [ "$(get "$U/api/records?path=/missing&kind=response")" = 200 ] ||
        problem "live: records: $(cat "$T/body")"
    "$PY" - "$T/body" <<'PY' || problem "live: $(cat "$T/body")"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["live"] and len(p["records"]) == 1, p
assert p["records"][0]["status"] == 404
PY
    key=$(json_field "$T/body" records 0 key)
    [ "$(get "$U/api/record?key=$key")" = 200 ] &&
        grep -q '"live":true' "$T/body" &&
        grep -q '"verifies":true' "$T/body" ||
        problem "live: record: $(cat "$T/body")"
    [ "$(get "$U/api/chart/outcomes")" = 200 ] ||
        problem "live: chart: $(cat "$T/body")"
    hark_stop INT
    [ "$HARK_RC" = 0 ] || fail "hark run exited $HARK_RC"
    [ "$(get "$U/api/record?key=$key")" = 200 ] &&
        grep -q '"live":false' "$T/body" &&
        grep -q '"verifies":true' "$T/body" ||
        problem "after the run: record: $(cat "$T/body")"
    serve_stop || problem "hark serve (live) did not exit 0"
    note "live: answered through the logger, then from the trail"
else
    note "live part skipped: needs root to sniff lo"
fi
live=
[ "$(id -u)" != 0 ] || live=", live"
finish "ok: paging, filters, bad input, headers, token$live"
