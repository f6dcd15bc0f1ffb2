#!/bin/bash
# test_corpus.sh - every capture of ../shared/corpus, against tshark.
#
# 105 real captures from Suricata's and nDPI's test suites. For each: hark
# run -r must exit 0, or 3 when the capture itself misses bytes (and the
# summary says so; under the sanitizer build: no memory error on hostile
# input), `hark verify` must pass, and hark must find at least the
# requests tshark finds (REQ rows of <name>.tshark.tsv) and at least as
# many answered ones (REQ rows with a response) as complete `ok` pairs.
# Known shortfalls are listed with their reason in corpus_known.tsv; a
# listed capture that no longer falls short fails too, so the list stays
# true. Prints the totals.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
corpus="$HARK_SHARED/corpus"
[ -d "$corpus" ] || skip "no corpus at $corpus"
known="$(dirname "$0")/corpus_known.tsv"

: >"$T/results.tsv"
n=0
for pcap in "$corpus"/*/*.pcap "$corpus"/*/*.pcapng; do
    [ -f "$pcap" ] || continue
    name=$(basename "$pcap")
    tsv="${pcap%.pcap*}.tshark.tsv"
    [ -f "$tsv" ] || fail "$name: no tshark view $tsv"
    hark_start run -q -c hark.yaml -r "$pcap" --db "$T/db-$n" \
        --run-dir "$T/run"
    hark_wait "$E2E_TIMEOUT" || fail "$name: hark run still running"
    # 3: the capture itself misses bytes, and the summary says how many
    [ "$HARK_RC" = 0 ] ||
        { [ "$HARK_RC" = 3 ] && grep -q "not captured: [1-9]" "$T/hark.out" &&
            grep -q "drops      0 " "$T/hark.out"; } ||
        fail "$name: hark run exited $HARK_RC: $(tail -5 "$T/hark.err")"
    "$HARK" verify --db "$T/db-$n" >"$T/verify" 2>&1 ||
        fail "$name: hark verify: $(cat "$T/verify")"
    query_json "$T/trail.jsonl" --db "$T/db-$n" ||
        fail "$name: hark query: $(cat "$T/trail.jsonl.err")"
    "$PY" - "$name" "$tsv" "$T/trail.jsonl" >>"$T/results.tsv" <<'PY'
import json, sys
name, tsv, trail = sys.argv[1:4]
rows = [l.rstrip("\n").split("\t") for l in open(tsv)][1:]
t_req = sum(1 for r in rows if r[0] == "REQ")
t_pair = sum(1 for r in rows if r[0] == "REQ" and r[15] != "")
h_req = h_ok = 0
for line in open(trail):
    r = json.loads(line)
    if r["event"]["action"] == "request":
        h_req += 1
    elif r["hark"].get("outcome") == "ok":
        h_ok += 1
print("%s\t%d\t%d\t%d\t%d" % (name, t_req, t_pair, h_req, h_ok))
PY
    rm -rf "$T/db-$n"
    n=$((n + 1))
done
[ "$n" -ge 100 ] || fail "only $n captures in $corpus"

"$PY" - "$T/results.tsv" "$known" <<'PY' || fail "the corpus disagrees with tshark beyond corpus_known.tsv"
import sys
results, known_path = sys.argv[1:3]
known = {}
for line in open(known_path):
    if line.strip() and not line.startswith("#"):
        name, why = line.rstrip("\n").split("\t", 1)
        known[name] = why
tot = [0, 0, 0, 0]
bad = []
for line in open(results):
    name, *v = line.split("\t")
    t_req, t_pair, h_req, h_ok = map(int, v)
    for i, x in enumerate((t_req, t_pair, h_req, h_ok)):
        tot[i] += x
    short = h_req < t_req or h_ok < t_pair
    if short and name not in known:
        bad.append("%s: tshark %d requests (%d answered), hark %d (%d ok)"
                   % (name, t_req, t_pair, h_req, h_ok))
    if not short and name in known:
        bad.append("%s: listed in corpus_known.tsv but no longer short: "
                   "remove the line" % name)
print("corpus: tshark %d requests, %d answered; hark %d requests, %d ok pairs"
      % tuple(tot))
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
note "ok: $n captures"
