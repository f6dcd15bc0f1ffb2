#!/bin/bash
# test_demo.sh - the whole pipeline on the demo capture.
#
# `hark run -r tests/data/demo.pcap` (the supervisor and every stage as
# real processes) must exit 0; the trail must hold every transaction of
# tests/data/demo.expect.tsv, and nothing else, as a request record and a
# response record with the right method, path, status, body sizes and
# outcome "ok", grouped by connection as in the capture; `hark verify`
# must pass; every stage's last stats file must be final; the summary must
# count what the capture holds; query filters --kind and --limit work.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
[ -f hark.yaml ] || fail "hark.yaml is missing at the repo root"
[ -f "$DEMO_PCAP" ] || fail "$DEMO_PCAP is missing"

db="$T/db"
run="$T/run"
hark_start run -c hark.yaml -r "$DEMO_PCAP" --db "$db" --run-dir "$run"
hark_wait "$E2E_TIMEOUT" ||
    fail "hark run -r demo.pcap still running after ${E2E_TIMEOUT}s"
[ "$HARK_RC" = 0 ] || fail "hark run -r demo.pcap exited $HARK_RC"

# The summary: counts from the capture (12 transactions on 5 connections).
"$PY" - "$T/hark.out" <<'PYEOF' || problem "summary on stdout is wrong"
import re, sys
text = open(sys.argv[1]).read()
want = {"requests": 12, "responses": 12, "pairs": 12, "unmatched": 0,
        "flows": 5, "drops": 0, "packets": None}
bad = []
for name, v in want.items():
    m = (re.search(r"\b%s\b\s*[:=]?\s*(\d+)" % name, text) or
         re.search(r"(\d+)\s+%s\b" % name, text))
    if not m:
        bad.append("no count of %s" % name)
    elif v is not None and int(m.group(1)) != v:
        bad.append("%s %s, expected %d" % (name, m.group(1), v))
if bad:
    print("  summary: " + "; ".join(bad), file=sys.stderr)
    print("  stdout was:\n" + text, file=sys.stderr)
    sys.exit(1)
PYEOF

# Every stage wrote a final snapshot.
for id in $STAGE_IDS; do
    [ -f "$run/stats/$id.json" ] || fail "no stats file $run/stats/$id.json"
    final=$(stats_field "$run" "$id" final)
    [ "$final" = true ] ||
        problem "stats of $id not final (final=$final): $(cat "$run/stats/$id.json")"
done

# The trail.
query_json "$T/trail.jsonl" -c hark.yaml --db "$db" ||
    fail "hark query --json failed: $(cat "$T/trail.jsonl.err")"
check_trail "$T/trail.jsonl" "$DEMO_EXPECT" --exact --server-port 8080 ||
    problem "the trail does not match tests/data/demo.expect.tsv"
n=$(wc -l <"$T/trail.jsonl")
[ "$n" -eq 24 ] || problem "hark query --json printed $n records, expected 24"

# Query filters.
query_json "$T/req.jsonl" -c hark.yaml --db "$db" --kind request ||
    fail "hark query --kind request failed: $(cat "$T/req.jsonl.err")"
n=$(count_kind "$T/req.jsonl")
r=$(count_kind "$T/req.jsonl" request)
[ "$n/$r" = 12/12 ] ||
    problem "hark query --kind request: $n records, $r requests, expected 12/12"
query_json "$T/resp.jsonl" -c hark.yaml --db "$db" --kind response ||
    fail "hark query --kind response failed: $(cat "$T/resp.jsonl.err")"
n=$(count_kind "$T/resp.jsonl")
r=$(count_kind "$T/resp.jsonl" response)
[ "$n/$r" = 12/12 ] ||
    problem "hark query --kind response: $n records, $r responses, expected 12/12"
query_json "$T/lim.jsonl" -c hark.yaml --db "$db" --limit 5 ||
    fail "hark query --limit 5 failed: $(cat "$T/lim.jsonl.err")"
[ "$(wc -l <"$T/lim.jsonl")" -eq 5 ] ||
    problem "hark query --limit 5: $(wc -l <"$T/lim.jsonl") lines"
head -n 5 "$T/trail.jsonl" | cmp -s - "$T/lim.jsonl" ||
    problem "hark query --limit 5 is not the first 5 records of the trail"
"$HARK" query -c hark.yaml --db "$db" >"$T/table.txt" 2>"$T/table.err" ||
    fail "hark query (table) failed: $(cat "$T/table.err")"
grep -q '/api/v1/users/42' "$T/table.txt" ||
    problem "hark query table lacks /api/v1/users/42: $(head -5 "$T/table.txt")"

# The hash chain.
out=$("$HARK" verify --db "$db" 2>&1) || problem "hark verify failed: $out"
case $out in
"ok: 24 records, head "*) ;;
*) problem "hark verify printed: $out (expected 'ok: 24 records, head HASH')" ;;
esac

finish "ok: 12 transactions, 24 records, verify ok, stats final"
