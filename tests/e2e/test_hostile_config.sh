#!/bin/bash
# test_hostile_config.sh - configs and arguments built to hurt.
#
# Each must be refused quickly, with exit status 2 and a message that
# says what is wrong and what is expected, by every command that reads
# it: YAML nested 100,000 levels (libyaml took 40 s and more), a million
# values, 200,000 anchors (minutes), a FIFO or a device as the config (open() used to wait for a
# writer), --since 1e30 (an overflow that returned every record) and
# impossible dates (2026-02-30 was read as March 2nd), --limit " -5" (read
# as 2^64 - 5). Valid values keep working on a real trail, made from the
# demo capture.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
[ -f "$DEMO_PCAP" ] || fail "$DEMO_PCAP is missing"

# refused CMD... : runs `timeout 20 CMD`; expects exit 2 within the time
# and the output in $T/out.
refused() {
    local rc=0 t0=$SECONDS
    timeout -k 5 20 "$@" >"$T/out" 2>&1 </dev/null || rc=$?
    if [ "$rc" = 124 ] || [ "$rc" -ge 128 ]; then
        problem "$* did not end in 20s (exit $rc)"
        return 1
    fi
    [ "$rc" = 2 ] ||
        { problem "$* exited $rc, want 2: $(head -c 300 "$T/out")"
          return 1; }
    [ $((SECONDS - t0)) -le 5 ] ||
        problem "$* took $((SECONDS - t0))s to refuse"
}
says() {
    grep -qF -- "$1" "$T/out" ||
        problem "want '$1' in: $(head -c 400 "$T/out")"
}

"$PY" - "$T" <<'PYEOF'
import sys
t = sys.argv[1]
n = 100000
open(t + "/deep.yaml", "w").write("capture: " + "[" * n + "]" * n + "\n")
open(t + "/deepmap.yaml", "w").write("capture: " + "{a: " * n + "1" +
                                     "}" * n + "\n")
open(t + "/wide.yaml", "w").write("capture: [" + ",".join(["1"] * 1000000) +
                                  "]\n")
open(t + "/anchors.yaml", "w").write(
    "x: [" + ",".join("&a%d 1" % i for i in range(200000)) + "]\n")
PYEOF
mkfifo "$T/fifo.yaml"

for cfg in deep.yaml deepmap.yaml; do
    for cmd in query export stats tap; do
        refused "$HARK" "$cmd" -c "$T/$cfg" &&
            says "$T/$cfg:1: (top level): nested too deep (expected at most 64"
    done
    refused "$HARK" run -c "$T/$cfg" -r "$DEMO_PCAP" &&
        says "nested too deep"
    refused "$HARK_BIN/hark-dispatch" -c "$T/$cfg" && says "nested too deep"
done
refused "$HARK" query -c "$T/wide.yaml" &&
    says "too many values (expected at most 262144"
refused "$HARK" query -c "$T/anchors.yaml" &&
    says "too many anchors (expected at most 256"
fifo_says="cannot read: not a regular file (expected a YAML file every stage"
fifo_says+=" can read, found a FIFO or pipe)"
for cmd in query export tap; do
    refused "$HARK" "$cmd" -c "$T/fifo.yaml" && says "$fifo_says"
done
refused "$HARK" run -c "$T/fifo.yaml" -r "$DEMO_PCAP" && says "found a FIFO"
refused "$HARK_BIN/hark-logger" -c "$T/fifo.yaml" && says "found a FIFO"
refused "$HARK" query -c /dev/zero && says "found a character device"
refused "$HARK" query -c /dev/stdin && says "not a regular file"

# A trail to query: the demo capture, 24 records.
db="$T/db"
hark_start run -c hark.yaml -r "$DEMO_PCAP" --db "$db" --run-dir "$T/run"
hark_wait "$E2E_TIMEOUT" || fail "hark run -r demo.pcap did not finish"
[ "$HARK_RC" = 0 ] || fail "hark run -r demo.pcap exited $HARK_RC"
count() { "$HARK" query --json --db "$db" "$@" 2>"$T/q.err" | wc -l; }
[ "$(count)" = 24 ] || fail "the demo trail holds $(count) records, not 24"

for cmd in query export; do
    for opt in --since --until; do
        refused "$HARK" "$cmd" --db "$db" "$opt" 1e30 &&
            says "$opt '1e30': not a time (expected RFC 3339"
        refused "$HARK" "$cmd" --db "$db" "$opt" 2026-02-30 &&
            says "$opt '2026-02-30': no such date"
        refused "$HARK" "$cmd" --db "$db" "$opt" 2026-02-30T00:00:00Z &&
            says "no such date"
        refused "$HARK" "$cmd" --db "$db" "$opt" 99999999999 &&
            says "out of range (expected a time from 1970-01-01T00:00:00Z"
        refused "$HARK" "$cmd" --db "$db" "$opt" 1969-12-31T23:59:59Z &&
            says "out of range"
        refused "$HARK" "$cmd" --db "$db" "$opt" 2026-01-01T24:00:00Z &&
            says "no such time of day"
        for bad in inf nan 0x10 -5 " 5" "" 1e3; do
            refused "$HARK" "$cmd" --db "$db" "$opt" "$bad" && says "not a time"
        done
    done
done
# Numbers: digits only (strtoull alone reads " -5" as 2^64 - 5).
for bad in " -5" "+5" 0 99999999999999999999 5x; do
    refused "$HARK" query --db "$db" --limit "$bad" &&
        says "--limit: expected a positive number"
done
refused "$HARK" query --db "$db" --status " 200" && says "--status: expected"
[ "$(count --limit 5)" = 5 ] || problem "--limit 5 did not print 5 records"
# Valid times still select: the whole trail, none of it, and a day.
[ "$(count --since 1970-01-01)" = 24 ] ||
    problem "--since 1970-01-01 lost records"
[ "$(count --since 0 --until 18446744073.709551615)" = 24 ] ||
    problem "the widest range lost records"
[ "$(count --since 2554-07-21T23:34:33Z)" = 0 ] ||
    problem "--since the last second still printed records"
[ "$(count --until 1970-01-01T01:00:00+01:00)" = 0 ] ||
    problem "--until the epoch (with an offset) printed records"
"$HARK" export --db "$db" --since 2000-02-29 --format har -o "$T/t.har" ||
    problem "export --since 2000-02-29 (a leap day) failed"
finish "ok: every hostile config and time refused with its reason"
