"""count_kind.py JSONL [KIND]: how many records of the trail (one JSON
object a line) have event.action KIND, or all of them when KIND is empty;
-1 when a line is not a JSON object.
"""
import json
import sys

kind = sys.argv[2] if len(sys.argv) > 2 else ""
n = 0
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    try:
        act = json.loads(line).get("event", {}).get("action")
    except (ValueError, AttributeError):
        print(-1)
        sys.exit(0)
    n += kind in ("", act)
print(n)
