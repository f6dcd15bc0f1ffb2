#!/bin/sh
# demo.sh BINDIR - `make run`: the pipeline on the bundled demo capture,
# then the audit trail it wrote, then its hash-chain check.
set -eu
bin=$1
out=build/demo
mkdir -p "$out"
rm -rf "$out/demo.db"
# ipc socket paths are limited to 107 bytes: keep the run dir short.
run_dir=$(mktemp -d /tmp/hark-demo.XXXXXX)
trap 'rm -rf "$run_dir"' EXIT INT TERM
echo "== hark run -c hark.yaml -r tests/data/demo.pcap --db $out/demo.db"
"$bin/hark" run -c hark.yaml -r tests/data/demo.pcap --db "$out/demo.db" \
    --run-dir "$run_dir"
echo
echo "== hark query --db $out/demo.db"
"$bin/hark" query -c hark.yaml --db "$out/demo.db"
echo
echo "== hark verify --db $out/demo.db"
"$bin/hark" verify -c hark.yaml --db "$out/demo.db"
echo
echo "JSON lines (Elastic Common Schema): $bin/hark query --db $out/demo.db --json"
echo "In a browser: $bin/hark serve --db $out/demo.db, then open http://127.0.0.1:8080/"
