#!/usr/bin/env python3
"""scenarios.py - crafted captures of what goes wrong on real networks.

    scenarios.py --list
    scenarios.py NAME OUT.pcap OUT.expect.json

Each scenario is one exchange that a sniffer sees imperfectly (loss,
reordering, fragments, port reuse) or that an attacker shapes (resets,
overlaps, decoys), written with pcapgen, and the transactions the trail
must hold: what the server really received and answered, with the flags
that say where hark could not be sure. check_records.py compares a trail
with the expectation. Each scenario names the issue item it covers.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from pcapgen import (ACK, PSH, RST, SYN, Capture, Conn, fragment,  # noqa
                     http_request, http_response)

C, S = "10.0.0.1", "10.0.0.2"
SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def tx(path, status, outcome=("ok",), flags=(), no_flags=(), method="GET"):
    """An expected transaction: the request for `path` and its response
    (status None: no response record with a status), with the outcomes
    allowed for the response record and flags it must / must not carry
    (on either record of the pair)."""
    return {"method": method, "path": path, "status": status,
            "outcome": list(outcome), "flags": list(flags),
            "no_flags": list(no_flags)}


def body(n, c=b"x"):
    return c * n


# ---- 8.1: pairing by TCP, not by count --------------------------------

@scenario
def lost_response():
    """8.1: a whole response never captured. The next response must pair
    with its own request; the first request's response is lost."""
    cap = Capture()
    c = Conn(cap, C, 40000, S, 80)
    c.handshake()
    c.send("c", http_request("GET", "/one"))
    for p in c.send("s", http_response(200, body(3000))):
        cap.packets.remove(p)  # the sniffer missed all of it
    c.ack("c")                 # ...but the client acknowledged it
    c.send("c", http_request("GET", "/two"))
    c.send("s", http_response(404, body(10), reason="Not Found"))
    c.close()
    return cap, {"transactions": [
        tx("/one", None, outcome=("lost",)),
        tx("/two", 404, no_flags=("uncertain_pairing",))],
        "counters": {"responses_lost": 1}, "exit": 3}


@scenario
def response_start_lost():
    """8.1: the first segment of a response (its status line) lost: the
    rest must not be taken for the next response."""
    cap = Capture()
    c = Conn(cap, C, 40001, S, 80)
    c.handshake()
    c.send("c", http_request("GET", "/one"))
    first = c.send("s", http_response(200, body(4000)), seg=1000)
    cap.packets.remove(first[0])
    c.ack("c")
    c.send("c", http_request("GET", "/two"))
    c.send("s", http_response(201, body(20), reason="Created"))
    c.close()
    return cap, {"transactions": [
        tx("/one", None, outcome=("lost",)),
        tx("/two", 201, no_flags=("uncertain_pairing",))], "exit": 3}


@scenario
def request_lost():
    """8.1: a whole request lost (client side): its response is an
    orphan, and the next pair is right."""
    cap = Capture()
    c = Conn(cap, C, 40002, S, 80)
    c.handshake()
    for p in c.send("c", http_request("GET", "/lost")):
        cap.packets.remove(p)
    c.send("s", http_response(200, body(50)))
    c.ack("c")
    c.send("c", http_request("GET", "/two"))
    c.send("s", http_response(202, body(30), reason="Accepted"))
    c.close()
    return cap, {"transactions": [tx("/two", 202)],
                 "orphans": [200], "exit": 3}


@scenario
def orphan_redacted_by_policy():
    """9 (hostile): a response whose request was lost is an orphan, with
    no route and so no policy of its own. It must be logged as strictly
    as the config's strictest response step: the header the policy
    redacts redacted, and no body where the policy keeps none, not with
    the defaults (every header but four, 64 KiB of body)."""
    cap = Capture()
    c = Conn(cap, C, 40003, S, 80)
    c.handshake()
    for p in c.send("c", http_request("GET", "/keys")):
        cap.packets.remove(p)
    c.send("s", http_response(200, b"SECRET_BODY_0rph4n",
                              headers=[("X-Api-Key", "SECRET_KEY_0rph4n"),
                                       ("Content-Type", "text/plain")]))
    c.ack("c")
    c.send("c", http_request("GET", "/next"))
    c.send("s", http_response(204, reason="No Content"))
    c.close()
    config = """service_groups:
  - name: API
    relative_paths:
      - { path: /, policy: api }
policies:
  api:
    - log: { message: request, redact: [X-Api-Key] }
    - wait_for_response: 5s
    - log: { message: response, redact: [X-Api-Key], body: 0 }
"""
    return cap, {"transactions": [tx("/next", 204)], "orphans": [200],
                 "forbid_text": ["SECRET_KEY_0rph4n", "SECRET_BODY_0rph4n"],
                 "config": config, "exit": 3}


