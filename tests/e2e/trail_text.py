"""trail_text.py JSONL: the trail of `hark query --json` as text, one
record a line, in the trail's order: what a reader checks first.

  request  0 POST /upload - - truncated,early_response
  response 0 POST /upload 413 ok early_response

Columns: kind, request index, method, path, status, outcome, flags ("-"
for none).
"""
import json
import sys

for line in open(sys.argv[1]):
    if not line.strip():
        continue
    r = json.loads(line)
    h = r.get("hark", {})
    http = r.get("http", {})
    cols = [
        r.get("event", {}).get("action"),
        h.get("idx"),
        http.get("request", {}).get("method"),
        r.get("url", {}).get("path"),
        http.get("response", {}).get("status_code"),
        h.get("outcome"),
        ",".join(h.get("flags") or []),
    ]
    print(" ".join("-" if c in (None, "") else str(c) for c in cols))
