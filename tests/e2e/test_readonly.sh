#!/bin/bash
# test_readonly.sh - a trail on read-only media is read and verified, and
# reading a trail never changes its files.
#
# Auditors check a copy of the trail on a read-only share or snapshot.
# The trail of serve_scenarios.py's capture (bodies in segment files, an
# index) is bind-mounted read-only; `hark verify`, `hark query` (plain,
# and narrowed by status through the index), `hark export` and `hark
# serve` must work on it and give exactly what they give on the writable
# trail, with $TMPDIR on a tmpfs and on the trail's own file system
# (read-only media cannot be linked from: the views are copies either
# way; test_common_store checks the linked views of a writable trail).
# Afterwards every file of the trail has the size, inode and
# modification time it had before any reader ran, and no view is left
# behind. A writable trail that cannot be linked from is read in place.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/serve_lib.sh"

need_root
serve_trail

tree() { # DIR: every file's path, size, inode and mtime, sorted
    find "$1" -printf '%P %s %i %T@\n' | sort
}
tree "$SERVE_DB" >"$T/tree.before"

mkdir "$T/ro" "$T/views-tmpfs" "$T/views-same"
mount --bind "$SERVE_DB" "$T/ro" || skip "cannot bind-mount here"
on_exit 'umount "$T/ro" 2>/dev/null || umount -l "$T/ro" 2>/dev/null
         umount "$T/views-tmpfs" 2>/dev/null'
mount -o remount,bind,ro "$T/ro" || fail "cannot remount the bind read-only"
touch "$T/ro/probe" 2>/dev/null && fail "the bind mount is writable"
mount -t tmpfs -o size=64m,mode=0700 tmpfs "$T/views-tmpfs" ||
    skip "cannot mount a tmpfs here"

# The reference: what the readers say on the writable trail.
"$HARK" verify --db "$SERVE_DB" >"$T/verify.ref" 2>&1 ||
    fail "hark verify failed on the trail: $(cat "$T/verify.ref")"
query_json "$T/all.ref" --db "$SERVE_DB" || fail "hark query failed"
query_json "$T/5xx.ref" --db "$SERVE_DB" --status 500 ||
    fail "hark query --status failed"
"$HARK" export --db "$SERVE_DB" --format har -o "$T/export.ref" \
    2>"$T/export.err" || fail "hark export failed: $(cat "$T/export.err")"
[ "$(count_kind "$T/all.ref" response)" = 36 ] ||
    fail "the reference query holds $(count_kind "$T/all.ref" response) responses"
[ -s "$T/5xx.ref" ] || fail "no 500 in the capture: the narrowed query tests nothing"

for views in "$T/views-tmpfs" "$T/views-same"; do
    export TMPDIR=$views
    what="read-only trail, views in $(basename "$views")"
    "$HARK" verify --db "$T/ro" >"$T/verify.out" 2>&1 ||
        problem "$what: hark verify failed: $(cat "$T/verify.out")"
    sed "s|$T/ro|$SERVE_DB|g" "$T/verify.out" | cmp -s - "$T/verify.ref" ||
        problem "$what: hark verify says otherwise: $(cat "$T/verify.out")"
    query_json "$T/all.out" --db "$T/ro" ||
        problem "$what: hark query failed: $(cat "$T/all.out.err")"
    cmp -s "$T/all.out" "$T/all.ref" || problem "$what: hark query differs"
    query_json "$T/5xx.out" --db "$T/ro" --status 500 ||
        problem "$what: hark query --status failed"
    cmp -s "$T/5xx.out" "$T/5xx.ref" ||
        problem "$what: hark query --status 500 differs"
    "$HARK" export --db "$T/ro" --format har -o "$T/export.out" \
        2>"$T/export.err" || problem "$what: hark export failed"
    cmp -s "$T/export.out" "$T/export.ref" || problem "$what: hark export differs"
    serve_start --db "$T/ro"
    curl -s "$SERVE_URL/api/records?status=5xx&limit=500" >"$T/api.json" ||
        problem "$what: hark serve did not answer"
    "$PY" - "$T/api.json" "$T/all.ref" <<'PY' || problem "$what: hark serve's list is wrong"
import json, sys
rows = json.load(open(sys.argv[1]))["records"]
want = 0
for line in open(sys.argv[2]):
    r = json.loads(line)
    code = r.get("http", {}).get("response", {}).get("status_code", 0)
    want += r["event"]["action"] == "response" and 500 <= code < 600
got = sum(1 for r in rows if r.get("kind") == "response")
if not want or got != want:
    sys.exit("serve listed %d 5xx responses, the trail holds %d" % (got, want))
PY
    serve_stop
    left=$(find "$views" -mindepth 1 | head -3)
    [ -z "$left" ] || problem "$what: views left behind: $left"
done
unset TMPDIR

tree "$SERVE_DB" >"$T/tree.after"
cmp -s "$T/tree.before" "$T/tree.after" ||
    problem "reading changed the trail's files: $(diff "$T/tree.before" "$T/tree.after" | head -5)"
# A writable trail with $TMPDIR on another file system cannot be linked
# from: it is opened in place, as before views (after the check above:
# LevelDB may rewrite its metadata files there).
TMPDIR="$T/views-tmpfs" query_json "$T/all.inplace" --db "$SERVE_DB" ||
    problem "in place: hark query failed: $(cat "$T/all.inplace.err")"
cmp -s "$T/all.inplace" "$T/all.ref" || problem "in place: hark query differs"
TMPDIR="$T/views-tmpfs" "$HARK" verify --db "$SERVE_DB" >"$T/verify.inplace" \
    2>&1 || problem "in place: hark verify failed: $(cat "$T/verify.inplace")"
left=$(find "$T/views-tmpfs" -mindepth 1 | head -3)
[ -z "$left" ] || problem "in place: views left behind: $left"
finish "verify, query, export and serve read the trail on read-only media; its files are unchanged"
