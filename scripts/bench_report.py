#!/usr/bin/env python3
"""bench_report.py - throughput and accuracy of one bench run.

Accuracy compares the audit trail with the generator's ground truth: a
transaction counts as found when a request record and an `ok` response
record exist for the same client, server, method, path, status and body
lengths.
"""
import argparse, collections, glob, ipaddress, json, os

ap = argparse.ArgumentParser()
ap.add_argument("--truth", required=True)
ap.add_argument("--trail", required=True)
ap.add_argument("--stats", required=True)
ap.add_argument("--seconds", type=float, required=True)
ap.add_argument("--bytes", type=int, required=True)
ap.add_argument("--preset", default="?")
a = ap.parse_args()

def canon(endpoint):
    """ "[2001:db8:0:0::1]:80" and "10.0.0.1:80" in one spelling. """
    host, _, port = endpoint.rpartition(":")
    return "%s:%s" % (ipaddress.ip_address(host.strip("[]")), port)


def key(client, server, method, path, status, req_body, resp_body):
    return (canon(client), canon(server), method, path, status, req_body,
            resp_body)

truth = collections.Counter()
for line in open(a.truth):
    t = json.loads(line)
    truth[key(t["client"], t["server"], t["method"], t["path"], t["status"],
              t["req_body"], t["resp_body"])] += 1

def endpoint(obj):
    ip = obj["ip"]
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, obj["port"])

reqs = {}
found = collections.Counter()
records = 0
for line in open(a.trail):
    r = json.loads(line)
    records += 1
    h = r["hark"]
    k = (h["uid"], h["idx"])
    if r["event"]["action"] == "request":
        reqs[k] = r
        continue
    q = reqs.get(k)
    if not q or h.get("outcome") != "ok":
        continue
    found[key(endpoint(q["source"]), endpoint(q["destination"]),
              q["http"]["request"]["method"], q["url"]["original"],
              r["http"]["response"]["status_code"],
              q["http"]["request"]["body"]["bytes"],
              r["http"]["response"]["body"]["bytes"])] += 1

matched = sum((truth & found).values())
total = sum(truth.values())
extra = sum((found - truth).values())

stats = {}
for f in glob.glob(os.path.join(a.stats, "*.json")):
    s = json.load(open(f))
    stats[s["id"]] = s["counters"]
pkts = stats.get("capture", {}).get("packets", 0)
mb = a.bytes / 1e6
print("bench %s: %.1f MB, %d packets, %d transactions in %.2f s" %
      (a.preset, mb, pkts, total, a.seconds))
print("  throughput   %.1f MB/s, %.0f packets/s, %.0f transactions/s" %
      (mb / a.seconds, pkts / a.seconds, total / a.seconds))
print("  accuracy     %d/%d transactions found (%.2f%%), %d extra, %d records" %
      (matched, total, 100.0 * matched / max(total, 1), extra, records))
order = ["capture"] + sorted(k for k in stats if k.startswith("reassemble")) + \
        ["dispatch", "correlate", "logger"]
for sid in order:
    c = stats.get(sid)
    if not c:
        continue
    cpu = (c.get("cpu_user_ms", 0) + c.get("cpu_sys_ms", 0)) / 1000.0
    print("  %-14s cpu %6.2f s (%3.0f%% of wall)  max rss %6.1f MB" %
          (sid, cpu, 100 * cpu / a.seconds, c.get("max_rss_kb", 0) / 1024.0))
