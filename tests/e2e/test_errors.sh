#!/bin/bash
# test_errors.sh - bad input gets a clear error, never a hang or a crash.
#
# A config with an unknown key and one with a bad value: `hark run` exits
# non-zero and stderr names the file, the line and the key. A missing
# capture file, a file that is not a capture, a missing device, a missing
# database, a `hark tap` stage that is not in the config or a count that
# is not a number: non-zero and a message naming the thing. `--help` of hark and
# of every stage exits 0 and prints usage on stdout; an unknown option
# exits non-zero. A run that refuses its input stops its stages by draining
# them, not by SIGKILL.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

STAGES="capture reassemble dispatch correlate logger"
need_bin hark
for s in $STAGES; do need_bin "hark-$s"; done

n=0
# expect_error WHAT NEEDLE... -- CMD...: CMD exits 1..125 within 30 s (not
# a signal, not a timeout), without a sanitizer report, and its stderr
# contains every NEEDLE (fixed strings) outside its "info:" lines.
expect_error() {
    local what=$1
    shift
    local needles=()
    while [ "$1" != -- ]; do needles+=("$1"); shift; done
    shift
    n=$((n + 1))
    local rc=0
    timeout -k 5 30 "$@" >"$T/out.$n" 2>"$T/err.$n" </dev/null || rc=$?
    local err
    err=$(head -c 2000 "$T/err.$n")
    case $rc in
    124 | 137) fail "$what: '$*' did not exit within 30s" ;;
    esac
    [ "$rc" -ne 0 ] || fail "$what: '$*' exited 0; stderr: $err"
    [ "$rc" -lt 126 ] || fail "$what: '$*' died with status $rc: $err"
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/err.$n"; then
        fail "$what: sanitizer report: $err"
    fi
    local s
    for s in "${needles[@]}"; do
        grep -vF ': info: ' "$T/err.$n" | grep -qF -- "$s" ||
            fail "$what: stderr of '$*' does not name '$s'; it was: $err"
    done
    note "$what: exit $rc: $(grep -vF ': info: ' "$T/err.$n" | head -n 1)"
}

run_args() { echo "--db $T/db.$n --run-dir $T/run.$n"; }

# clean_shutdown WHAT: the last `hark run` that refused its input stopped
# its stages by draining them, not by SIGKILL.
clean_shutdown() {
    if grep -qE 'did not stop within|killed by signal' "$T/err.$n"; then
        problem "$1: hark run killed its stages instead of draining them:" \
            "$(grep -E 'did not stop within|killed by signal' "$T/err.$n" |
                head -n 2 | tr '\n' ' ')"
    fi
}

# An unknown key, on line 4.
cat >"$T/unknown.yaml" <<'YAML'
# a typo in a key
capture:
  device: lo
  devise: eth0
YAML
# shellcheck disable=SC2046
expect_error "unknown config key" "$T/unknown.yaml" ":4" "devise" -- \
    "$HARK" run -c "$T/unknown.yaml" -r "$DEMO_PCAP" $(run_args)

# A bad value, on line 3.
cat >"$T/badvalue.yaml" <<'YAML'
reassemble:
  max_flows: 1000
  shards: lots
YAML
# shellcheck disable=SC2046
expect_error "bad config value" "$T/badvalue.yaml" ":3" "shards" -- \
    "$HARK" run -c "$T/badvalue.yaml" -r "$DEMO_PCAP" $(run_args)

# A value out of range, on line 2.
printf 'reassemble:\n  shards: 0\n' >"$T/range.yaml"
# shellcheck disable=SC2046
expect_error "config value out of range" "$T/range.yaml" ":2" "shards" -- \
    "$HARK" run -c "$T/range.yaml" -r "$DEMO_PCAP" $(run_args)

# A config file that does not exist.
# shellcheck disable=SC2046
expect_error "missing config" "$T/no-such.yaml" -- \
    "$HARK" run -c "$T/no-such.yaml" -r "$DEMO_PCAP" $(run_args)

# A capture file that does not exist.
# shellcheck disable=SC2046
expect_error "missing capture file" "/nonexistent.pcap" -- \
    "$HARK" run -c hark.yaml -r /nonexistent.pcap $(run_args)
clean_shutdown "missing capture file"

# A file that is not a capture.
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nthis is not a pcap file\n' \
    >"$T/not-a-capture.pcap"
