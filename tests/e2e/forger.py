"""forger.py WHAT ENDPOINT... [--key FILE --server-key Z85]: a neighbour
without the pipeline's keys trying the tcp:// bus (test_curve.sh).

  tap ENDPOINT...   subscribes to everything for --seconds; prints how
                    many messages came and whether --canary was in any
  record ENDPOINT   sends a `log` frame with a forged DELETE /admin/forged
                    request record to the logger's input
  eof ENDPOINT      sends `eof` as correlate and as the supervisor
  query ENDPOINT    asks for the trail; prints "answered N" or "silent"

Without --key the sockets speak no CURVE at all; with --key FILE (a
.curve file of a pair the pipeline does not list) and --server-key they
complete a CURVE handshake with a key of their own. Prints one line,
"WHAT: RESULT", and exits 0 either way: the test judges.
"""
import argparse
import sys
import time

import msgpack
import zmq


def curve(sock, a):
    if not a.key:
        return
    keys = dict(l.split(" ", 1) for l in open(a.key).read().splitlines()
                if " " in l)
    sock.curve_serverkey = a.server_key.encode()
    sock.curve_publickey = keys["curve-public"].strip().encode()
    sock.curve_secretkey = keys["curve-secret"].strip().encode()


def sock(ctx, kind, a):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 500)
    curve(s, a)
    return s


def head(src, seq):
    return {"v": 1, "src": src, "seq": seq, "wm": time.time_ns()}


def tap(ctx, a):
    s = sock(ctx, zmq.SUB, a)
    for ep in a.endpoints:
        s.connect(ep)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    n, canary = 0, False
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        if s.poll(100):
            parts = s.recv_multipart()
            n += 1
            if a.canary and any(a.canary.encode() in p for p in parts):
                canary = True
    return "received %d canary %s" % (n, "yes" if canary else "no")


def send_frames(ctx, a, frames):
    s = sock(ctx, zmq.DEALER, a)
    s.connect(a.endpoints[0])
    for topic, body in frames:
        s.send_multipart([topic, msgpack.packb(body)])
    time.sleep(1.0)  # let a handshake and the sends happen
    s.close()
    return "sent %d" % len(frames)


def record(ctx, a):
    now = time.time_ns()
    rec = {"kind": "request", "uid": "00000000000000f0", "idx": 0,
           "ts": now, "src_ip": "10.6.6.6", "src_port": 6666,
           "dst_ip": "10.0.0.2", "dst_port": 80, "group": "g",
           "route": "/", "policy": "audit", "step": 1,
           "step_label": "Log Request Message", "method": "DELETE",
           "uri": "/admin/forged", "host": "victim", "req_ts": now,
           "version": "1.1", "headers": [], "body": b"", "body_len": 0,
           "flags": []}
    body = head("correlate", 0)
    body.update({"live": True, "records": [rec]})
    return send_frames(ctx, a, [(b"log", body)])


def eof(ctx, a):
    frames = []
    for src in ("correlate", "hark"):
        body = head(src, 1 << 40)
        body["reason"] = "forged"
        frames.append((b"eof", body))
    return send_frames(ctx, a, frames)


def query(ctx, a):
    s = sock(ctx, zmq.REQ, a)
    s.connect(a.endpoints[0])
    s.send(msgpack.packb({"v": 1, "since": 0, "until": 2 ** 63, "limit": 10}))
    if s.poll(int(a.seconds * 1000)):
        return "answered %d" % len(s.recv())
    return "silent"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["tap", "record", "eof", "query"])
    ap.add_argument("endpoints", nargs="+")
    ap.add_argument("--key")
    ap.add_argument("--server-key")
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--canary")
    a = ap.parse_args()
    ctx = zmq.Context()
    out = {"tap": tap, "record": record, "eof": eof, "query": query}[a.what](
        ctx, a)
    print("%s: %s" % (a.what, out), flush=True)
    ctx.destroy(linger=0)
    sys.exit(0)


if __name__ == "__main__":
    main()
