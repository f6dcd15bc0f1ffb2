"""check_metrics.py FILE [EXPECT...]: reads FILE as the Prometheus text
format with the official client library's parser (python3-prometheus-
client) and checks it:
 - it parses, every family has a TYPE, counters end in _total and gauges
   do not, no sample appears twice;
 - each EXPECT holds: NAME{label=value,...}OP NUMBER, where OP is =, >=
   or >, for the sum of the samples of NAME with those labels (all its
   samples without labels: a family is spread over stages and shards).
Prints what is wrong and exits 1.
"""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1], encoding="utf-8").read()
problems = []
samples = {}
types = {}
try:
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        if fam.type == "unknown":
            problems.append("%s has no TYPE" % fam.name)
        for s in fam.samples:
            if fam.type == "counter" and not s.name.endswith("_total"):
                problems.append("counter %s without _total" % s.name)
            if fam.type == "gauge" and s.name.endswith("_total"):
                problems.append("gauge %s named like a counter" % s.name)
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in samples:
                problems.append("%s%r twice" % key)
            samples[key] = s.value
except Exception as e:  # the parser's own error
    problems.append("does not parse: %s" % e)

pat = re.compile(r"^([a-z_0-9]+)(\{([^}]*)\})?(>=|>|=)([0-9.]+)$")
for want in sys.argv[2:]:
    m = pat.match(want)
    if not m:
        problems.append("bad expectation %r" % want)
        continue
    name, _, labels, op, num = m.groups()
    need = dict(kv.split("=", 1) for kv in labels.split(",")) if labels else {}
    got = [v for (n, ls), v in samples.items()
           if n == name and all(dict(ls).get(k) == v2
                                for k, v2 in need.items())]
    if not got:
        problems.append("%s: no such sample" % want)
        continue
    value = sum(got)
    ok = {"=": value == float(num), ">=": value >= float(num),
          ">": value > float(num)}[op]
    if not ok:
        problems.append("%s: found %s" % (want, value))

for p in problems:
    print("metrics: " + p)
if problems:
    sys.exit(1)
print("metrics ok: %d families, %d samples" % (len(types), len(samples)))