@scenario
def pipelined_gap():
    """8.1: three pipelined requests and the first response lost: the
    positions allow two readings, so the pairs say they are uncertain."""
    cap = Capture()
    c = Conn(cap, C, 40003, S, 80)
    c.handshake()
    c.send("c", http_request("GET", "/p1") + http_request("GET", "/p2") +
           http_request("GET", "/p3"))
    lost = c.send("s", http_response(200, body(100)))
    for p in lost:
        cap.packets.remove(p)
    c.send("s", http_response(201, body(100), reason="Created"))
    c.send("s", http_response(202, body(100), reason="Accepted"))
    c.ack("c")
    c.close()
    return cap, {"transactions": [
        tx("/p1", 201, flags=("uncertain_pairing",)),
        tx("/p2", 202, flags=("uncertain_pairing",))], "exit": 3}


# ---- 8.2: early responses ------------------------------------------------

@scenario
def early_response():
    """8.2: a 413 during a large upload: paired with the upload, and both
    records say the response came first."""
    cap = Capture()
    c = Conn(cap, C, 40004, S, 80)
    c.handshake()
    req = http_request("POST", "/upload", body=body(20000))
    head_end = req.index(b"\r\n\r\n") + 4
    c.send("c", req[:head_end + 2000])
    c.send("s", http_response(413, b"too big", reason="Payload Too Large",
                              headers=[("Connection", "close")]))
    c.send("c", req[head_end + 2000:])
    c.close()
    return cap, {"transactions": [
        tx("/upload", 413, method="POST", flags=("early_response",))]}


# ---- 8.4: IP fragments ----------------------------------------------------

def fragmented(v6=False, overlap=None):
    cap = Capture()
    cip, sip = ("2001:db8::1", "2001:db8::2") if v6 else (C, S)
    c = Conn(cap, cip, 40005, sip, 80)
    c.handshake()
    req = http_request("GET", "/frag", headers=[("X-Pad", "p" * 1200)])
    pkt = c.send("c", req, add=False)[0]
    if v6:
        for f in fragment_v6(pkt, 512):
            cap.add(f)
    else:
        for f in fragment(pkt, 512, overlap=overlap):
            cap.add(f)
    c.send("s", http_response(200, body(80)))
    c.close()
    return cap


def fragment_v6(pkt, size):
    """IPv6 fragments (a Fragment extension header)."""
    import struct
    from pcapgen import Packet, ip_packet
    seg = pkt.tcp_bytes()
    out = []
    off = 0
    while off < len(seg):
        part = seg[off:off + size]
        more = off + size < len(seg)
        fh = struct.pack("!BBHI", 6, 0, off | (1 if more else 0), 0x4321)
        f = Packet(pkt.src, pkt.sport, pkt.dst, pkt.dport, 0, 0, 0)
        f.raw_ip = ip_packet(pkt.src, pkt.dst, 44, fh + part)
        out.append(f)
        off += size
    return out


@scenario
def fragments_v4():
    """8.4: a request in IPv4 fragments."""
    return fragmented(), {"transactions": [tx("/frag", 200)],
                          "counters": {"frag_datagrams": 1}}


@scenario
def fragments_v6():
    """8.4: a request in IPv6 fragments."""
    return fragmented(v6=True), {"transactions": [tx("/frag", 200)],
                                 "counters": {"frag_datagrams": 1}}


@scenario
def fragments_conflict():
    """8.4: a duplicate fragment with other bytes: Linux keeps the first
    copy; the request is logged and flagged."""
    cap = fragmented(overlap={1: b"Z" * 512})
    return cap, {"transactions": [tx("/frag", 200,
                                     flags=("overlap_conflict",))],
                 "counters": {"frag_conflicts": 1}}


# ---- 8.7: flows -------------------------------------------------------------

@scenario
def ack_before_data():
    """8.7: the capture shows the server's ACK before the request it
    acknowledges: reordering, not a gap."""
    cap = Capture()
    c = Conn(cap, C, 40006, S, 80)
    c.handshake()
    req = c.send("c", http_request("GET", "/late"))
    ack = c.ack("s")
    for p in req:
        cap.packets.remove(p)
    cap.packets.insert(cap.packets.index(ack) + 1, req[0])
    c.send("s", http_response(200, body(40)))
    c.close()
    return cap, {"transactions": [tx("/late", 200, no_flags=("gap",))],
                 "counters": {"gaps": 0}}


