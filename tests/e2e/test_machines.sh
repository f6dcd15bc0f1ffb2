#!/bin/bash
# test_machines.sh - one trail from three machines, each `hark run --only`
# its part, linked over tcp:// with CURVE keys.
#
# Three network namespaces on a bridge (in a fourth), one key pair each
# (hark keygen), the same config but for its bus.curve_key line:
#   A 192.0.2.1  a real server (python3 -m http.server), curl, and
#                `hark run --only capture` sniffing lo;
#   B 192.0.2.2  `hark run --only reassemble` (shards 0 and 1);
#   C 192.0.2.3  `hark run --only dispatch,correlate,logger`, the trail.
# Every transaction curl made is in C's trail. Then, with connections held
# open on both shards, reassemble-1 is killed with SIGKILL on B: B's
# supervisor restarts it there, C's trail gets B's outage record naming
# what it held (open_connections, as its last report said), and traffic
# after the restart is in the trail too. Stopping A's hark (SIGINT)
# drains the three: capture's eof reaches the logger on C, and each
# `hark run` ends by itself (B with 3: it lost what the killed shard
# held).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl ip

ID=$$
NS_A=hark-a-$ID NS_B=hark-b-$ID NS_C=hark-c-$ID NS_SW=hark-sw-$ID
ip netns add "$NS_SW" 2>/dev/null || skip "cannot make network namespaces"
PIDS=()
machines_cleanup() {
    local p ns
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || :
    done
    for p in "${PIDS[@]}"; do
        wait_for 10 eval "! kill -0 $p 2>/dev/null" ||
            kill -KILL "$p" 2>/dev/null || :
    done
    for ns in "$NS_A" "$NS_B" "$NS_C" "$NS_SW"; do
        # whatever still runs in it (the server, a stage) goes with it
        for p in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$p" 2>/dev/null || :
        done
        ip netns del "$ns" 2>/dev/null || :
    done
}
on_exit machines_cleanup

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# The wire: a bridge in NS_SW, a veth from each machine to it.
in_ns "$NS_SW" ip link add br0 type bridge
in_ns "$NS_SW" ip link set br0 up
n=1
for m in A B C; do
    eval "ns=\$NS_$m"
    ip netns add "$ns"
    ip link add "eth0" netns "$ns" type veth peer name "p$m" netns "$NS_SW"
    in_ns "$NS_SW" ip link set "p$m" master br0 up
    in_ns "$ns" ip addr add "192.0.2.$n/24" dev eth0
    in_ns "$ns" ip link set eth0 up
    in_ns "$ns" ip link set lo up
    n=$((n + 1))
done

for m in a b c; do
    "$HARK" keygen -o "$T/$m" >/dev/null || fail "hark keygen failed"
done

