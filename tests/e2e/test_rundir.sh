#!/bin/bash
# test_rundir.sh - a run directory someone else prepared is refused.
#
# A throwaway local user (made and removed here) plays the attacker of
# issue 7: in a directory anyone may write (sticky, like /tmp) it makes
# the run directory root is about to use, with hark.lock a symbolic link
# to a root-owned file and stats a link to another directory. Root's
# `hark run` must refuse it, name it, and leave both targets untouched.
# So too: a link planted as hark.lock or stats in a run directory that
# is otherwise fine, a run directory others can write, one below a
# directory another user owns. And a user without $XDG_RUNTIME_DIR whose
# old default name /tmp/hark-<uid> someone made first runs in a new
# private directory instead.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool useradd userdel setpriv

evil=hark-e2e-$$
useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$evil" >/dev/null 2>&1 ||
    skip "cannot create a throwaway user with useradd"
evil_uid=$(id -u "$evil")
on_exit 'rm -rf "/tmp/hark-$evil_uid" "/tmp/hark-$evil_uid".*
         userdel "$evil" >/dev/null 2>&1'
as_evil() {
    setpriv --reuid="$evil" --regid="$evil" --clear-groups \
        env -u XDG_RUNTIME_DIR HOME=/nonexistent "$@"
}

# What must survive: a root-owned file and a directory with a stats-like
# file in it.
printf 'precious\n' >"$T/victim"
mkdir -m 0755 "$T/victim-dir"
printf '{}\n' >"$T/victim-dir/keep.json"
untouched() {
    [ "$(cat "$T/victim")" = precious ] ||
        problem "$1: $T/victim was overwritten: $(head -c 80 "$T/victim")"
    [ -f "$T/victim-dir/keep.json" ] ||
        problem "$1: $T/victim-dir/keep.json was deleted"
}

n=0
# refused WHAT NEEDLE RUN_DIR: root's hark run with RUN_DIR exits non-zero
# within 30 s, its stderr names NEEDLE, and the victims are untouched.
refused() {
    local what=$1 needle=$2 dir=$3 rc=0
    n=$((n + 1))
    timeout -k 5 30 "$HARK" run -r "$DEMO_PCAP" \
        --db "$T/db.$n" --run-dir "$dir" >"$T/out.$n" 2>"$T/err.$n" ||
        rc=$?
    if [ "$rc" = 0 ] || [ "$rc" -ge 124 ]; then
        problem "$what: hark run exited $rc: $(head -c 300 "$T/err.$n")"
    elif ! grep -qF -- "$needle" "$T/err.$n"; then
        problem "$what: stderr does not say '$needle': $(cat "$T/err.$n")"
    else
        note "$what: refused: $(head -n 1 "$T/err.$n")"
    fi
    untouched "$what"
}

# 1. The attack: the user makes the run directory first, in a directory
# anyone may write.
mkdir -m 1777 "$T/pub"
as_evil mkdir -m 0755 "$T/pub/run"
as_evil ln -s "$T/victim" "$T/pub/run/hark.lock"
as_evil ln -s "$T/victim-dir" "$T/pub/run/stats"
refused "run dir made by another user" "belongs to uid $evil_uid" \
    "$T/pub/run"
# ... or makes it a link to a directory of root's
as_evil ln -s "$T/victim-dir" "$T/pub/link"
refused "run dir a symbolic link" "symbolic link" "$T/pub/link"

# 2. Links planted in a run directory of ours.
mkdir -m 0700 "$T/run-lock" "$T/run-stats"
ln -s "$T/victim" "$T/run-lock/hark.lock"
refused "hark.lock a symbolic link" "hark.lock: a symbolic link" \
    "$T/run-lock"
ln -s "$T/victim-dir" "$T/run-stats/stats"
refused "stats a symbolic link" "symbolic link" "$T/run-stats"

# 3. Open to others, or below a directory another user controls.
mkdir -m 0777 "$T/run-open"
chmod 0777 "$T/run-open"
refused "run dir others can write" "can be written by others" \
    "$T/run-open"
mkdir -m 0755 "$T/theirs"
chown "$evil" "$T/theirs"
refused "run dir below another user's" "can be changed by another user" \
    "$T/theirs/run"

# 4. A user without a runtime directory: the old predictable default,
# made first by someone else, is not used.
ln -s "$T/victim-dir" "/tmp/hark-$evil_uid"
mkdir -m 0700 "$T/userdb"
chown "$evil" "$T/userdb"
rc=0
as_evil "$HARK" run -r "$DEMO_PCAP" --db "$T/userdb/db" \
    >"$T/user.out" 2>"$T/user.err" || rc=$?
[ "$rc" = 0 ] || problem "hark run as $evil exited $rc: $(cat "$T/user.err")"
dir=$(sed -n 's/^  details: hark stats --run-dir //p' "$T/user.out")
case $dir in
"/tmp/hark-$evil_uid".??????)
    [ "$(stat -c '%u %a' "$dir")" = "$evil_uid 700" ] ||
        problem "$dir: owner and mode $(stat -c '%u %a' "$dir"), want" \
            "$evil_uid 700"
    note "a user without XDG_RUNTIME_DIR ran in $dir" ;;
*) problem "hark run as $evil used run dir '$dir'," \
    "want a new /tmp/hark-$evil_uid.XXXXXX" ;;
esac
untouched "default run dir"

finish "ok: $n unsafe run directories refused, the victims untouched"
