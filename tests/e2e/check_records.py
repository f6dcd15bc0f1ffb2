#!/usr/bin/env python3
"""check_records.py TRAIL.jsonl EXPECT.json [STATS_DIR]: a trail against a
scenario's expectation (scenarios.py).

Expectation keys:
  transactions: [{method, path, status, outcome, flags, no_flags}]: a
      request record for method + path, and its response record (same
      hark.uid and hark.idx) with that status (None: no status) and one of
      the outcomes; flags must be on the request or the response record,
      no_flags on neither;
  orphans: [status, ...]: orphan response records with these statuses;
  forbid_paths: [path, ...]: no record may name these paths;
  forbid_text: [text, ...]: no record may hold these bytes anywhere
      (header values, bodies as text; a redacted secret);
  config: the hark.yaml to run the scenario with (read by the caller);
  connections: N: records name exactly N connections (hark.uid);
  counters: {name: value}: summed over the stats files of STATS_DIR;
  exit: the exit status of hark run (checked by the caller; 3 when the
      capture misses bytes).
Prints every mismatch and exits 1 if there is one.
"""
import collections
import glob
import json
import sys


def get(rec, dotted, default=None):
    node = rec
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return rec.get(dotted, default)
        node = node[part]
    return node


def main():
    trail, expect_path = sys.argv[1], sys.argv[2]
    stats_dir = sys.argv[3] if len(sys.argv) > 3 else None
    expect = json.load(open(expect_path))
    known = {"transactions", "orphans", "forbid_paths", "forbid_text",
             "connections", "counters", "about", "exit", "config"}
    errors = ["unknown expectation key %r" % k for k in expect
              if k not in known]
    text = open(trail).read()
    for secret in expect.get("forbid_text", []):
        if secret in text:
            errors.append("the trail holds %r" % secret)
    records = [json.loads(l) for l in text.splitlines() if l.strip()]
    by_key = collections.defaultdict(dict)
    for r in records:
        key = (get(r, "hark.uid"), get(r, "hark.idx"))
        by_key[key][get(r, "event.action")] = r

    def path_of(r):
        return get(r, "url.original") or get(r, "url.path")

    for t in expect.get("transactions", []):
        reqs = [(k, v["request"]) for k, v in by_key.items()
                if "request" in v and path_of(v["request"]) == t["path"] and
                get(v["request"], "http.request.method") == t["method"]]
        if len(reqs) != 1:
            errors.append("%s %s: %d request records, want 1"
                          % (t["method"], t["path"], len(reqs)))
            continue
        key, req = reqs[0]
        resp = by_key[key].get("response")
        if resp is None:
            errors.append("%s: no response record" % t["path"])
            continue
        status = get(resp, "http.response.status_code")
        if status != t["status"]:
            errors.append("%s: response status %r, want %r"
                          % (t["path"], status, t["status"]))
        outcome = get(resp, "hark.outcome")
        if outcome not in t["outcome"]:
            errors.append("%s: outcome %r, want one of %r"
                          % (t["path"], outcome, t["outcome"]))
        flags = set(get(req, "hark.flags", []) or []) | \
            set(get(resp, "hark.flags", []) or [])
        for f in t["flags"]:
            if f not in flags:
                errors.append("%s: flag %s missing (has %s)"
                              % (t["path"], f, sorted(flags)))
        for f in t["no_flags"]:
            if f in flags:
                errors.append("%s: flag %s must not be set" % (t["path"], f))

    orphans = sorted(get(r, "http.response.status_code") for r in records
                     if get(r, "hark.outcome") == "orphan")
    if "orphans" in expect and orphans != sorted(expect["orphans"]):
        errors.append("orphan statuses %r, want %r"
                      % (orphans, sorted(expect["orphans"])))
    for p in expect.get("forbid_paths", []):
        if any(path_of(r) == p for r in records):
            errors.append("a record names %s, which the server never saw" % p)
    if "connections" in expect:
        uids = {get(r, "hark.uid") for r in records}
        if len(uids) != expect["connections"]:
            errors.append("%d connections, want %d"
                          % (len(uids), expect["connections"]))
    if expect.get("counters"):
        totals = collections.Counter()
        for f in glob.glob(stats_dir + "/reassemble-*.json"):
            totals.update(json.load(open(f)).get("counters", {}))
        for name, want in expect["counters"].items():
            if totals.get(name, 0) != want:
                errors.append("counter %s = %d, want %d"
                              % (name, totals.get(name, 0), want))
    for e in errors:
        print("  " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
