#!/bin/sh
# make-demo.sh - regenerate tests/data/demo.pcap and demo.expect.tsv.
#
#   tests/data/make-demo.sh            (root: tcpdump sniffs lo)
#
# Starts demo_server.py on 127.0.0.1:8080, captures lo with tcpdump while
# curl makes 12 transactions over 5 connections (keep-alive, GET, HEAD,
# POST, PUT, DELETE, a chunked response, a 404), then derives the expected
# transaction list from the capture with tshark as an independent oracle
# and cross-checks it against what curl itself reported. Traffic never
# leaves loopback. The outputs replace the committed files only when every
# check passes.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
PORT=8080
URL="http://127.0.0.1:$PORT"

die() { echo "make-demo: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (tcpdump on lo)"
for t in tcpdump tshark curl "$PY"; do
    command -v "$t" >/dev/null || die "needs $t (scripts/deps.sh --install)"
done
if command -v ss >/dev/null &&
    ss -Htln "sport = :$PORT" 2>/dev/null | grep -q .; then
    die "port $PORT is already in use on this machine"
fi

tmp=$(mktemp -d /tmp/hark-demo.XXXXXX)
srv_pid=
dump_pid=
cleanup() {
    if [ -n "$dump_pid" ]; then kill -INT "$dump_pid" 2>/dev/null || :; fi
    if [ -n "$srv_pid" ]; then kill "$srv_pid" 2>/dev/null || :; fi
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the server ---------------------------------------------------------
"$PY" "$here/demo_server.py" --port "$PORT" --port-file "$tmp/port" \
    2>"$tmp/server.log" &
srv_pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
    i=$((i + 1))
    [ $i -le 100 ] || die "server did not start: $(cat "$tmp/server.log")"
    kill -0 "$srv_pid" 2>/dev/null ||
        die "server exited: $(cat "$tmp/server.log")"
    sleep 0.05
done

# --- the capture --------------------------------------------------------
tcpdump -i lo -w "$tmp/demo.pcap" -U -s 0 "tcp port $PORT" \
    2>"$tmp/tcpdump.log" &
dump_pid=$!
i=0
until grep -q 'listening on' "$tmp/tcpdump.log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 100 ] || die "tcpdump not listening: $(cat "$tmp/tcpdump.log")"
    kill -0 "$dump_pid" 2>/dev/null ||
        die "tcpdump exited: $(cat "$tmp/tcpdump.log")"
    sleep 0.05
done
sleep 0.3

# --- the transactions (fixed bodies; one curl invocation = one connection,
# its URLs reuse it) ------------------------------------------------------
W='%{method}\t%{url_effective}\t%{response_code}\t%{size_upload}\t%{size_download}\n'
ITEM='{"name":"widget","qty":3}'
ITEM2='{"name":"widget","qty":4}'
"$PY" -c 'import sys
line = b"sku=%05d&colour=ultramarine&size=XL&note=fixed-demo-payload;\n"
out = b"".join(line % i for i in range(20))[:700]
sys.stdout.buffer.write(out)' >"$tmp/bulk.txt"

# Options repeat after each --next (it resets them); the connection stays.
O="-sS --http1.1 -H Expect: -o /dev/null -w $W"
fetch() { curl "$@" >>"$tmp/curl.tsv" || die "curl failed: curl $*"; }
# shellcheck disable=SC2086
{
    # conn 0: three GETs on one keep-alive connection
    fetch $O "$URL/" --next $O "$URL/api/v1/users" \
        --next $O "$URL/api/v1/users/42"
    # conn 1: POST, PUT, DELETE (204, no body) on one connection
    fetch $O -X POST -H 'Content-Type: application/json' \
        --data-binary "$ITEM" "$URL/api/v1/items" \
        --next $O -X PUT -H 'Content-Type: application/json' \
        --data-binary "$ITEM2" "$URL/api/v1/items/7" \
        --next $O -X DELETE "$URL/api/v1/items/7"
    # conn 2: a 6 KB body in three segments, then HEAD of the same file
    fetch $O "$URL/static/app.js" --next $O -I "$URL/static/app.js"
    # conn 3: a chunked response, then a 404 with a body
    fetch $O "$URL/a/report" --next $O "$URL/missing"
    # conn 4: a query string, then a 700-byte form POST
    fetch $O "$URL/api/v1/users?page=2" \
        --next $O --data-binary "@$tmp/bulk.txt" "$URL/api/v1/items"
}
sleep 0.5

kill -INT "$dump_pid"
wait "$dump_pid" || die "tcpdump failed: $(cat "$tmp/tcpdump.log")"
dump_pid=
kill "$srv_pid"
wait "$srv_pid" 2>/dev/null || true
srv_pid=

# --- the oracle: tshark, requests and responses in two passes ----------
# shark OUT ARGS...: tshark's fields of the demo capture into $tmp/OUT.
shark() {
    out=$1
    shift
    tshark -r "$tmp/demo.pcap" -n -d "tcp.port==$PORT,http" -T fields \
        -E separator=/t -E occurrence=a -E aggregator=, "$@" \
        >"$tmp/$out" 2>"$tmp/tshark.log" ||
        die "tshark failed: $(cat "$tmp/tshark.log")"
}
shark syn.tsv -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -e tcp.stream
shark req.tsv -Y http.request -e frame.number -e tcp.stream \
    -e http.request.method -e http.request.uri -e http.content_length
shark resp.tsv -Y http.response -e frame.number -e tcp.stream \
    -e http.request_in -e http.response.code -e http.content_length \
    -e http.transfer_encoding -e http.chunk_size

"$PY" - "$tmp" >"$tmp/demo.expect.tsv" <<'EOF' || die "oracle check failed"
"""Join tshark's requests and responses into the expected transaction list
and check it against curl's own report of each transfer."""
import sys

d = sys.argv[1]


def rows(name):
    with open("%s/%s" % (d, name)) as f:
        return [l.rstrip("\n").split("\t") for l in f if l.strip()]


def num(s):
    return sum(int(x) for x in s.split(",") if x) if s else 0


conn_of = {}
for (stream,) in rows("syn.tsv"):
    conn_of.setdefault(stream, len(conn_of))

reqs = {}
per_conn = {}
for frame, stream, method, uri, clen in rows("req.tsv"):
    c = conn_of[stream]
    idx = per_conn.get(c, 0)
    per_conn[c] = idx + 1
    reqs[frame] = {"conn": c, "idx": idx, "method": method, "uri": uri,
                   "req": num(clen), "status": None, "resp": None}

for frame, stream, req_in, code, clen, te, chunks in rows("resp.tsv"):
    r = reqs[req_in]
    assert r["status"] is None, "two responses for request frame " + req_in
    r["status"] = int(code)
    if r["method"] == "HEAD" or r["status"] in (204, 304) or \
       100 <= r["status"] < 200:
        r["resp"] = 0
    elif "chunked" in te.lower():
        r["resp"] = num(chunks)
    else:
        r["resp"] = num(clen)

out = sorted(reqs.values(), key=lambda r: (r["conn"], r["idx"]))
missing = [r for r in out if r["status"] is None]
assert not missing, "requests without a response: %r" % missing

curl = sorted((m, u.split(":8080", 1)[1], int(c), int(up), int(down))
              for m, u, c, up, down in rows("curl.tsv"))
mine = sorted((r["method"], r["uri"], r["status"], r["req"], r["resp"])
              for r in out)
if curl != mine:
    sys.exit("tshark and curl disagree:\n tshark %r\n curl   %r"
             % (mine, curl))

print("conn\tidx\tmethod\tpath\tstatus\treq_body_len\tresp_body_len")
for r in out:
    print("%d\t%d\t%s\t%s\t%d\t%d\t%d" % (r["conn"], r["idx"], r["method"],
          r["uri"], r["status"], r["req"], r["resp"]))
EOF

n=$(($(wc -l <"$tmp/demo.expect.tsv") - 1))
conns=$(cut -f1 "$tmp/demo.expect.tsv" | sed 1d | sort -u | wc -l)
[ "$n" -eq 12 ] || die "expected 12 transactions, the capture holds $n"
[ "$conns" -eq 5 ] || die "expected 5 connections, the capture holds $conns"
size=$(wc -c <"$tmp/demo.pcap")
[ "$size" -lt 100000 ] || die "demo.pcap is $size bytes, too big"

cp "$tmp/demo.pcap" "$here/demo.pcap"
cp "$tmp/demo.expect.tsv" "$here/demo.expect.tsv"
echo "make-demo: wrote $here/demo.pcap ($size bytes, $n transactions" \
     "on $conns connections) and demo.expect.tsv"
column -t -s "$(printf '\t')" "$here/demo.expect.tsv" 2>/dev/null ||
    cat "$here/demo.expect.tsv"
