#!/bin/bash
# test_disk_full.sh - a full disk under the trail: exact counts, one
# clear message, a run that ends.
#
# A capture of 200 POSTs of 60 KB (tests/tools/pcapgen.py), so the trail
# needs about 12 MB, is run into a trail on a 5 MB tmpfs this test mounts
# (and unmounts), with logger.batch 16 (and the default
# logger.disk_full_wait, 10s).
# `hark run` must end on its own within 60 s with a non-zero status, say
# "disk full" exactly once, and count exactly: the summary's "records N
# written" is the number of records the trail holds (read from a copy on
# a disk with room, where `hark verify` passes), the logger's records
# and records_lost add up to every request and response, and the
# summary's drops include the lost ones.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_root
need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool mount umount

"$PY" - "$T/big.pcap" <<'PYEOF' || fail "cannot write the capture"
import random, sys
sys.path.insert(0, "tests/tools")
from pcapgen import Capture, Conn, http_request, http_response
rnd = random.Random(7)
cap = Capture()
for i in range(200):
    c = Conn(cap, "10.0.0.1", 20000 + i, "10.0.0.2", 80)
    c.handshake()
    c.send("c", http_request("POST", "/upload/%d" % i,
                             body=rnd.randbytes(60000)))
    c.send("s", http_response(200, b"ok"))
    c.close()
cap.write(sys.argv[1])
PYEOF

mkdir "$T/small"
mount -t tmpfs -o size=5m,mode=0755 tmpfs "$T/small" ||
    skip "cannot mount a tmpfs here"
on_exit 'umount "$T/small" 2>/dev/null || umount -l "$T/small" 2>/dev/null'

cat >"$T/full.yaml" <<YAML
logger:
  batch: 16
YAML
t0=$SECONDS
hark_start run -c "$T/full.yaml" -r "$T/big.pcap" --db "$T/small/db" \
    --run-dir "$T/run"
hark_wait 60 || fail "hark run did not end within 60s of a full disk"
took=$((SECONDS - t0))
[ "$HARK_RC" != 0 ] || fail "hark run exited 0 although records were lost"
note "hark run ended in ${took}s with status $HARK_RC"

said=$(grep -c 'disk full' "$T/hark.err" || :)
[ "$said" = 1 ] || problem "stderr says 'disk full' $said times, want once:" \
    "$(grep 'disk full' "$T/hark.err" | head -n 3)"
note "$(grep -m1 'disk full' "$T/hark.err")"

summary() { # NAME: the number after NAME in the summary
    sed -n "s/^  $1  *\([0-9][0-9]*\).*/\1/p" "$T/hark.out" | head -n 1
}
written=$(summary records)
drops=$(summary drops)
reqs=$(summary requests)
resps=$(sed -n 's/^  requests .*responses \([0-9]*\)$/\1/p' "$T/hark.out")
records=$(stats_counter "$T/run" logger records)
lost=$(stats_counter "$T/run" logger records_lost)
[ -n "$written" ] && [ -n "$drops" ] || fail "no summary: $(cat "$T/hark.out")"
[ "$reqs/$resps" = 200/200 ] ||
    problem "summary: requests $reqs responses $resps, want 200/200"
[ "$written" = "$records" ] ||
    problem "summary says $written written, the logger counted $records"
[ "$lost" -gt 0 ] || problem "the logger counted no records_lost"
[ $((records + lost)) = 400 ] ||
    problem "records $records + records_lost $lost != 400 records sent"
[ "$drops" -ge "$lost" ] ||
    problem "summary drops $drops < records_lost $lost"

# What the trail holds, read from a copy on a disk with room (LevelDB
# needs space to open a trail).
cp -a "$T/small/db" "$T/copy"
query_json "$T/trail.jsonl" --db "$T/copy" ||
    fail "hark query of the copy failed: $(cat "$T/trail.jsonl.err")"
held=$(wc -l <"$T/trail.jsonl")
[ "$held" = "$written" ] ||
    problem "the trail holds $held records, the summary says $written"
out=$("$HARK" verify --db "$T/copy" 2>&1) ||
    problem "hark verify of the copy failed: $out"
case $out in
"ok: $written records"*) ;;
*) problem "hark verify: $out (want ok: $written records)" ;;
esac
finish "ok: $written records written and in the trail, $lost counted lost," \
    "'disk full' said once, ended in ${took}s"
