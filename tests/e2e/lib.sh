# lib.sh - helpers for hark's end-to-end tests (bash; source it).
# shellcheck shell=bash disable=SC2034
#
#   . "$(dirname "$0")/lib.sh"
#
# Gives each test a private temp dir $T (removed on exit; E2E_KEEP=1 keeps
# it), runs it from the repository root, and cleans up every process the
# test started: the demo server, `hark run`, and the stages hark started
# (their pids from the stats files in the test's own run directory).
# Environment:
#   HARK_BIN     directory of hark and hark-<stage> (default build/bin)
#   HARK_SHARED  the shared data dir (default ../shared from the repo)
#   E2E_TIMEOUT  seconds a wait may take before failing (default 30)
#   E2E_KEEP=1   keep the temp dir
# A test exits 0 on pass, 1 on failure (with a "FAIL: ..." line on
# stderr), 77 when it cannot run here (skipped, with the reason).

set -euo pipefail

E2E_NAME=$(basename "$0" .sh)
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E_DIR/../.." && pwd)
PY=/usr/bin/python3
E2E_TIMEOUT=${E2E_TIMEOUT:-30}

# HARK_BIN may be relative to the caller's directory or to the repo root.
HARK_BIN=${HARK_BIN:-build/bin}
if [ -d "$HARK_BIN" ]; then
    HARK_BIN=$(cd "$HARK_BIN" && pwd)
elif [ -d "$REPO/$HARK_BIN" ]; then
    HARK_BIN=$(cd "$REPO/$HARK_BIN" && pwd)
fi
HARK_SHARED=${HARK_SHARED:-$REPO/../shared}
HARK="$HARK_BIN/hark"
DEMO_PCAP="$REPO/tests/data/demo.pcap"
DEMO_EXPECT="$REPO/tests/data/demo.expect.tsv"
DEMO_SERVER="$REPO/tests/data/demo_server.py"
export HARK_BIN HARK_SHARED

T=$(mktemp -d "${TMPDIR:-/tmp}/hark-$E2E_NAME.XXXXXX")
# Started as root, the stages run as an unprivileged user (supervisor.run_as)
# who must reach the trail and run directories the tests put in $T: it may
# pass through $T, not list it.
chmod 0711 "$T"
HARK_PID=
HARK_RC=
SERVER_PID=
SERVER_PORT=
PROBE_N=0
cd "$REPO"

note() { echo "$E2E_NAME: $*"; }

# fail MSG: the test failed; shows the tail of hark's stderr when there is
# one, so the reason is in the log.
fail() {
    echo "FAIL: $E2E_NAME: $*" >&2
    local f
    for f in "$T/hark.err" "$T/hark.out"; do
        if [ -s "$f" ]; then
            echo "--- last lines of $(basename "$f"):" >&2
            tail -n 25 "$f" >&2
        fi
    done
    exit 1
}

skip() { echo "SKIP: $E2E_NAME: $*"; exit 77; }

# problem MSG: a failed check that lets the test go on, so one run shows
# every problem; finish fails the test if there was any.
E2E_PROBLEMS=0
problem() {
    echo "PROBLEM: $E2E_NAME: $*" >&2
    E2E_PROBLEMS=$((E2E_PROBLEMS + 1))
}
finish() {
    [ "$E2E_PROBLEMS" = 0 ] || fail "$E2E_PROBLEMS check(s) failed (see PROBLEM lines)"
    note "$@"
}

need_root() {
    [ "$(id -u)" = 0 ] || skip "needs root to sniff lo"
}

# need_bin NAME...: the named binaries exist in $HARK_BIN.
need_bin() {
    local b
    for b in "$@"; do
        [ -x "$HARK_BIN/$b" ] ||
            fail "$HARK_BIN/$b is not built (run 'make' first)"
    done
}

need_tool() {
    local b
    for b in "$@"; do
        command -v "$b" >/dev/null ||
            fail "needs $b (scripts/deps.sh --install)"
    done
}

# wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds (0) or
# SECONDS pass (1).
wait_for() {
    local limit=$1
    shift
    local end=$((SECONDS + limit))
    while :; do
        if "$@"; then return 0; fi
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}

# free_port: prints a TCP port free on 127.0.0.1 right now.
free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# start_server: demo_server.py on 127.0.0.1 at a free port; sets
# SERVER_PORT and SERVER_PID.
start_server() {
    rm -f "$T/server.port"
    "$PY" "$DEMO_SERVER" --port 0 --port-file "$T/server.port" \
        2>"$T/server.log" &
    SERVER_PID=$!
    wait_for 10 test -s "$T/server.port" ||
        fail "demo server did not start: $(cat "$T/server.log")"
    SERVER_PORT=$(cat "$T/server.port")
}

