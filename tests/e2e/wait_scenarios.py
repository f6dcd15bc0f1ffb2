"""wait_scenarios.py OUTDIR: the captures of test_waits.sh.

  slow.pcap      GET /slow; the response starts 0.5 s after the request
                 and its body trickles in until 3.5 s after it: in time
                 by its first byte, late by its last under a 2 s timeout.
  early413.pcap  POST /upload of 200 KB; after the first 8 KB the server
                 answers 413 Payload Too Large and the client sends the
                 rest of its body anyway: the response is complete before
                 its request is.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from pcapgen import (Capture, Conn, http_request,  # noqa: E402
                     http_response)

T0 = 1700000000.0


def timed(packets, t):
    for p in packets:
        p.t = t
    return packets


def slow(path):
    cap = Capture(start=T0)
    c = Conn(cap, "10.0.0.1", 40001, "10.0.0.2", 80)
    timed(c.handshake(), T0)
    timed(c.send("c", http_request("GET", "/slow")), T0 + 0.01)
    body = b"x" * 8000
    resp = http_response(200, body, headers=[("Content-Type",
                                             "text/plain")])
    head, rest = resp[:-len(body)], body
    timed(c.send("s", head), T0 + 0.51)
    # The body in 8 parts, the last 3.5 s after the request.
    for i in range(8):
        timed(c.send("s", rest[i * 1000:(i + 1) * 1000]),
              T0 + 0.51 + (i + 1) * 0.375)
        timed([c.ack("c")], T0 + 0.52 + (i + 1) * 0.375)
    timed(c.close(), T0 + 3.6)
    cap.write(path)


def early413(path):
    cap = Capture(start=T0)
    c = Conn(cap, "10.0.0.1", 40002, "10.0.0.2", 80)
    timed(c.handshake(), T0)
    body = b"u" * 200000
    req = http_request("POST", "/upload",
                       headers=[("Content-Type",
                                 "application/octet-stream")],
                       body=body)
    first, rest = req[:8192], req[8192:]
    timed(c.send("c", first), T0 + 0.01)
    timed(c.send("s", http_response(413, b"too large", reason="Payload Too "
                                    "Large", headers=[("Connection",
                                                       "close")])),
          T0 + 0.02)
    t = T0 + 0.03
    for p in c.send("c", rest):
        p.t = t
        t += 0.001
    timed(c.close(), t + 0.01)
    cap.write(path)


if __name__ == "__main__":
    out = sys.argv[1]
    slow(os.path.join(out, "slow.pcap"))
    early413(os.path.join(out, "early413.pcap"))
