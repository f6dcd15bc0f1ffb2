#!/bin/bash
# test_systemd.sh - the units in contrib/systemd.
#
#   - `make install`'s layout (binaries in /usr/local/bin, units in
#     /usr/local/lib/systemd/system) in a directory, with the system's own
#     units beside them: `systemd-analyze verify --root` passes
#     hark.service and instances of hark@.service (one role, one shard,
#     several roles escaped) without a word (it warns about unknown keys
#     and bad values, so any output fails the test);
#   - each unit has the hardening it promises (CapabilityBoundingSet,
#     ProtectSystem=strict, ReadWritePaths holding the trail's directory,
#     NoNewPrivileges) and reloads through `hark check-config`;
#   - the pipeline runs live, as root, within the unit's capability
#     bounding set and with no_new_privs (setpriv): what the unit allows
#     is enough to sniff, hand the directories to the stage user and
#     supervise; a request is in the trail and hark exits 0.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
command -v systemd-analyze >/dev/null ||
    skip "systemd-analyze is not installed (the systemd package)"
UNITS="$REPO/contrib/systemd"
[ -f "$UNITS/hark.service" ] && [ -f "$UNITS/hark@.service" ] ||
    fail "contrib/systemd lacks hark.service or hark@.service"

# make install's tree, with this build's binaries and the system's units
R="$T/root"
mkdir -p "$R/usr/local/bin" "$R/usr/local/lib/systemd/system" \
    "$R/usr/lib/systemd" "$R/bin"
cp "$HARK_BIN"/hark "$HARK_BIN"/hark-* "$R/usr/local/bin/"
cp "$UNITS"/*.service "$R/usr/local/lib/systemd/system/"
cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/" ||
    skip "no system units in /usr/lib/systemd/system to verify against"
cp /bin/kill "$R/bin/kill" || fail "no /bin/kill (procps)"
for unit in hark.service hark@capture.service hark@reassemble-1.service \
    "hark@$(systemd-escape dispatch,correlate,logger).service"; do
    rc=0
    out=$(systemd-analyze verify --root="$R" "$unit" 2>&1) || rc=$?
    [ "$rc" = 0 ] && [ -z "$out" ] ||
        fail "systemd-analyze verify $unit (exit $rc): $out"
done
# and it does complain: a misspelt key is reported
sed 's/^ProtectSystem=/ProtectSytem=/' "$UNITS/hark.service" \
    >"$R/usr/local/lib/systemd/system/hark-typo.service"
out=$(systemd-analyze verify --root="$R" hark-typo.service 2>&1) || :
[[ $out == *"Unknown key"*ProtectSytem* ]] ||
    fail "systemd-analyze verify misses a misspelt key: $out"
note "systemd-analyze verify: hark.service and hark@.service pass"

for u in hark.service hark@.service; do
    f="$UNITS/$u"
    for key in 'CapabilityBoundingSet=CAP_' 'ProtectSystem=strict' \
        'ReadWritePaths=/var/lib/hark' 'NoNewPrivileges=yes' \
        'WorkingDirectory=/var/lib/hark' 'KillMode=mixed' \
        'ExecReload=/usr/local/bin/hark check-config /etc/hark/hark.yaml'; do
        grep -q "^$key" "$f" || fail "$u lacks $key"
    done
done
grep -q -- '--only %I' "$UNITS/hark@.service" ||
    fail "hark@.service does not run --only its instance"

# ---- the unit's capabilities are enough -------------------------------
need_root
need_tool curl setpriv
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNITS/hark.service")
bound="-all"
for c in $caps; do
    c=${c#CAP_}
    bound="$bound,+${c,,}"
done
start_server
live_config
hark_start_bounded() {
    "$PY" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$(command -v setpriv)" \
        --bounding-set="$bound" --inh-caps=-all --no-new-privs -- \
        "$HARK" "${LIVE_ARGS[@]}" >"$T/hark.out" 2>"$T/hark.err" &
    HARK_PID=$!
}
hark_start_bounded
live_ready
rm -f "$T/caps.tsv"
curl_tx "$T/caps.tsv" "http://127.0.0.1:$SERVER_PORT/api/v1/users"
wait_trail "$T/caps.tsv" "a request under the unit's capabilities"
CAP_PID=$(stats_field "$T/run" capture pid)
grep -q '^CapBnd:\s*0*[0-9a-f]*$' "/proc/$CAP_PID/status" ||
    fail "cannot read the capture's capabilities"
hark_stop INT
[ "$HARK_RC" = 0 ] || fail "hark run under $bound exited $HARK_RC: $(tail -5 "$T/hark.err")"
finish "units verified; the pipeline runs within CapabilityBoundingSet ($caps)"
