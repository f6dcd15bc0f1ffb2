"""load.py --port P --count N --rate R --out FILE [--header 'Name: v']
[--start-file FILE]: a bounded load for the loss tests.

N requests GET /load/<i> to 127.0.0.1:P, each on its own connection
(Connection: close), paced at R requests a second. One line per request
in FILE: i, wall-clock ns when it was sent and when its response ended,
and the status (0 when it failed), tab-separated; a test finds the ones
missing from the trail and when they happened. --start-file is written
once the first response came back (a test kills a stage after that).
"""
import argparse
import http.client
import time


def one(port, i, headers):
    t0 = time.time_ns()
    status = 0
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/load/%d" % i, headers=headers)
        r = c.getresponse()
        r.read()
        status = r.status
        c.close()
    except OSError:
        pass
    return t0, time.time_ns(), status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--start-file")
    a = ap.parse_args()
    headers = {"Connection": "close"}
    for h in a.header:
        k, v = h.split(":", 1)
        headers[k.strip()] = v.strip()
    begin = time.monotonic()
    with open(a.out, "w") as out:
        for i in range(a.count):
            due = begin + i / a.rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            t0, t1, status = one(a.port, i, headers)
            out.write("%d\t%d\t%d\t%d\n" % (i, t0, t1, status))
            out.flush()
            if i == 0 and a.start_file:
                open(a.start_file, "w").write("started\n")


if __name__ == "__main__":
    main()