# start_nginx ROOT [PROBE]: nginx serving ROOT on a free loopback port
# (NGINX_PORT), one process, everything under $T/nginx; waits until
# http://127.0.0.1:NGINX_PORT/PROBE (default: /) answers, and stops it
# when the test ends.
start_nginx() {
    local root=$1 probe=${2:-}
    NGINX_PORT=$(free_port)
    mkdir -p "$T/nginx/tmp"
    cat >"$T/nginx/nginx.conf" <<NGINX
daemon off;
master_process off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/nginx/tmp;
    proxy_temp_path $T/nginx/tmp;
    fastcgi_temp_path $T/nginx/tmp;
    uwsgi_temp_path $T/nginx/tmp;
    scgi_temp_path $T/nginx/tmp;
    server { listen 127.0.0.1:$NGINX_PORT; root $root; }
}
NGINX
    nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" >"$T/nginx/out.log" 2>&1 &
    NGINX_PID=$!
    on_exit 'kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null'
    wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/$probe" ||
        fail "nginx did not start: $(cat "$T/nginx/error.log" "$T/nginx/out.log")"
}

# start_http_server ROOT [PROBE]: Python's http.server on ROOT at a free
# loopback port (PY_PORT), as start_nginx.
start_http_server() {
    local root=$1 probe=${2:-}
    PY_PORT=$(free_port)
    "$PY" -m http.server "$PY_PORT" --bind 127.0.0.1 --directory "$root" \
        >"$T/py.log" 2>&1 &
    PY_PID=$!
    on_exit 'kill $PY_PID 2>/dev/null; wait $PY_PID 2>/dev/null'
    wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PY_PORT/$probe" ||
        fail "http.server did not start: $(cat "$T/py.log")"
}

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || :
        wait "$SERVER_PID" 2>/dev/null || :
        SERVER_PID=
    fi
}

# hark_start ARGS...: `hark ARGS` in the background, stdout in
# $T/hark.out, stderr in $T/hark.err; sets HARK_PID. SIGINT is restored
# to its default first (a shell's background jobs inherit it ignored), so
# the test sends the same signal as a terminal's Ctrl-C.
hark_start() {
    # keep what earlier runs said, for the sanitizer check at exit
    cat "$T/hark.err" >>"$T/hark.err.all" 2>/dev/null || :
    : >"$T/hark.out"
    : >"$T/hark.err"
    "$PY" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$HARK" "$@" \
        >"$T/hark.out" 2>"$T/hark.err" &
    HARK_PID=$!
}

hark_alive() { [ -n "$HARK_PID" ] && kill -0 "$HARK_PID" 2>/dev/null; }

# hark_wait SECONDS: waits for the background hark to exit; sets HARK_RC.
# Returns 1 when it is still running after SECONDS.
hark_wait() {
    local limit=$1
    wait_for "$limit" eval '! hark_alive' || return 1
    HARK_RC=0
    wait "$HARK_PID" || HARK_RC=$?
    HARK_PID=
}

# hark_stop [SIGNAL] [SECONDS]: signals the background hark (INT) and
# waits for it to exit; sets HARK_RC; fails if it does not exit in time.
hark_stop() {
    local sig=${1:-INT} limit=${2:-$E2E_TIMEOUT}
    [ -n "$HARK_PID" ] || fail "hark_stop: hark is not running"
    kill "-$sig" "$HARK_PID" 2>/dev/null || :
    hark_wait "$limit" ||
        fail "hark run did not exit within ${limit}s of SIG$sig"
}

# stats_field RUN_DIR ID KEY: a top-level field of <run>/stats/<id>.json
# (booleans as true/false), or nothing when the file is absent or torn.
stats_field() {
    "$PY" "$E2E_DIR/stats_file.py" field "$1/stats/$2.json" "$3" \
        2>/dev/null || :
}

