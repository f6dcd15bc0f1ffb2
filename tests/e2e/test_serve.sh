#!/bin/bash
# test_serve.sh - `hark serve` in a browser: the page against the trail.
#
# The trail of serve_scenarios.py's capture (gzip JSON, redacted headers,
# a truncated binary body, 3xx/4xx/5xx, a timeout); `hark serve` on it;
# headless Chromium loads each view, runs the page's script and dumps the
# DOM, which check_serve.py compares with `hark query --json`:
#   the list (newest first), the list under a filter given in the URL,
#   three transactions (compressed JSON; a POST with its Authorization
#   header redacted; a truncated image shown as hex), and every chart.
# Screenshots of the list, a transaction and the charts are taken too
# (SERVE_SCREENSHOTS=DIR keeps them: the README's come from here).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/serve_lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || :)
[ -n "$CHROMIUM" ] || fail "needs chromium (scripts/deps.sh --install)"

serve_trail
serve_start --db "$SERVE_DB"
note "serving $SERVE_URL"

# chromium OUT LOG ARGS...: headless Chromium with a profile of its own,
# as root (no sandbox) and talking to nothing but the page; stdout in OUT.
chromium() {
    local out=$1 log=$2 profile rc=0
    shift 2
    profile=$(mktemp -d "$T/chromium.XXXXXX")
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync \
        --user-data-dir="$profile" --virtual-time-budget=5000 "$@" \
        >"$out" 2>"$log" || rc=$?
    rm -rf "$profile"
    return "$rc"
}

# browse NAME PATH: the DOM of PATH once its script ran, in $T/NAME.html
browse() {
    chromium "$T/$1.html" "$T/$1.chromium.log" --dump-dom "$SERVE_URL$2" ||
        fail "chromium could not load $2: $(tail -3 "$T/$1.chromium.log")"
}

# shoot NAME PATH: a 1400x1000 screenshot of PATH in $T/NAME.png
shoot() {
    chromium /dev/null "$T/$1.chromium.log" --hide-scrollbars \
        --window-size=1400,1000 --screenshot="$T/$1.png" "$SERVE_URL$2" ||
        fail "chromium could not take $2: $(tail -3 "$T/$1.chromium.log")"
    "$PY" - "$T/$1.png" <<'PY' ||
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n" and len(d) > 20000, len(d)
w, h = struct.unpack(">II", d[16:24])
assert (w, h) == (1400, 1000), (w, h)
PY
        problem "$1.png is not a 1400x1000 PNG with content"
}

check() { # WHAT ARGS...: check_serve.py ARGS, a problem when it finds any
    local what=$1 out
    shift
    out=$("$PY" "$E2E_DIR/check_serve.py" "$@") || problem "$what:
$out"
}

browse list "/"
check "the list" list "$T/list.html" "$T/trail.jsonl"

browse filtered "/?path=/api/v1&status=2xx&client=10.1.0.1"
check "the filtered list" list "$T/filtered.html" "$T/trail.jsonl" \
    path=/api/v1 status=2xx client=10.1.0.1
grep -q 'id="f-path"[^>]*value="/api/v1"' "$T/filtered.html" ||
    problem "the filter form does not show the URL's path"
browse errors "/?status=none&kind=response"
check "the list of unanswered requests" list "$T/errors.html" \
    "$T/trail.jsonl" status=none
browse requests "/?kind=request&method=POST"
check "the list of POST requests" list "$T/requests.html" \
    "$T/trail.jsonl" kind=request method=POST

key() { "$PY" "$E2E_DIR/check_serve.py" key "$T/trail.jsonl" "$@"; }
users=$(key path=/api/v1/users status=200 client=10.1.0.3)
item=$(key kind=request method=POST)
logo=$(key path=/static/logo.png)
slow=$(key outcome=timeout)
for tx in users item logo slow; do
    browse "tx-$tx" "/?view=tx&key=${!tx}"
    check "transaction $tx" tx "$T/tx-$tx.html" "$T/trail.jsonl"
done
grep -q 'data-body="decoded"' "$T/tx-users.html" ||
    problem "the gzip body is not shown decoded"
grep -q 'class="redacted"' "$T/tx-item.html" ||
    problem "the Authorization header is not shown as redacted"
grep -q 's3cr3t' "$T/tx-item.html" &&
    problem "the page shows the Authorization value"
grep -q 'class="body hex"' "$T/tx-logo.html" ||
    problem "the image is not shown as hex"
grep -q 'no response came in time' "$T/tx-slow.html" ||
    problem "the timeout is not explained"

browse charts "/?view=charts"
check "the charts" charts "$T/charts.html" "$T/trail.jsonl"

shoot list "/"
shoot tx "/?view=tx&key=$users"
shoot charts "/?view=charts"
if [ -n "${SERVE_SCREENSHOTS:-}" ]; then
    mkdir -p "$SERVE_SCREENSHOTS"
    cp "$T"/list.png "$T"/tx.png "$T"/charts.png "$SERVE_SCREENSHOTS"/
fi

serve_stop || problem "hark serve did not exit 0 on SIGTERM"
finish "ok: list, filters, 4 transactions and 5 charts match the trail"
