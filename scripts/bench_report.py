#!/usr/bin/env python3
"""bench_report.py - what one `make bench` measured, as one table.

Every contender is timed over the same capture, in the same bench run,
several times; the median is reported (and the range). hark's stage
counters (CPU, peak RSS) are those of its median run.

Accuracy compares the audit trail with the generator's ground truth: a
transaction counts as found when a request record and an `ok` response
record exist for the same client, server, method, path, status and body
lengths.
"""
import argparse, collections, glob, ipaddress, json, os, statistics

ap = argparse.ArgumentParser()
ap.add_argument("--truth", required=True)
ap.add_argument("--trail", required=True)
ap.add_argument("--runs", required=True,
                help="one line per hark run: SECONDS STATS_DIR")
ap.add_argument("--read-limit", required=True,
                help="the read limit's seconds, one a line")
ap.add_argument("--tcpdump", help="tcpdump -w's seconds, one a line")
ap.add_argument("--httpry", help="httpry's seconds, one a line")
ap.add_argument("--bus-floor",
                help="bus_floor's lines: bytes hops wall_seconds cpu_seconds")
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


def endpoint(obj):
    ip = obj["ip"]
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, obj["port"])


def seconds(path):
    return [float(x) for x in open(path).read().split()]


truth = collections.Counter()
for line in open(a.truth):
    t = json.loads(line)
    truth[key(t["client"], t["server"], t["method"], t["path"], t["status"],
              t["req_body"], t["resp_body"])] += 1

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

runs = []
for line in open(a.runs):
    secs, stats_dir = line.split()
    runs.append((float(secs), stats_dir))
runs.sort()
secs, stats_dir = runs[(len(runs) - 1) // 2]  # the median (lower) run
stats = {}
for f in glob.glob(os.path.join(stats_dir, "*.json")):
    s = json.load(open(f))
    stats[s["id"]] = s["counters"]
pkts = stats.get("capture", {}).get("packets", 0)
mb = a.bytes / 1e6
limit = statistics.median(seconds(a.read_limit))


def spread(xs):
    return "%.3f-%.3f" % (min(xs), max(xs)) if len(xs) > 1 else ""


print("bench %s: %.1f MB, %d packets, %d transactions; medians of %d runs" %
      (a.preset, mb, pkts, total, len(runs)))
print("  %-12s %8s %10s %12s  %s" % ("", "seconds", "MB/s", "x read limit",
                                     "range"))
rows = [("hark", secs, spread([r[0] for r in runs])),
        ("read limit", limit, spread(seconds(a.read_limit)))]
for name, path in (("tcpdump -w", a.tcpdump), ("httpry", a.httpry)):
    if path:
        xs = seconds(path)
        rows.append((name, statistics.median(xs), spread(xs)))
floor_cpu = None
if a.bus_floor:
    lines = [l.split() for l in open(a.bus_floor) if l.strip()]
    walls = [float(l[2]) for l in lines]
    floor_cpu = statistics.median(float(l[3]) for l in lines)
    rows.append(("bus floor", statistics.median(walls), spread(walls)))
for name, s, rng in rows:
    print("  %-12s %8.3f %10.1f %12.1f  %s" % (name, s, mb / s, s / limit,
                                               rng))
print("  hark         %.0f transactions/s, %.0f packets/s" %
      (total / secs, pkts / secs))
print("  accuracy     %d/%d transactions found (%.2f%%), %d extra, %d "
      "records" % (matched, total, 100.0 * matched / max(total, 1), extra,
                   records))
order = ["capture"] + sorted(k for k in stats if k.startswith("reassemble")) + \
        ["dispatch", "correlate", "logger"]
cpu_total = 0.0
for sid in order:
    c = stats.get(sid)
    if not c:
        continue
    cpu = (c.get("cpu_user_ms", 0) + c.get("cpu_sys_ms", 0)) / 1000.0
    cpu_total += cpu
    print("  %-14s cpu %6.2f s (%3.0f%% of wall)  peak rss %6.1f MiB" %
          (sid, cpu, 100 * cpu / secs, c.get("max_rss_kb", 0) / 1024.0))
print("  %-14s cpu %6.2f s (%3.0f%% of wall)" % ("all stages", cpu_total,
                                                100 * cpu_total / secs))
if floor_cpu is not None:
    print("  %-14s cpu %6.2f s: the bytes over four hops, no work (%.0f%% "
          "of hark's)" % ("bus floor", floor_cpu, 100 * floor_cpu /
                          max(cpu_total, 1e-9)))
