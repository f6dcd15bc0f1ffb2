#!/bin/sh
# bench_live.sh BINDIR - the bench workload replayed live: tcpreplay
# sends it over a veth pair from one network namespace to another, where
# hark captures it (and, at the same rates, `tcpdump -w /dev/null`), at
# increasing rates. Reports, per rate, what each captured and what the
# kernel dropped, and the rate (as tcpreplay reached it) each takes
# without a drop: the last before its first drop. It stops once both
# have dropped.
# Root only (namespaces, veth, capture); `make bench BENCH_MODE=live`.
#   BENCH_PRESET   workload (default medium; build/bench/PRESET.pcap)
#   BENCH_RATES    Mbit/s to try, in order (default 250 500 1000 1500 2000
#                  3000 4000)
# Like bench.sh, a measurement: nothing passes or fails on its numbers.
set -eu
bin=$(cd "$1" && pwd)
preset=${BENCH_PRESET:-medium}
rates=${BENCH_RATES:-250 500 1000 1500 2000 3000 4000}
pcap=build/bench/$preset.pcap
[ "$(id -u)" = 0 ] || { echo "bench live: needs root" >&2; exit 1; }
for t in ip tcpreplay python3; do
    command -v "$t" >/dev/null ||
        { echo "bench live: $t is needed (as root: make bench installs it)" >&2; exit 1; }
done
if [ ! -s "$pcap" ]; then
    BENCH_RUNS=1 scripts/bench.sh "$1" >/dev/null # generates it
fi
total=$("$bin/tools/read_limit" "$pcap" | awk '{ print $1 }')

tx=hark-bench-tx-$$
rx=hark-bench-rx-$$
work=$(mktemp -d /tmp/hark-bench-live.XXXXXX)
chmod 0711 "$work"
hark_pid=
cleanup() {
    [ -n "$hark_pid" ] && kill -INT "$hark_pid" 2>/dev/null && wait "$hark_pid"
    ip netns del "$tx" 2>/dev/null || :
    ip netns del "$rx" 2>/dev/null || :
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
ip netns add "$tx"
ip netns add "$rx"
ip link add veth-tx netns "$tx" type veth peer name veth-rx netns "$rx"
# IPv6 segments of a full MSS are 1508 bytes on the wire; the hosts'
# own IPv6 chatter would be counted with the workload
for ns in "$tx:veth-tx" "$rx:veth-rx"; do
    ip netns exec "${ns%%:*}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "${ns%%:*}" link set "${ns#*:}" mtu 9000 up
done

# replay RATE: sends the workload at RATE Mbit/s; prints what tcpreplay
# says it reached, in Mbit/s
replay() {
    ip netns exec "$tx" tcpreplay -i veth-tx --mbps="$1" "$pcap" \
        >"$work/replay" 2>&1 || { cat "$work/replay" >&2; return 1; }
    sed -n 's/.*Rated: .*, \([0-9.]*\) Mbps.*/\1/p' "$work/replay" | head -n 1
}

# stats FILE KEY...: those counters of one stage's stats file
stats() {
    python3 - "$@" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["counters"]
print(" ".join(str(c.get(k, 0)) for k in sys.argv[2:]))
PY
}

hark_at() { # RATE: hark's captured, dropped, transactions
    rm -rf "$work/db" "$work/run"
    ip netns exec "$rx" "$bin/hark" run -q -c hark.yaml -i veth-rx -p \
        --db "$work/db" --run-dir "$work/run" >"$work/summary" 2>&1 &
    hark_pid=$!
    n=0
    while [ ! -f "$work/run/stats/logger.json" ] ||
          [ ! -f "$work/run/stats/capture.json" ]; do
        n=$((n + 1))
        [ "$n" -lt 100 ] || { echo "bench live: hark did not start" >&2; return 1; }
        sleep 0.1
    done
    reached=$(replay "$1")
    sleep 2 # what is in flight reaches the trail
    kill -INT "$hark_pid"
    wait "$hark_pid" || : # 3: it counted the drops
    hark_pid=
    set -- $(stats "$work/run/stats/capture.json" packets kernel_dropped \
        if_dropped)
    pairs=$(sed -n 's/^  pairs  *\([0-9]*\).*/\1/p' "$work/summary")
    echo "$reached $1 $(($2 + $3)) ${pairs:-0}"
}

tcpdump_at() { # RATE: tcpdump's captured, dropped
    ip netns exec "$rx" tcpdump -i veth-rx -B 32768 -n -w /dev/null \
        >"$work/tcpdump" 2>&1 &
    pid=$!
    sleep 1
    replay "$1" >/dev/null
    sleep 1
    kill -INT "$pid"
    wait "$pid" || :
    cap=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$work/tcpdump")
    drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/tcpdump")
    echo "${cap:-0} ${drop:-0}"
}

echo "bench live $preset: $total packets over veth, hark (2 shards) and tcpdump -w /dev/null"
printf '  %8s %8s  %22s %10s  %22s\n' Mbit/s reached "hark captured/dropped" \
    transactions "tcpdump captured/dropped"
hark_best=none
tcpdump_best=none
hark_dropped=
tcpdump_dropped=
for rate in $rates; do
    set -- $(hark_at "$rate")
    reached=$1 h_cap=$2 h_drop=$3 h_pairs=$4
    have_tcpdump=
    if command -v tcpdump >/dev/null; then
        set -- $(tcpdump_at "$rate")
        t_cap=$1 t_drop=$2 have_tcpdump=1
    fi
    printf '  %8s %8s  %22s %10s  %22s\n' "$rate" "$reached" \
        "$h_cap/$h_drop" "$h_pairs" \
        "${have_tcpdump:+$t_cap/$t_drop}"
    # the rate reached before the first one with a drop
    if [ -z "$hark_dropped" ]; then
        if [ "$h_drop" = 0 ] && [ "$h_cap" -ge "$total" ]; then
            hark_best=$reached
        else
            hark_dropped=1
        fi
    fi
    if [ -n "$have_tcpdump" ] && [ -z "$tcpdump_dropped" ]; then
        if [ "$t_drop" = 0 ] && [ "$t_cap" -ge "$total" ]; then
            tcpdump_best=$reached
        else
            tcpdump_dropped=1
        fi
    fi
    [ -n "$hark_dropped" ] && { [ -z "$have_tcpdump" ] ||
        [ -n "$tcpdump_dropped" ]; } && break
done
# best TOOL RATE DROPPED: the summary of one tool
best() {
    if [ -n "$3" ]; then
        echo "$1 drops nothing up to $2 Mbit/s (the rate tcpreplay reached)"
    else
        echo "$1 dropped nothing at any rate tried, up to $2 Mbit/s"
    fi
}
echo "  $(best hark "$hark_best" "$hark_dropped")"
[ "$tcpdump_best" != none ] || [ -n "$tcpdump_dropped" ] &&
    echo "  $(best "tcpdump -w" "$tcpdump_best" "$tcpdump_dropped")"
