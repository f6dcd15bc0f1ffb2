#!/bin/bash
# test_paths.sh - paths as real servers read them, sniffed live on lo.
#
# Python's http.server and nginx serve the same directory (public/x,
# admin/x) at two free ports; hark sniffs both with three relative paths:
# / (audit), /public (pub), /admin (adm). Each request of the table below
# goes to both servers with curl --path-as-is; the test records what each
# server served, then checks the trail's request record of every one:
#   - the relative path and the ambiguous_path flag are the table's;
#   - the property that matters: when a real server answered with
#     /admin/x, the request has the policy of /admin or is flagged.
# The table's last columns say what Python 3.11 and nginx 1.22 serve
# (docs/paths.md); a server that serves otherwise is reported, not
# failed, as long as the property holds.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl nginx

www="$T/www"
mkdir -p "$www/public" "$www/admin"
echo PUBLIC >"$www/public/x"
echo ADMIN >"$www/admin/x"
chmod -R a+rX "$T"

# Python's http.server and nginx on the same files
start_http_server "$www" public/x
start_nginx "$www" public/x

SERVER_PORT=$PY_PORT
live_config "tcp port $PY_PORT or tcp port $NGINX_PORT" "service_groups:
  - name: Sites
    relative_paths:
      - { path: /, policy: audit }
      - { path: /public, policy: pub }
      - { path: /admin, policy: adm }
policies:
  pub: [ { log: request } ]
  adm: [ { log: request } ]"
hark_start "${LIVE_ARGS[@]}"
live_ready
note "pipeline live on lo; http.server on $PY_PORT, nginx on $NGINX_PORT"

# path, hark's relative path, flagged (1/0), what Python serves, what
# nginx serves (ADMIN, PUBLIC or the status)
cat >"$T/cases.tsv" <<'TSV'
/public/x	/public	0	PUBLIC	PUBLIC
/admin/x	/admin	0	ADMIN	ADMIN
/public/..%2Fadmin/x	/admin	1	ADMIN	ADMIN
/public/..%2fadmin/x	/admin	1	ADMIN	ADMIN
/public/%2e%2e/admin/x	/admin	0	ADMIN	ADMIN
//admin/x	/admin	0	ADMIN	ADMIN
/public//../admin/x	/admin	1	ADMIN	ADMIN
/public/..;/admin/x	/admin	1	404	404
/public/..%5Cadmin/x	/admin	1	404	404
/public\..\admin/x	/admin	1	404	404
/public/%252e%252e/admin/x	/admin	1	404	404
/public/..%252Fadmin/x	/admin	1	404	404
/public/%c0%ae%c0%ae/admin/x	/admin	1	404	404
/ADMIN/x	/admin	1	404	404
/admin%00/../public/x	/admin	1	PUBLIC	400
/public/x?/../../admin/x	/public	0	PUBLIC	PUBLIC
TSV

# Each request goes out with a tag in its query (the readings drop the
# query), so its record is found by url.original.
: >"$T/sent.tsv"
n=0
while IFS=$'\t' read -r path route flag py ng; do
    for port in "$PY_PORT" "$NGINX_PORT"; do
        n=$((n + 1))
        sep='?'
        case $path in *\?*) sep='&' ;; esac
        target="$path${sep}t=$n"
        code=$(curl -s --path-as-is -o "$T/body" -w '%{http_code}' \
            "http://127.0.0.1:$port$target") || code=000
        got=$code
        [ "$code" != 200 ] || got=$(tr -d '\n' <"$T/body")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$port" "$route" \
            "$flag" "$got" "$py" "$ng" >>"$T/sent.tsv"
    done
done <"$T/cases.tsv"
note "$n requests sent"

check() {
    query_json "$T/trail.jsonl" "${QUERY_ARGS[@]}" || return 1
    "$PY" - "$T/trail.jsonl" "$T/sent.tsv" "$PY_PORT" "$1" <<'PYEOF'
import json, sys
trail, sent, py_port = sys.argv[1], sys.argv[2], sys.argv[3]
final = sys.argv[4] == "1"
recs = {}
for line in open(trail):
    r = json.loads(line)
    if r["event"]["action"] == "request":
        recs[(r["url"]["original"], r["destination"]["port"])] = r
bad = notes = 0
for line in open(sent):
    target, port, route, flag, got, py, ng = line.rstrip("\n").split("\t")
    server = "http.server" if port == py_port else "nginx"
    r = recs.get((target, int(port)))
    if r is None:
        if final:
            print("  no request record for %s (%s)" % (target, server))
        bad += 1
        continue
    if not final:
        continue
    h = r["hark"]
    flagged = "ambiguous_path" in h["flags"]
    if h.get("route") != route or flagged != (flag == "1"):
        print("  %s (%s): route %s%s, want %s%s" % (
            target, server, h.get("route"), " flagged" if flagged else "",
            route, " flagged" if flag == "1" else ""))
        bad += 1
    if got == "ADMIN" and h.get("route") != "/admin" and not flagged:
        print("  %s: %s served /admin/x, hark logged it under %s, unflagged"
              % (target, server, h.get("route")))
        bad += 1
    want = py if server == "http.server" else ng
    if got != want:
        print("  note: %s answered %s to %s (docs/paths.md says %s)" % (
            server, got, target, want))
sys.exit(1 if bad else 0)
PYEOF
}
wait_for "$E2E_TIMEOUT" check 0 >/dev/null ||
    fail "not every request reached the trail: $(check 1)"
check 1 || fail "the trail routes real servers' readings wrongly (above)"

hark_stop INT
[ "$HARK_RC" = 0 ] || fail "hark run exited $HARK_RC after SIGINT"
note "ok: $n requests, each routed as the servers read it, or flagged"