# stats_counter RUN_DIR ID NAME: a counter of a stats file (0 if absent).
stats_counter() {
    "$PY" "$E2E_DIR/stats_file.py" counter "$1/stats/$2.json" "$3" \
        2>/dev/null || echo 0
}

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# curl_tx EXPECT ARGS...: runs curl with ARGS (URLs, options, --next),
# quiet and with bodies discarded; appends one expected transaction per
# transfer to EXPECT in demo.expect.tsv's columns (conn and idx "-"),
# from curl's own report of each transfer.
curl_tx() {
    local exp=$1
    shift
    local common=(-sS --http1.1 -H 'Expect:' -o /dev/null
        -w '%{method}\t%{url_effective}\t%{response_code}\t%{size_upload}\t%{size_download}\n')
    local args=("${common[@]}") a
    for a in "$@"; do
        args+=("$a")
        [ "$a" != --next ] || args+=("${common[@]}")
    done
    local out
    out=$(curl "${args[@]}") || fail "curl failed: curl $*"
    [ -f "$exp" ] ||
        printf 'conn\tidx\tmethod\tpath\tstatus\treq_body_len\tresp_body_len\n' \
            >"$exp"
    printf '%s\n' "$out" | "$PY" "$E2E_DIR/curl_expect.py" >>"$exp"
}

# query_json OUT ARGS...: `hark query --json ARGS` into OUT; 1 on failure
# (its stderr in OUT.err).
query_json() {
    local out=$1
    shift
    "$HARK" query --json "$@" >"$out.tmp" 2>"$out.err" || return 1
    mv "$out.tmp" "$out"
}

# check_trail JSONL EXPECT [--exact] [--server-port P] [--quiet]
# [--requests-only]: checks the audit records of `hark query --json`
# against expected transactions in demo.expect.tsv's columns (what it
# checks: tests/e2e/check_trail.py). Prints what is wrong (unless --quiet)
# and returns 1 on any mismatch.
check_trail() {
    "$PY" "$E2E_DIR/check_trail.py" "$@"
}

# count_kind JSONL [KIND]: records of event.action KIND (all when empty);
# prints -1 when a line is not a JSON object.
count_kind() {
    "$PY" "$E2E_DIR/count_kind.py" "$1" "${2:-}"
}

# stage_ids CONFIG: the id of every stage process `hark run -c CONFIG`
# starts (capture, one reassemble-<i> per reassemble.shards, dispatch,
# correlate, logger), on one line; fails when CONFIG cannot be read.
stage_ids() {
    "$PY" "$E2E_DIR/stage_ids.py" "$1"
}

# live_config: a small config for a live test in $T/hark.yaml (sniff lo
# for the demo server's port; db and run dir in $T; everything else the
# built-in defaults, which are the seed's: one group, "/", log request,
# wait 30s, log response), the matching `hark run` arguments in
# LIVE_ARGS, the query arguments in QUERY_ARGS and its stage ids in
# STAGE_IDS. The run dir is in the config too so that `hark query -c`
# finds the running logger's query socket.
#   live_config [FILTER [YAML]]: another capture filter, and more of the
#   config (service_groups, policies) after the rest.
live_config() {
    local filter=${1:-tcp port $SERVER_PORT}
    LIVE_CFG="$T/hark.yaml"
    cat >"$LIVE_CFG" <<EOF
# written by tests/e2e/lib.sh for $E2E_NAME
capture:
  device: lo
  filter: "$filter"
logger:
  db: "$T/db"
bus:
  run_dir: "$T/run"
${2:-}
EOF
    LIVE_ARGS=(run -c "$LIVE_CFG" -i lo -f "$filter"
        --db "$T/db" --run-dir "$T/run")
    QUERY_ARGS=(-c "$LIVE_CFG" --db "$T/db")
    STAGE_IDS=$(stage_ids "$LIVE_CFG") ||
        fail "cannot read the stage ids of $LIVE_CFG"
}

# trail_has EXPECT [OPTION]: the trail (queried from the running logger or
# the db) holds the transactions of EXPECT; quiet, for polling.
trail_has() {
    query_json "$T/poll.jsonl" "${QUERY_ARGS[@]}" &&
        check_trail "$T/poll.jsonl" "$1" --quiet ${2:+"$2"}
}

# wait_trail EXPECT WHAT [OPTION]: polls until the trail holds EXPECT;
# fails with the checker's findings after E2E_TIMEOUT.
wait_trail() {
    if ! wait_for "$E2E_TIMEOUT" trail_has "$1" "${3:-}"; then
        hark_alive || fail "hark run exited while waiting for $2"
        if query_json "$T/poll.jsonl" "${QUERY_ARGS[@]}"; then
            check_trail "$T/poll.jsonl" "$1" ${3:+"$3"} >&2 || :
            fail "$2 not in the trail after ${E2E_TIMEOUT}s" \
                "($(wc -l <"$T/poll.jsonl") records)"
        fi
        fail "$2: hark query --json fails while hark runs:" \
            "$(cat "$T/poll.jsonl.err")"
    fi
}

