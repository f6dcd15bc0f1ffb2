"""stats_file.py field FILE KEY | counter FILE NAME: one value of a
stage's stats file (<run_dir>/stats/<id>.json, stats.h).

field: a top-level field (booleans as true/false); prints nothing when
the file is absent or torn (a stage rewrites it each second).
counter: a counter, 0 when the file has none of that name; fails when the
file cannot be read.
"""
import json
import sys


def field(path, key):
    try:
        with open(path) as f:
            v = json.load(f).get(key)
    except (OSError, ValueError):
        return
    if isinstance(v, bool):
        v = "true" if v else "false"
    if v is not None:
        print(v)


def counter(path, name):
    with open(path) as f:
        print(json.load(f).get("counters", {}).get(name, 0))


if __name__ == "__main__":
    what, path, key = sys.argv[1:4]
    {"field": field, "counter": counter}[what](path, key)
