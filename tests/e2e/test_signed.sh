#!/bin/bash
# test_signed.sh - signed checkpoints anchor the trail.
#
# `hark keygen` makes a key; the demo capture is run with
# logger.sign_key set (its secret file root's alone, mode 0600: the
# logger reads it before it gives root up) and a batch of 4, so the
# trail holds several checkpoints. `hark run` prints the final head and
# the key it was signed with; `hark verify --pubkey` and `--head` pass.
# Then copies of the trail are edited as someone with write access to
# its files would (tests/tools/trail_edit.c), each time keeping the
# chain itself consistent so that a plain `hark verify` still passes:
#   - cut after seq 20 (a signed, not final, checkpoint is the last),
#   - cut after seq 22 (two records no signature covers),
#   - a record edited and the whole chain recomputed (checkpoint heads
#     too: only their signatures no longer match),
#   - two records swapped, the chain recomputed.
# Each must fail `hark verify --pubkey` and `--head` with its reason.
# A run without a key prints the head too, and --pubkey then fails.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
EDIT="$HARK_BIN/tools/trail_edit"
[ -x "$EDIT" ] || fail "$EDIT is not built (make SAN=1 tools)"

"$HARK" keygen -o "$T/key" >/dev/null || fail "hark keygen failed"
cat >"$T/signed.yaml" <<YAML
logger:
  sign_key: "$T/key.sign"
  batch: 4
  checkpoint_records: 4
YAML
hark_start run -c "$T/signed.yaml" -r "$DEMO_PCAP" --db "$T/db" \
    --run-dir "$T/run"
hark_wait "$E2E_TIMEOUT" || fail "hark run still running"
[ "$HARK_RC" = 0 ] || fail "hark run exited $HARK_RC"
head=$(sed -n 's/^  head  *seq 24 \([0-9a-f]\{64\}\)$/\1/p' "$T/hark.out")
[ -n "$head" ] || fail "hark run printed no 'head seq 24 HASH' line"
pub=$(cut -d' ' -f2 "$T/key.sign.pub")
grep -qF "signed by ed25519 $pub" "$T/hark.out" ||
    fail "hark run does not say the head is signed with $T/key.sign.pub"
note "hark run: head $head, signed"

# verify_ok DB ARGS...: exit 0 and "ok: ".
verify_ok() {
    local db=$1 out
    shift
    out=$("$HARK" verify --db "$db" "$@" 2>&1) ||
        { problem "verify $* of $(basename "$db") failed: $out"; return; }
    case $out in
    "ok: "*) ;;
    *) problem "verify $* of $(basename "$db"): $out" ;;
    esac
}
# verify_bad DB WHY ARGS...: exit 1 and WHY in what it printed.
verify_bad() {
    local db=$1 why=$2 out rc=0
    shift 2
    out=$("$HARK" verify --db "$db" "$@" 2>&1) || rc=$?
    if [ "$rc" != 1 ] || [[ $out != *"$why"* ]]; then
        problem "verify $* of $(basename "$db"): exit $rc, '$out';" \
            "want exit 1 and '$why'"
    else
        note "$(basename "$db"): verify ${1:-}: ${out#*: }"
    fi
}

verify_ok "$T/db"
verify_ok "$T/db" --pubkey "$T/key.sign.pub" --head "$head"
"$HARK" verify --db "$T/db" --pubkey "$T/key.sign.pub" | grep -q 'signed' ||
    problem "verify --pubkey does not say the trail is signed"

# tampered NAME EDIT...: a copy of the trail, edited.
tampered() {
    local name=$1
    shift
    cp -a "$T/db" "$T/$name"
    "$EDIT" "$T/$name" "$@" >/dev/null || fail "trail_edit $* failed"
    verify_ok "$T/$name" # the chain alone cannot tell
    verify_bad "$T/$name" "is not in the chain" --head "$head"
}
tampered cut20 cut 20
verify_bad "$T/cut20" "not a final one" --pubkey "$T/key.sign.pub"
tampered cut22 cut 22
verify_bad "$T/cut22" "records 21 to 22 are not covered" \
    --pubkey "$T/key.sign.pub"
tampered rewritten rewrite
verify_bad "$T/rewritten" "signature invalid" --pubkey "$T/key.sign.pub"
tampered swapped swap 3 4
verify_bad "$T/swapped" "signature invalid" --pubkey "$T/key.sign.pub"

# Without a key: the head is printed, nothing is signed.
hark_start run -c hark.yaml -r "$DEMO_PCAP" --db "$T/plain" \
    --run-dir "$T/run"
hark_wait "$E2E_TIMEOUT" || fail "hark run (no key) still running"
[ "$HARK_RC" = 0 ] || fail "hark run (no key) exited $HARK_RC"
plain=$(sed -n 's/^  head  *seq 24 \([0-9a-f]\{64\}\)$/\1/p' "$T/hark.out")
[ -n "$plain" ] || fail "hark run without a key printed no head"
verify_ok "$T/plain" --head "$plain"
verify_bad "$T/plain" "no checkpoint signed by this key" \
    --pubkey "$T/key.sign.pub"
finish "ok: cut, rewrite and reorder pass the chain check and fail" \
    "--pubkey and --head"
