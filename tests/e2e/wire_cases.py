"""wire_cases.py - crafted captures of what real traffic puts on the wire
that strict parsing drops, each with the transactions hark must log.

    wire_cases.py make DIR      writes DIR/<case>.pcap and
                                DIR/<case>.expect.json for every case
    wire_cases.py check EXPECT TRAIL STATS...
                                checks `hark query --json` output (TRAIL)
                                and the reassemblers' final stats files
                                against one case's expectation; prints
                                what is wrong and exits 1

Cases (issue 8, items 5, 6 and 8): request lines servers answer
(HTTP/0.9, odd versions, tabs, extra words, blanks and NUL in the
target), a one-digit status, a request after binary bytes (SOCKS) and
after a lost body's tail, a CONNECT tunnel carrying SMTP (and text that
looks like HTTP), and link types (802.11 with radiotap, NFLOG, MPLS, MPLS
inside a VLAN). The servers' answers are what Python's http.server and
nginx send (tests/e2e/test_live_odd.sh asks them live).

An expectation lists the connection's transactions in order: method,
url.original, http.version (None: absent), the request's flags, then the
response's status (None: no response record), outcome and flags. Flags
listed must be present; "malformed" must be absent where not listed. A
case may also require counters of the reassemblers (summed over shards).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from pcapgen import Capture, Conn, http_response  # noqa: E402

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def tx(method, uri, version, req_flags, status, outcome, resp_flags=(),
       resp_bytes=None):
    return {"method": method, "uri": uri, "version": version,
            "req_flags": list(req_flags), "status": status,
            "outcome": outcome, "resp_flags": list(resp_flags),
            "resp_bytes": resp_bytes}


BAD_REQUEST = (b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n"
               b"Content-Length: 11\r\nConnection: close\r\n\r\nBad Request")


def one_exchange(cap, request, response, port=80, close=True):
    c = Conn(cap, "10.0.0.1", 40000, "10.0.0.2", port)
    c.handshake()
    c.send("c", request)
    if response:
        c.send("s", response)
    if close:
        c.close()
    return c


def ok_response(body=b"hello"):
    return http_response(200, body)


# ---- request lines servers answer ------------------------------------

@case
def http09(cap):
    # nginx answers "GET /" at once with the body alone, then closes: the
    # answer is a response without a status line (status 0)
    body = b"<html>hello</html>\n"
    one_exchange(cap, b"GET /\r\n\r\n", body)
    return [tx("GET", "/", None, ["malformed"], 0, "ok", ["malformed"],
               len(body))]


@case
def http09_answer_before_blank_line(cap):
    # the server answers the request line at once, before the client's
    # blank line: the answer still pairs with it
    c = Conn(cap, "10.0.0.1", 40000, "10.0.0.2", 80)
    c.handshake()
    c.send("c", b"GET /early\r\n")
    c.send("s", b"early answer, " * 100)
    c.send("c", b"\r\n")
    c.close()
    return [tx("GET", "/early", None, ["malformed"], 0, "ok", ["malformed"],
               1400)]


@case
def odd_version(cap):
    one_exchange(cap, b"GET /a HTTP/1.\r\nHost: x\r\n\r\n", BAD_REQUEST)
    return [tx("GET", "/a", "1.", ["malformed"], 400, "ok")]


@case
def tabs(cap):
    # Python's http.server splits on any whitespace: 200
    one_exchange(cap, b"GET\t/t\tHTTP/1.1\r\nHost: x\r\n\r\n",
                 ok_response())
    return [tx("GET", "/t", "1.1", ["malformed"], 200, "ok")]


@case
def extra_words(cap):
    one_exchange(cap, b"GET /e HTTP/1.1 extra\r\nHost: x\r\n\r\n",
                 BAD_REQUEST)
    return [tx("GET", "/e", "1.1 extra", ["malformed"], 400, "ok")]


@case
def uri_spaces(cap):
    one_exchange(cap, b"GET /uri afterspace HTTP/1.1\r\nHost: x\r\n\r\n",
                 BAD_REQUEST)
    return [tx("GET", "/uri afterspace", "1.1", ["malformed"], 400, "ok")]


@case
def nul_in_line(cap):
    one_exchange(cap, b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
                 BAD_REQUEST)
    return [tx("GET", "/a\x00b", "1.1", ["malformed"], 400, "ok")]


@case
def one_digit_status(cap):
    one_exchange(cap, b"GET /s HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"HTTP/1.0 2 OK\r\nContent-Length: 4\r\n\r\ntoto")
    return [tx("GET", "/s", "1.1", [], 2, "ok", ["malformed"])]


# ---- resync and tunnels ----------------------------------------------

@case
def socks_then_http(cap):
    # SOCKS5: greeting, method chosen, CONNECT example.com:80, reply;
    # then HTTP straight after the binary bytes, no line end between
    c = Conn(cap, "10.0.0.1", 40000, "10.0.0.2", 1080)
    c.handshake()
    c.send("c", b"\x05\x01\x00")
    c.send("s", b"\x05\x00")
    c.send("c", b"\x05\x01\x00\x03\x0bexample.com\x00\x50")
    c.send("s", b"\x05\x00\x00\x01\x0a\x00\x00\x02\x00\x50")
    c.send("c", b"GET /via-socks HTTP/1.1\r\nHost: example.com\r\n\r\n")
    c.send("s", ok_response())
    c.close()
    return [tx("GET", "/via-socks", "1.1", [], 200, "ok")]


@case
def gap_then_tail(cap):
    # the segment with the end of an upload's head is lost: its body's
    # tail (binary, no line end) runs straight into the next request
    c = Conn(cap, "10.0.0.1", 40000, "10.0.0.2", 80)
    c.handshake()
    body = bytes(range(11, 75))
    c.send("c", b"POST /up HTTP/1.1\r\nHost: x\r\n")
    lost = c.send("c", b"Content-Length: 64\r\n\r\n" + body[:10])
    c.send("c", body[10:] + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
    c.send("s", ok_response(b"up"))
    c.send("s", ok_response(b"next"))
    c.close()
    cap.packets.remove(lost[0])
    return [tx("POST", "/up", "1.1", ["gap", "incomplete"], 200, "ok"),
            tx("GET", "/next", "1.1", [], 200, "ok")]


@case
def connect_smtp(cap):
    c = Conn(cap, "10.0.0.1", 40000, "10.0.0.2", 3128)
    c.handshake()
    c.send("c", b"CONNECT mail.example:25 HTTP/1.1\r\n"
                b"Host: mail.example:25\r\n\r\n")
    c.send("s", b"HTTP/1.1 200 Connection established\r\n\r\n"
                b"220 mail.example ESMTP\r\n")
    c.send("c", b"EHLO client\r\n")
    c.send("s", b"250-mail.example\r\n250 HELP\r\n")
    c.send("c", b"DATA\r\n")
    c.send("s", b"354 go ahead\r\n")
    # mail text that looks like HTTP must stay tunnel bytes
    c.send("c", b"GET /inside HTTP/1.1\r\nHost: x\r\n\r\n.\r\n")
    c.send("s", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    c.close()
    return {"tx": [tx("CONNECT", "mail.example:25", "1.1", [], 200, "ok",
                      ["upgrade"])],
            "counters": {"tunnels": 1,
                         "tunnel_bytes_client": 13 + 6 + 36,
                         "tunnel_bytes_server": 24 + 28 + 14 + 38}}


# ---- link types --------------------------------------------------------

def link_case(cap, labels=None, vlan=None):
    one_exchange(cap, b"GET /link HTTP/1.1\r\nHost: x\r\n\r\n",
                 ok_response())
    for p in cap.packets:
        p.mpls, p.vlan = labels, vlan
    return [tx("GET", "/link", "1.1", [], 200, "ok")]


@case
def link_radiotap(cap):
    cap.link = "radiotap"
    return link_case(cap)


@case
def link_nflog(cap):
    cap.link = "nflog"
    return link_case(cap)


@case
def link_mpls(cap):
    return link_case(cap, labels=[100, 200])


@case
def link_mpls_vlan(cap):
    return link_case(cap, labels=[16], vlan=7)


# ---- making and checking -----------------------------------------------

def make(out):
    os.makedirs(out, exist_ok=True)
    for name, fn in CASES.items():
        cap = Capture()
        want = fn(cap)
        if isinstance(want, list):
            want = {"tx": want}
        cap.write(os.path.join(out, name + ".pcap"))
        with open(os.path.join(out, name + ".expect.json"), "w") as f:
            json.dump(want, f)


def get(rec, dotted):
    node = rec
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def check(expect_path, trail_path, stats_paths):
    want = json.load(open(expect_path))
    errors = []
    reqs, resps = {}, {}
    for line in open(trail_path, encoding="utf-8"):
        rec = json.loads(line)
        key = (get(rec, "hark.uid"), get(rec, "hark.idx"))
        if get(rec, "event.action") == "request":
            reqs[key] = rec
        else:
            resps[key] = rec
    keys = sorted(set(reqs) | set(resps), key=lambda k: (str(k[0]), k[1]))
    if len(keys) != len(want["tx"]):
        errors.append("%d transactions, expected %d: %r"
                      % (len(keys), len(want["tx"]),
                         [(get(reqs.get(k, {}), "url.original"),
                           get(resps.get(k, {}),
                               "http.response.status_code"))
                          for k in keys]))
    for k, w in zip(keys, want["tx"]):
        req, resp = reqs.get(k), resps.get(k)
        if req is None:
            errors.append("%r: a response without its request" % (k,))
            continue
        got = (get(req, "http.request.method"), get(req, "url.original"),
               get(req, "http.version"))
        exp = (w["method"], w["uri"], w["version"])
        if got != exp:
            errors.append("request %r, expected %r" % (got, exp))
        flags = get(req, "hark.flags") or []
        for fl in w["req_flags"]:
            if fl not in flags:
                errors.append("request %r: flags %r lack %s"
                              % (exp[1], flags, fl))
        if "malformed" in flags and "malformed" not in w["req_flags"]:
            errors.append("request %r: flagged malformed" % (exp[1],))
        status = get(resp, "http.response.status_code") if resp else None
        outcome = get(resp, "hark.outcome") if resp else None
        if w["status"] is None:
            if outcome not in (None, w["outcome"]) or status is not None:
                errors.append("request %r: response %r %r, expected none"
                              % (exp[1], status, outcome))
            continue
        if w["status"] == 0 and resp is not None and status is None:
            status = 0  # a response without a status line (HTTP/0.9)
        if (status, outcome) != (w["status"], w["outcome"]):
            errors.append("request %r: response %r %r, expected %r %r"
                          % (exp[1], status, outcome, w["status"],
                             w["outcome"]))
        rbytes = get(resp, "http.response.body.bytes") if resp else None
        if w.get("resp_bytes") is not None and rbytes != w["resp_bytes"]:
            errors.append("response to %r: %r body bytes, expected %d"
                          % (exp[1], rbytes, w["resp_bytes"]))
        rflags = get(resp, "hark.flags") or [] if resp else []
        for fl in w["resp_flags"]:
            if fl not in rflags:
                errors.append("response to %r: flags %r lack %s"
                              % (exp[1], rflags, fl))
        if "malformed" in rflags and "malformed" not in w["resp_flags"]:
            errors.append("response to %r: flagged malformed" % (exp[1],))
    if want.get("counters"):
        total = {}
        for p in stats_paths:
            for name, v in json.load(open(p)).get("counters", {}).items():
                total[name] = total.get(name, 0) + v
        for name, v in want["counters"].items():
            if total.get(name) != v:
                errors.append("counter %s is %r, expected %d"
                              % (name, total.get(name), v))
    for e in errors:
        print("  " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
        sys.exit(0)
    if len(sys.argv) >= 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