# One config for the three machines; each adds its own key.
base_config() {
    cat <<EOF
capture:
  device: lo
  filter: "tcp port 8080"
reassemble:
  shards: 2
logger:
  db: "$T/db"
supervisor:
  drain_timeout: 5s
bus:
  reassemble: [tcp://192.0.2.2:5601, tcp://192.0.2.2:5602]
  dispatch: tcp://192.0.2.3:5610
  correlate: tcp://192.0.2.3:5611
  logger: tcp://192.0.2.3:5612
  query: tcp://192.0.2.3:5613
  peers:
    192.0.2.1: $T/a.curve.pub
    192.0.2.2: $T/b.curve.pub
    192.0.2.3: $T/c.curve.pub
EOF
}
for m in a b c; do
    { base_config; echo "  curve_key: $T/$m.curve"; } >"$T/$m.yaml"
    "$HARK" check-config "$T/$m.yaml" >/dev/null ||
        fail "hark check-config $m.yaml: $("$HARK" check-config "$T/$m.yaml" 2>&1)"
done

# The real server, in A.
mkdir -p "$T/www"
echo "hello from a" >"$T/www/index.html"
head -c 20000 /dev/zero | tr '\0' 'x' >"$T/www/big.txt"
chmod -R a+rX "$T/www"
ip netns exec "$NS_A" "$PY" -m http.server --bind 192.0.2.1 --directory "$T/www" \
    8080 >"$T/server.log" 2>&1 &
PIDS+=($!)
wait_for 10 in_ns "$NS_A" curl -s -o /dev/null http://192.0.2.1:8080/ ||
    fail "the server in A did not start: $(cat "$T/server.log")"
wait_for 10 in_ns "$NS_C" curl -s -o /dev/null http://192.0.2.1:8080/ ||
    fail "the namespaces do not reach each other"

# start_machine M ROLES: `hark run --only ROLES` in M's namespace; its
# pid in PID_<M>, its output in $T/out.M and $T/err.M.
start_machine() {
    local m=$1 roles=$2 ns
    eval "ns=\$NS_${m^^}"
    # not through in_ns: $! must be hark's own pid, not a subshell's
    ip netns exec "$ns" "$PY" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$HARK" run -c "$T/$m.yaml" \
        --only "$roles" --run-dir "$T/run-$m" >"$T/out.$m" 2>"$T/err.$m" &
    eval "PID_${m^^}=$!"
    PIDS+=($!)
}
start_machine c dispatch,correlate,logger
start_machine b reassemble
start_machine a capture
for id in a/capture b/reassemble-0 b/reassemble-1 c/dispatch c/correlate \
    c/logger; do
    wait_for "$E2E_TIMEOUT" test -f "$T/run-${id%%/*}/stats/${id#*/}.json" ||
        fail "${id#*/} did not start on ${id%%/*}: $(tail -5 "$T/err.${id%%/*}")"
done
# nothing but its own stages on each machine
[ "$(ls "$T/run-a/stats")" = "capture.json" ] ||
    fail "A runs more than the capture: $(ls "$T/run-a/stats")"
[ "$(ls "$T/run-b/stats" | tr '\n' ' ')" = "reassemble-0.json reassemble-1.json " ] ||
    fail "B runs more than the reassemblers: $(ls "$T/run-b/stats")"

curl() { in_ns "$NS_A" /usr/bin/curl "$@"; }
QUERY_ARGS=(-c "$T/c.yaml")
query_c() { in_ns "$NS_C" "$HARK" query "$@"; }
trail_has_c() {
    query_c -c "$T/c.yaml" --json >"$T/poll.jsonl" 2>"$T/poll.err" &&
        check_trail "$T/poll.jsonl" "$1" --quiet ${2:+"$2"}
}
U=http://192.0.2.1:8080
# readiness: a probe's request record comes through all three machines
probe_ready "$U" trail_has_c || fail "no request got through the three machines: $(tail -3 "$T/err.c")"

exp="$T/expect.tsv"
curl_tx "$exp" "$U/" --next "$U/big.txt" --next "$U/missing"
curl_tx "$exp" -I "$U/index.html"
curl_tx "$exp" -X POST --data-binary 'x=1' "$U/form"
for i in 1 2 3 4 5 6; do curl_tx "$exp" "$U/?n=$i"; done
wait_for "$E2E_TIMEOUT" trail_has_c "$exp" || {
    check_trail "$T/poll.jsonl" "$exp" >&2 || :
    fail "the transactions are not all in C's trail"
}
note "$(wc -l <"$exp") transactions through three machines"

# ---- a remote reassembler killed -----------------------------------------
# Connections held open, spread over both shards. They send nothing: what
# the killed shard held of them is lost, and no record depends on it.
ip netns exec "$NS_A" "$PY" -c 'import socket, sys, time
socks = []
for i in range(16):
    socks.append(socket.create_connection(("192.0.2.1", 8080)))
open(sys.argv[1], "w").write("open\n")
while True:
    time.sleep(1)' "$T/held.ready" &
HELD=$!
PIDS+=($HELD)
wait_for 10 test -s "$T/held.ready" || fail "could not hold connections open"
held_report() { [ "$(stats_counter "$T/run-b" reassemble-1 flows_active)" -gt 0 ]; }
wait_for 10 held_report || fail "reassemble-1 never reported an open connection"
sleep 1.2 # one more report, so the outage counts them all
HELD_N=$(stats_counter "$T/run-b" reassemble-1 flows_active)
OLD=$(stats_field "$T/run-b" reassemble-1 pid)
kill -KILL "$OLD" || fail "cannot kill reassemble-1 ($OLD)"
restarted() {
    local p
    p=$(stats_field "$T/run-b" reassemble-1 pid)
    [ -n "$p" ] && [ "$p" != "$OLD" ] && kill -0 "$p" 2>/dev/null
}
wait_for "$E2E_TIMEOUT" restarted || fail "reassemble-1 was not restarted on B"
grep -q "reassemble-1 killed by signal 9" "$T/err.b" ||
    fail "B's supervisor did not say reassemble-1 died"
kill "$HELD" 2>/dev/null || :
outage_in_trail() {
    query_c -c "$T/c.yaml" --json --kind outage >"$T/outage.jsonl" 2>/dev/null &&
        grep -q '"stage":"reassemble-1"' "$T/outage.jsonl"
}
wait_for "$E2E_TIMEOUT" outage_in_trail ||
    fail "no outage record of reassemble-1 in C's trail"
"$PY" - "$T/outage.jsonl" "$HELD_N" <<'EOF' || fail "the outage record is wrong"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
o = [r["hark"]["outage"] for r in recs
     if r["hark"]["outage"]["stage"] == "reassemble-1"]
assert len(o) == 1, o
lost = o[0].get("lost", {})
assert lost.get("open_connections") == int(sys.argv[2]), (lost, sys.argv[2])
assert "signal 9" in o[0]["reason"], o[0]
EOF
note "reassemble-1 killed on B holding $HELD_N connections: restarted, outage in C's trail"

exp2="$T/expect2.tsv"
for i in 1 2 3 4 5 6; do curl_tx "$exp2" "$U/after?n=$i"; done
wait_for "$E2E_TIMEOUT" trail_has_c "$exp2" || {
    check_trail "$T/poll.jsonl" "$exp2" >&2 || :
    fail "traffic after the restart is not in C's trail"
}

# ---- drain across machines -----------------------------------------------
kill -INT "$PID_A"
for m in a b c; do
    eval "p=\$PID_${m^^}"
    wait_for "$E2E_TIMEOUT" eval "! kill -0 $p 2>/dev/null" || {
        tail -20 "$T/err.$m" >&2
        fail "hark run on $m did not end after A's capture stopped"
    }
    rc=0
    wait "$p" || rc=$?
    eval "RC_${m^^}=$rc"
done
[ "$RC_A" = 0 ] || fail "A exited $RC_A: $(cat "$T/out.a")"
[ "$RC_B" = 3 ] || fail "B exited $RC_B, want 3 (an outage): $(cat "$T/out.b")"
[ "$RC_C" = 0 ] || fail "C exited $RC_C: $(cat "$T/out.c")"
grep -q "^  outages    1:" "$T/out.b" || fail "B's summary has no outage: $(cat "$T/out.b")"
grep -q "open_connections $HELD_N" "$T/out.b" ||
    fail "B's summary does not count what was lost: $(cat "$T/out.b")"
grep -q "NOT IN THE TRAIL" "$T/out.b" && fail "B's outage record is not in the trail"
grep -q "^  records " "$T/out.c" || fail "C's summary has no records line"
grep -q "^  records " "$T/out.b" && fail "B's summary counts records it did not write"

"$HARK" query --db "$T/db" --json >"$T/trail.jsonl" || fail "hark query --db failed"
cat "$exp2" >>"$exp"
sed -i '1!{/^conn\t/d}' "$exp"
check_trail "$T/trail.jsonl" "$exp" --server-port 8080 ||
    fail "the final trail misses transactions"
"$HARK" verify --db "$T/db" >/dev/null || fail "hark verify failed"
finish "three machines, one trail; a remote reassembler restarted and its loss in the trail; each hark run drained by itself"