# probe_ready BASE_URL CHECK...: sends probe requests (GET
# BASE_URL/probe/N) until `CHECK... $T/probe.tsv --requests-only` finds
# one in the trail (the pipeline is live end to end); 1 after 30 tries.
probe_ready() {
    local base=$1 i
    shift
    for i in $(seq 1 30); do
        PROBE_N=$((PROBE_N + 1))
        rm -f "$T/probe.tsv"
        curl_tx "$T/probe.tsv" "$base/probe/$PROBE_N"
        if wait_for 2 "$@" "$T/probe.tsv" --requests-only; then
            return 0
        fi
    done
    return 1
}

# live_ready: after hark_start with LIVE_ARGS, waits for the capture
# stage's stats file, then sends probe requests (GET /probe/N, a 404)
# until the request record of one shows up in the trail: the whole
# pipeline is live (whether responses pair is for the real checks).
live_ready() {
    wait_for "$E2E_TIMEOUT" test -f "$T/run/stats/capture.json" || {
        hark_alive || fail "hark run exited early (status: see stderr)"
        fail "no $T/run/stats/capture.json after ${E2E_TIMEOUT}s"
    }
    local end=$((SECONDS + E2E_TIMEOUT))
    while [ "$SECONDS" -lt "$end" ]; do
        hark_alive || fail "hark run exited while starting"
        PROBE_N=$((PROBE_N + 1))
        rm -f "$T/probe.tsv"
        curl_tx "$T/probe.tsv" \
            "http://127.0.0.1:$SERVER_PORT/probe/$PROBE_N"
        if wait_for 3 trail_has "$T/probe.tsv" --requests-only; then
            return 0
        fi
    done
    wait_trail "$T/probe.tsv" "the probe request /probe/$PROBE_N" \
        --requests-only
}

# --- cleanup -------------------------------------------------------------

# Stage processes hark started for this test: pids from the stats files of
# the test's own run directories, still running a hark binary.
_e2e_stage_pids() {
    local f pid
    for f in "$T"/*/stats/*.json "$T"/stats/*.json; do
        [ -f "$f" ] || continue
        pid=$(stats_field "$(dirname "$(dirname "$f")")" \
            "$(basename "$f" .json)" pid)
        [ -n "$pid" ] || continue
        if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" |
            grep -q "hark-"; then
            echo "$pid"
        fi
    done
}

# A sanitizer report from any hark process (the supervisor passes the
# stages' stderr on) fails the test even when everything else passed: a
# stage that crashed and was restarted must not go unnoticed.
_e2e_sanitizer_reports() {
    local f
    for f in "$T"/hark.err "$T"/hark.err.all "$T"/err.*; do
        [ -f "$f" ] || continue
        if grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' \
            "$f"; then
            echo "--- sanitizer report in $(basename "$f"):" >&2
            grep -E -m1 -A 12 \
                'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' \
                "$f" >&2
            return 0
        fi
    done
    return 1
}

# on_exit CMD: CMD (eval'd, so variables are read then) runs when the
# test ends, before the standard cleanup, newest first; what it returns
# never changes the test's exit status.
_E2E_ON_EXIT=()
on_exit() {
    _E2E_ON_EXIT=("$1" "${_E2E_ON_EXIT[@]}")
}

_e2e_cleanup() {
    local rc=$? pid cmd
    trap - EXIT INT TERM
    set +e
    for cmd in "${_E2E_ON_EXIT[@]}"; do
        eval "$cmd"
    done
    if hark_alive; then
        kill -TERM "$HARK_PID" 2>/dev/null || :
        wait_for 10 eval '! hark_alive' || kill -KILL "$HARK_PID" 2>/dev/null || :
        wait "$HARK_PID" 2>/dev/null || :
    fi
    for pid in $(_e2e_stage_pids); do
        kill -KILL "$pid" 2>/dev/null || :
    done
    stop_server
    if _e2e_sanitizer_reports; then
        echo "FAIL: $E2E_NAME: a hark process reported a sanitizer error" >&2
        [ "$rc" != 0 ] || rc=1
    fi
    if [ "${E2E_KEEP:-0}" = 1 ]; then
        echo "$E2E_NAME: kept $T" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap _e2e_cleanup EXIT
trap 'fail "interrupted"' INT TERM

# STAGE_IDS: the stage processes of a run with the repository's hark.yaml
# (test_demo); live_config sets them for its own config.
STAGE_IDS=
[ ! -f hark.yaml ] || STAGE_IDS=$(stage_ids hark.yaml) ||
    fail "cannot read the stage ids of hark.yaml"
