#!/bin/bash
# test_privileges.sh - started as root, only the supervisor stays root.
#
# A live run as in test_live.sh, started by root. Once the pipeline is
# live, every stage process (the pid its stats file names) runs as the
# unprivileged stage user (supervisor.run_as: `hark`, else `nobody`):
# real, effective, saved and filesystem uid not 0, no effective,
# permitted or ambient capability, no_new_privs set; the capture, which
# opened the device as root, too. The supervisor is still root. The
# trail and the run directory belong to the stage user. After a kill -9
# of the capture, the supervisor starts a new one that again gives root
# up, and the pipeline still records (the run then ends with status 3: a
# capture that was down is an outage).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool curl

if id -u hark >/dev/null 2>&1; then user=hark; else user=nobody; fi
uid=$(id -u "$user")
[ "$uid" != 0 ] || fail "the stage user $user is root"

# status_field PID NAME: a line of /proc/PID/status without its name.
status_field() {
    sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '[:space:]' ' '
}

# unprivileged ID: the stage ID runs as $uid with no capability left.
unprivileged() {
    local id=$1 pid
    pid=$(stats_field "$T/run" "$id" pid)
    [ -n "$pid" ] && pid_alive "$pid" ||
        { problem "$id: no live pid in its stats file"; return; }
    local uids caps
    uids=$(status_field "$pid" Uid)
    [ "$uids" = "$uid $uid $uid $uid " ] || [ "$uids" = "$uid $uid $uid $uid" ] ||
        problem "$id (pid $pid): Uid '$uids', want $uid ($user) everywhere"
    for caps in CapEff CapPrm CapAmb CapInh; do
        [ "$(status_field "$pid" "$caps" | tr -d ' ')" = 0000000000000000 ] ||
            problem "$id (pid $pid): $caps $(status_field "$pid" "$caps")"
    done
    [ "$(status_field "$pid" NoNewPrivs | tr -d ' ')" = 1 ] ||
        problem "$id (pid $pid): NoNewPrivs is not set"
    note "$id (pid $pid): uid $uid ($user), no capability"
}

start_server
live_config
hark_start "${LIVE_ARGS[@]}"
live_ready
note "pipeline live on lo, server on port $SERVER_PORT"

for id in $STAGE_IDS; do
    unprivileged "$id"
done
[ "$(status_field "$HARK_PID" Uid | cut -d' ' -f1)" = 0 ] ||
    problem "the supervisor (pid $HARK_PID) is not root"
for d in "$T/db" "$T/run" "$T/run/stats"; do
    owner=$(stat -c %u "$d")
    [ "$owner" = "$uid" ] || problem "$d belongs to uid $owner, not $user"
done

# The supervisor can still start a capture, which gives root up again.
old=$(stats_field "$T/run" capture pid)
kill -KILL "$old"
new_capture() {
    local p
    p=$(stats_field "$T/run" capture pid)
    [ -n "$p" ] && [ "$p" != "$old" ] && pid_alive "$p"
}
wait_for "$E2E_TIMEOUT" new_capture ||
    fail "no new capture after kill -9 of pid $old"
unprivileged capture
live_ready
U="http://127.0.0.1:$SERVER_PORT"
exp="$T/expect.tsv"
curl_tx "$exp" "$U/" --next "$U/api/v1/users/42"
wait_trail "$exp" "the transactions made after the capture restarted"

hark_stop INT
[ "$HARK_RC" = 3 ] ||
    fail "hark run exited $HARK_RC after SIGINT, want 3 (the capture died)"
out=$("$HARK" verify --db "$T/db" 2>&1) || fail "hark verify failed: $out"
finish "ok: every stage runs as $user without capabilities; the supervisor" \
    "is root and restarted the capture"