# shellcheck disable=SC2046
expect_error "not a capture file" "$T/not-a-capture.pcap" -- \
    "$HARK" run -c hark.yaml -r "$T/not-a-capture.pcap" $(run_args)
clean_shutdown "not a capture file"

# A device that does not exist.
# shellcheck disable=SC2046
expect_error "missing device" "no-such-dev0" -- \
    "$HARK" run -c hark.yaml -i no-such-dev0 $(run_args)
clean_shutdown "missing device"

# A database that does not exist: an error, and no database created.
expect_error "missing database" "$T/no-such-db" -- \
    "$HARK" query -c hark.yaml --db "$T/no-such-db"
[ ! -e "$T/no-such-db" ] || fail "hark query created $T/no-such-db"
expect_error "missing database (verify)" "$T/no-such-db" -- \
    "$HARK" verify --db "$T/no-such-db"
[ ! -e "$T/no-such-db" ] || fail "hark verify created $T/no-such-db"
expect_error "query --db /nonexistent" "/nonexistent" -- \
    "$HARK" query --db /nonexistent

# hark tap: a stage that is not one of the config's would tap nothing and
# wait forever; a count that is not a number would print nothing.
expect_error "tap --stage typo" "dispach" "dispatch" -- \
    "$HARK" tap -c hark.yaml --stage dispach
expect_error "tap --count not a number" "--count" "many" -- \
    "$HARK" tap -c hark.yaml --count many

# Unknown options and commands.
expect_error "unknown option" "--no-such-option" -- \
    "$HARK" run --no-such-option
expect_error "unknown command" "no-such-command" -- \
    "$HARK" no-such-command
for s in $STAGES; do
    expect_error "hark-$s unknown option" "--no-such-option" -- \
        "$HARK_BIN/hark-$s" --no-such-option
done

# --help: exit 0, usage on stdout.
expect_help() {
    local rc=0
    timeout -k 5 30 "$@" >"$T/help.out" 2>"$T/help.err" </dev/null || rc=$?
    [ "$rc" = 0 ] || fail "'$*' exited $rc: $(head -c 500 "$T/help.err")"
    grep -qi usage "$T/help.out" ||
        fail "'$*' printed no usage on stdout: $(head -c 500 "$T/help.out")"
}
expect_help "$HARK" --help
for cmd in run query verify stats tap; do
    expect_help "$HARK" "$cmd" --help
done
for s in $STAGES; do
    expect_help "$HARK_BIN/hark-$s" --help
done
# A stage that ignores SIGTERM is killed once supervisor.drain_timeout has
# passed, capture too (it can be stuck sending to a shard that is gone):
# Ctrl-C must not leave `hark run` hanging. A stand-in capture that
# ignores SIGTERM plays the stuck one; the other stages are the real ones.
n=$((n + 1))
B="$T/stuck-bin"
mkdir -p "$B"
cp "$HARK" "$B/hark" # the supervisor finds its stages beside itself
for s in reassemble dispatch correlate logger; do
    ln -s "$HARK_BIN/hark-$s" "$B/hark-$s"
done
cat >"$B/hark-capture" <<EOF
#!/bin/bash
echo \$\$ >"$T/stuck-capture.pid"
trap '' TERM INT HUP
exec sleep 60
EOF
chmod +x "$B/hark-capture"
printf 'supervisor:\n  drain_timeout: 1s\n' >"$T/stuck.yaml"
HARK_REAL=$HARK
HARK="$B/hark"
hark_start run -c "$T/stuck.yaml" -r "$DEMO_PCAP" $(run_args)
HARK=$HARK_REAL
wait_for 10 test -s "$T/stuck-capture.pid" ||
    fail "stuck capture: the stand-in capture did not start"
sleep 0.5
hark_stop INT 20
kill -KILL "$(cat "$T/stuck-capture.pid")" 2>/dev/null || :
[ "$HARK_RC" = 1 ] ||
    fail "stuck capture: hark run exited $HARK_RC, want 1 (a stage was killed)"
grep -q 'capture did not stop within' "$T/hark.err" ||
    fail "stuck capture: no 'did not stop within' for capture:" \
        "$(tail -n 5 "$T/hark.err")"
note "stuck capture: killed after drain_timeout, hark run exited 1"

finish "ok: $n error cases, --help of hark, its commands and 5 stages"
