#!/usr/bin/python3
"""tap_log.py - print hark's audit records as the pipeline makes them.

    tap_log.py ENDPOINT [--key FILE --server-key FILE] [--count N]

A consumer of a stage's tap, as docs/bus.md describes it: a SUB socket on
the tap (an XPUB), subscribed to the `log` topic, each message a topic
and one MessagePack map whose "records" are the audit records. Read
correlate's tap to see every record on its way to the logger:

    ipc://RUN_DIR/tap-correlate                 (the default, ipc taps)
    tcp://127.0.0.1:BASE+2                      (bus.tap_base_port: BASE)

A tcp:// tap is CurveZMQ: --key is a .curve file of `hark keygen` whose
public key the pipeline lists in bus.peers (or its own), --server-key the
.curve.pub of the machine the tap is on. Prints one line per record:

    request GET /api/v1/users -
    response GET /api/v1/users 200 ok

and ends after N records with --count (else on Ctrl-C). Needs pyzmq and
msgpack (Debian: python3-zmq, python3-msgpack).
"""
import argparse
import sys

import msgpack
import zmq


def key_file(path, field):
    """A key from a hark keygen file: "curve-secret Z85" / "curve Z85"."""
    for line in open(path, encoding="ascii"):
        name, _, value = line.strip().partition(" ")
        if name == field:
            return value.encode()
    sys.exit("tap_log: no %s line in %s" % (field, path))


def text(v):
    """Captured bytes are usually UTF-8, but need not be."""
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return "".join(c if c.isprintable() else "?" for c in str(v))


def main():
    ap = argparse.ArgumentParser(description="print hark's audit records")
    ap.add_argument("endpoint")
    ap.add_argument("--key", help="this reader's .curve file (tcp://)")
    ap.add_argument("--server-key", help="the tap machine's .curve.pub")
    ap.add_argument("--count", type=int, default=0)
    a = ap.parse_args()

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    if a.key:
        sub.curve_secretkey = key_file(a.key, "curve-secret")
        sub.curve_publickey = key_file(a.key, "curve-public")
        sub.curve_serverkey = key_file(a.server_key, "curve")
    sub.setsockopt(zmq.SUBSCRIBE, b"log")
    sub.connect(a.endpoint)
    print("tap_log: reading %s" % a.endpoint, file=sys.stderr, flush=True)
    n = 0
    while not a.count or n < a.count:
        parts = sub.recv_multipart()
        if len(parts) != 2 or parts[0] != b"log":
            continue
        frame = msgpack.unpackb(parts[1], raw=False,
                                unicode_errors="surrogateescape")
        if not isinstance(frame, dict) or frame.get("v") != 1:
            continue  # another schema version: not ours to read
        for r in frame.get("records", []):
            if r.get("kind") not in ("request", "response"):
                continue  # an outage record: no method or uri
            line = [r["kind"], text(r.get("method", "")),
                    text(r.get("uri", "")), str(r.get("status", "-"))]
            if "outcome" in r:
                line.append(text(r["outcome"]))
            print(" ".join(line), flush=True)
            n += 1
    sub.close(linger=0)
    ctx.term()


if __name__ == "__main__":
    main()