@scenario
def port_reuse():
    """8.7: the same ports again with a new SYN and ISN, the old
    connection's end never seen: two connections, both logged."""
    cap = Capture()
    a = Conn(cap, C, 40007, S, 80, isn_c=1000, isn_s=5000)
    a.handshake()
    a.send("c", http_request("GET", "/first"))
    a.send("s", http_response(200, body(10)))
    b = Conn(cap, C, 40007, S, 80, isn_c=900000, isn_s=700000)
    b.handshake()
    b.send("c", http_request("GET", "/second"))
    b.send("s", http_response(200, body(10)))
    b.close()
    return cap, {"transactions": [tx("/first", 200), tx("/second", 200)],
                 "counters": {"ports_reused": 1}, "connections": 2}


# ---- 9.1 - 9.3: evasion ---------------------------------------------------

@scenario
def rst_evasion():
    """9.1: a reset outside the receiver's expectation is ignored by the
    server (RFC 5961): the requests after it are served and logged."""
    cap = Capture()
    c = Conn(cap, C, 40008, S, 80)
    c.handshake()
    c.send("c", http_request("GET", "/one"))
    c.send("s", http_response(200, body(10)))
    c.rst("c", seq=c.nxt["c"] + 5000)
    c.send("c", http_request("GET", "/admin/secret"))
    c.send("s", http_response(200, body(10)))
    c.rst("c")  # at the expected byte: believed
    c.send("c", http_request("GET", "/after-reset"))
    return cap, {"transactions": [tx("/one", 200),
                                  tx("/admin/secret", 200)],
                 "forbid_paths": ["/after-reset"],
                 "counters": {"rst_ignored": 1}}


@scenario
def overlap_evasion():
    """9.2: a decoy segment overlapping the real one: the server (Linux)
    keeps the copy that begins earlier, and so must the trail."""
    cap = Capture()
    c = Conn(cap, C, 40009, S, 80)
    c.handshake()
    real = http_request("GET", "/admin/x")
    base = c.nxt["c"]
    decoy = c.packet("c", PSH | ACK, b"publc/x", seq=base + 5)
    genuine = c.packet("c", PSH | ACK, real[4:], seq=base + 4)
    first = c.packet("c", PSH | ACK, real[:4], seq=base)
    assert decoy and genuine and first
    c.nxt["c"] = base + len(real)
    c.send("s", http_response(200, body(10)))
    c.close()
    return cap, {"transactions": [tx("/admin/x", 200,
                                     flags=("overlap_conflict",))],
                 "forbid_paths": ["/publc/x"],
                 "counters": {"overlap_conflicts": 1}}


@scenario
def checksum_decoy():
    """9.3: a decoy with a wrong checksum (the server drops it) before the
    real request: the trail holds the real one."""
    cap = Capture()
    c = Conn(cap, C, 40010, S, 80)
    c.handshake()
    base = c.nxt["c"]
    decoy = c.packet("c", PSH | ACK, http_request("GET", "/publc/x"))
    decoy.bad_checksum = True
    c.nxt["c"] = base
    c.send("c", http_request("GET", "/admin/x"))
    c.send("s", http_response(200, body(10)))
    c.close()
    return cap, {"transactions": [tx("/admin/x", 200)],
                 "forbid_paths": ["/publc/x"],
                 "counters": {"checksum_bad": 1}}


@scenario
def checksum_offload():
    """9.3: the sniffing host's own segments carry only the pseudo-header
    sum (checksum offload) and are 64 KB long: kept."""
    cap = Capture()
    c = Conn(cap, C, 40011, S, 80, mss=65000)
    c.handshake()
    c.send("c", http_request("GET", "/big"))
    for p in c.send("s", http_response(200, body(120000))):
        p.partial_checksum = True
    c.close()
    for p in cap.packets:
        if p.src == S:
            p.partial_checksum = True
    return cap, {"transactions": [tx("/big", 200)],
                 "counters": {"checksum_bad": 0}}


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        print("\n".join(sorted(SCENARIOS)))
        return 0
    if len(sys.argv) != 4 or sys.argv[1] not in SCENARIOS:
        sys.stderr.write(__doc__)
        return 2
    cap, expect = SCENARIOS[sys.argv[1]]()
    cap.write(sys.argv[2])
    expect["about"] = SCENARIOS[sys.argv[1]].__doc__.strip()
    with open(sys.argv[3], "w") as f:
        json.dump(expect, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
