#!/bin/bash
# test_metrics.sh - hark's counters for Prometheus.
#
#   - `hark stats --prometheus` after the demo run: the text format, read
#     by the Prometheus client library's parser (tests/e2e/check_metrics
#     .py), with the run's numbers (12 requests over both shards, 24
#     records), counters as *_total with stage and shard labels;
#   - a live run with supervisor.metrics: `hark run` serves /metrics on
#     that address while it runs: the stages up, a stage killed and
#     restarted counted in hark_stage_restarts_total, the records the
#     traffic made; other paths 404, other methods 405, a head that never
#     ends is dropped, idle connections do not stop it;
#   - where the `prometheus` server is installed, it scrapes /metrics with
#     the README's scrape config and answers a query with the same count.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
"$PY" -c 'import prometheus_client' 2>/dev/null ||
    fail "needs python3-prometheus-client (scripts/deps.sh --install)"
metrics_ok() { "$PY" "$E2E_DIR/check_metrics.py" "$@"; }

# ---- hark stats --prometheus ---------------------------------------------
"$HARK" run -c hark.yaml -r "$DEMO_PCAP" --db "$T/demo.db" \
    --run-dir "$T/demo-run" -q >"$T/demo.out" 2>&1 ||
    fail "the demo run failed: $(cat "$T/demo.out")"
"$HARK" stats --run-dir "$T/demo-run" --prometheus >"$T/demo.prom" ||
    fail "hark stats --prometheus failed"
metrics_ok "$T/demo.prom" 'hark_requests_total{stage=reassemble}=12' \
    'hark_requests_total{stage=reassemble,shard=0}>0' \
    'hark_requests_total{stage=reassemble,shard=1}>0' \
    'hark_records_total{stage=logger}=24' 'hark_pairs_total{stage=correlate}=12' \
    'hark_flows_active{stage=reassemble}=0' \
    'hark_stage_reporting{stage=logger}=0' \
    'hark_cpu_user_seconds_total>=0' || fail "hark stats --prometheus is wrong"
grep -q '^# TYPE hark_flows_active gauge$' "$T/demo.prom" ||
    fail "flows_active is not a gauge"
if command -v promtool >/dev/null; then
    promtool check metrics <"$T/demo.prom" ||
        fail "promtool check metrics finds problems"
fi

# ---- /metrics from a live run ----------------------------------------------
need_root
need_tool curl
start_server
live_config
MPORT=$(free_port)
cat >>"$LIVE_CFG" <<EOF
supervisor:
  metrics: 127.0.0.1:$MPORT
EOF
hark_start "${LIVE_ARGS[@]}"
live_ready
M="http://127.0.0.1:$MPORT"
scrape() { curl -sS -o "$T/live.prom" -w '%{http_code}' "$M/metrics"; }
[ "$(scrape)" = 200 ] || fail "GET /metrics did not answer 200"
metrics_ok "$T/live.prom" 'hark_stage_up{stage=capture}=1' \
    'hark_stage_up{stage=reassemble,shard=1}=1' 'hark_stage_up{stage=logger}=1' \
    'hark_stage_restarts_total=0' 'hark_supervisor_outages_total=0' ||
    fail "/metrics of a running pipeline is wrong"

# idle connections (a scraper that never sends) do not stop it serving
"$PY" -c 'import socket, sys, time
s = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(3)]
time.sleep(30)' "$MPORT" &
IDLE=$!
sleep 0.3
[ "$(curl -s -o /dev/null -w '%{http_code}' "$M/other")" = 404 ] ||
    fail "GET /other is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$M/metrics")" = 405 ] ||
    fail "POST /metrics is not 405"
[ "$(curl -s -o /dev/null -w '%{http_code}' -I "$M/metrics")" = 200 ] ||
    fail "HEAD /metrics is not 200"
"$PY" - "$MPORT" <<'EOF' || fail "garbage and an endless head are not refused"
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"\x16\x03\x01 not http\r\n\r\n")
assert s.recv(100).startswith(b"HTTP/1.1 400"), "garbage"
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(10)
try:
    s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 8000)
    got = s.recv(100)
except ConnectionResetError:
    got = b""
assert got == b"", got  # closed without an answer
EOF
kill "$IDLE" 2>/dev/null || :

# a stage that dies is counted where it ran
OLD=$(stats_field "$T/run" dispatch pid)
kill -KILL "$OLD"
back() {
    local p
    p=$(stats_field "$T/run" dispatch pid)
    [ -n "$p" ] && [ "$p" != "$OLD" ]
}
wait_for "$E2E_TIMEOUT" back || fail "dispatch was not restarted"
rm -f "$T/live.tsv"
curl_tx "$T/live.tsv" "http://127.0.0.1:$SERVER_PORT/" \
    --next "http://127.0.0.1:$SERVER_PORT/api/v1/users"
wait_trail "$T/live.tsv" "the requests after the restart"
sleep 1.2 # the logger's next report
[ "$(scrape)" = 200 ] || fail "GET /metrics did not answer 200"
N=$(grep -c . "$T/poll.jsonl")
metrics_ok "$T/live.prom" 'hark_stage_restarts_total{stage=dispatch}=1' \
    'hark_stage_up{stage=dispatch}=1' "hark_records_total{stage=logger}>=$N" \
    'hark_supervisor_outages_total=1' 'hark_metrics_dropped_total>=1' ||
    fail "/metrics after a restart is wrong"

# ---- a Prometheus server scrapes it ---------------------------------------
if command -v prometheus >/dev/null; then
    grep -q "job_name: hark" README.md || fail "README shows no scrape config"
    PPORT=$(free_port)
    cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: hark
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOF
    prometheus --config.file="$T/prometheus.yml" \
        --storage.tsdb.path="$T/prom" \
        --web.listen-address="127.0.0.1:$PPORT" >"$T/prometheus.log" 2>&1 &
    PROM=$!
    q() {
        curl -s "http://127.0.0.1:$PPORT/api/v1/query" \
            --data-urlencode "query=$1" >"$T/q.json" &&
            "$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))["data"]["result"]
sys.exit(0 if r and float(r[0]["value"][1]) >= float(sys.argv[2]) else 1)' \
                "$T/q.json" "$2"
    }
    wait_for "$E2E_TIMEOUT" q 'up{job="hark"}' 1 ||
        fail "Prometheus did not scrape hark: $(tail -3 "$T/prometheus.log")"
    wait_for "$E2E_TIMEOUT" q "sum(hark_records_total{stage=\"logger\"})" "$N" ||
        fail "Prometheus does not have hark's records: $(cat "$T/q.json")"
    kill "$PROM"
    wait "$PROM" 2>/dev/null || :
    note "a Prometheus server scraped /metrics"
else
    note "(prometheus not installed: the scrape by a real server is not run)"
fi

hark_stop INT
[ "$HARK_RC" = 3 ] || fail "hark run exited $HARK_RC, want 3 (dispatch was killed)"
finish "hark stats --prometheus and /metrics in the text format"
