#!/bin/bash
# test_scenarios.sh - crafted captures of loss, reordering, fragments,
# port reuse and evasion (tests/e2e/scenarios.py): the trail must hold
# what the server received and answered, flagged where hark cannot be
# sure, and the counters must say what was dropped.
. "$(dirname "$0")/lib.sh"
need_bin hark
fails=0
for n in $("$PY" "$E2E_DIR/scenarios.py" --list); do
    "$PY" "$E2E_DIR/scenarios.py" "$n" "$T/$n.pcap" "$T/$n.expect.json" ||
        fail "$n: the generator failed"
    # a scenario may bring its own hark.yaml
    cfg=()
    if "$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])).get("config"); c is None and sys.exit(1); open(sys.argv[2],"w").write(c)' \
        "$T/$n.expect.json" "$T/$n.yaml"; then
        cfg=(-c "$T/$n.yaml")
    fi
    rc=0
    "$HARK_BIN/hark" run -q "${cfg[@]}" -r "$T/$n.pcap" --db "$T/$n.db" \
        --run-dir "$T/$n.run" >"$T/$n.summary" 2>&1 || rc=$?
    want=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("exit", 0))' "$T/$n.expect.json")
    [ "$rc" = "$want" ] ||
        { cat "$T/$n.summary"; fail "$n: hark run exited $rc, want $want"; }
    "$HARK_BIN/hark" query --db "$T/$n.db" --json >"$T/$n.jsonl" ||
        fail "$n: hark query failed"
    if out=$("$PY" "$E2E_DIR/check_records.py" "$T/$n.jsonl" \
        "$T/$n.expect.json" "$T/$n.run/stats"); then
        note "ok   $n"
    else
        note "FAIL $n"
        echo "$out"
        fails=$((fails + 1))
    fi
done
[ "$fails" = 0 ] || fail "$fails scenario(s) failed"
finish
