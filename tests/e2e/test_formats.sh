#!/bin/bash
# test_formats.sh - pcapng, a filter on a file, and one shard.
#
# demo.pcap rewritten as pcapng by editcap (Wireshark's tool, our oracle's
# sibling) must give the same `hark query --json` as the pcap itself; the
# same file with one reassembler shard too (sharding must not change the
# trail). A filter that excludes the server's port must give an empty
# trail.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need_bin hark hark-capture hark-reassemble hark-dispatch hark-correlate \
    hark-logger
need_tool editcap

editcap -F pcapng "$DEMO_PCAP" "$T/demo.pcapng" ||
    fail "editcap could not write pcapng"
printf 'reassemble:\n  shards: 1\n' >"$T/one-shard.yaml"

run_to() { # NAME CONFIG FILE [ARGS...]
    local name=$1 cfg=$2 file=$3
    shift 3
    hark_start run -c "$cfg" -r "$file" --db "$T/db-$name" \
        --run-dir "$T/run-$name" "$@"
    hark_wait "$E2E_TIMEOUT" || fail "$name: hark run still running"
    [ "$HARK_RC" = 0 ] || fail "$name: hark run exited $HARK_RC: $(tail -5 "$T/hark.err")"
    query_json "$T/trail-$name.jsonl" --db "$T/db-$name" ||
        fail "$name: hark query failed: $(cat "$T/trail-$name.jsonl.err")"
}

run_to pcap hark.yaml "$DEMO_PCAP"
[ "$(wc -l <"$T/trail-pcap.jsonl")" = 24 ] ||
    fail "demo.pcap: want 24 records, got $(wc -l <"$T/trail-pcap.jsonl")"
run_to pcapng hark.yaml "$T/demo.pcapng"
cmp -s "$T/trail-pcap.jsonl" "$T/trail-pcapng.jsonl" ||
    fail "pcapng gave another trail than pcap: $(diff "$T/trail-pcap.jsonl" "$T/trail-pcapng.jsonl" | head -4 | cut -c1-300)"
run_to one "$T/one-shard.yaml" "$DEMO_PCAP"
cmp -s "$T/trail-pcap.jsonl" "$T/trail-one.jsonl" ||
    fail "one shard gave another trail than two"
run_to filtered hark.yaml "$DEMO_PCAP" -f "tcp port 9"
[ ! -s "$T/trail-filtered.jsonl" ] ||
    fail "filter 'tcp port 9' let records through: $(head -2 "$T/trail-filtered.jsonl")"
note "ok: pcap, pcapng, one shard and a filter agree"
