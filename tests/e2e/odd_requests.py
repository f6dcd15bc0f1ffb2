"""odd_requests.py - request lines that break the grammar, sent to real
servers, and what hark must log of them.

    odd_requests.py send OUT PORT...   sends every case to each server on
                                       127.0.0.1:PORT, one connection each,
                                       and writes what came back to OUT
    odd_requests.py check OUT TRAIL    checks `hark query --json` output:
                                       each request a server answered is
                                       logged as sent, flagged malformed,
                                       and paired with the status line the
                                       server sent, if it sent one; an
                                       HTTP/0.9 request's bare answer as a
                                       response without a status and with
                                       every byte the server sent (Python
                                       answers some other requests with a
                                       bare body too: those are skipped)
"""
import json
import socket
import sys

from wire_cases import get

# (label, bytes sent, url.original and http.version as hark reads them)
CASES = [
    ("HTTP/0.9", b"GET /index.html\r\n\r\n", "/index.html", None),
    ("version HTTP/1.", b"GET /v1 HTTP/1.\r\nHost: x\r\n\r\n", "/v1", "1."),
    ("version HTTP/2", b"GET /v2 HTTP/2\r\nHost: x\r\n\r\n", "/v2", "2"),
    ("tabs", b"GET\t/t\tHTTP/1.1\r\nHost: x\r\n\r\n", "/t", "1.1"),
    ("extra word", b"GET /x HTTP/1.1 extra\r\nHost: x\r\n\r\n", "/x",
     "1.1 extra"),
    ("blank in the target", b"GET /u v HTTP/1.1\r\nHost: x\r\n\r\n",
     "/u v", "1.1"),
    ("NUL", b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", "/a\x00b", "1.1"),
    ("control byte", b"GET /c\x01d HTTP/1.1\r\nHost: x\r\n\r\n", "/c\x01d",
     "1.1"),
]


def send(out, ports):
    results = []
    for port in ports:
        for label, raw, uri, version in CASES:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(raw)
            got = b""
            try:
                while len(got) < 65536:
                    d = s.recv(65536)
                    if not d:
                        break
                    got += d
            except socket.timeout:
                pass
            s.close()
            status = None
            if got.startswith(b"HTTP/"):
                status = int(got.split(b" ", 2)[1])
            results.append({"label": label, "port": port, "uri": uri,
                            "version": version, "answered": len(got) > 0,
                            "status": status, "bytes": len(got)})
    with open(out, "w") as f:
        json.dump(results, f)


def check(out, trail):
    sent = json.load(open(out))
    recs = [json.loads(line) for line in open(trail, encoding="utf-8")]
    req = {}
    resp = {}
    for r in recs:
        key = (get(r, "destination.port"), get(r, "url.original"))
        if get(r, "event.action") == "request":
            req[key] = r
        else:
            resp[(get(r, "hark.uid"), get(r, "hark.idx"))] = r
    errors = []
    answered = 0
    for c in sent:
        if not c["answered"]:
            continue
        answered += 1
        what = "%s to port %d" % (c["label"], c["port"])
        r = req.get((c["port"], c["uri"]))
        if r is None:
            errors.append("%s: answered, but no request record for %r"
                          % (what, c["uri"]))
            continue
        if get(r, "http.version") != c["version"]:
            errors.append("%s: http.version %r, expected %r"
                          % (what, get(r, "http.version"), c["version"]))
        if "malformed" not in (get(r, "hark.flags") or []):
            errors.append("%s: not flagged malformed" % what)
        p = resp.get((get(r, "hark.uid"), get(r, "hark.idx")))
        if c["status"] is None and c["version"] is None:
            got = None if p is None else (
                get(p, "http.response.status_code"), get(p, "hark.outcome"),
                get(p, "http.response.body.bytes"))
            if got != (None, "ok", c["bytes"]):
                errors.append("%s: the bare answer of %d bytes is logged as %r"
                              % (what, c["bytes"], got))
            continue
        if c["status"] is None:
            continue
        if p is None:
            errors.append("%s: the server's %d is not in the trail"
                          % (what, c["status"]))
        elif (get(p, "http.response.status_code"),
              get(p, "hark.outcome")) != (c["status"], "ok"):
            errors.append("%s: response %r %r, the server sent %d"
                          % (what, get(p, "http.response.status_code"),
                             get(p, "hark.outcome"), c["status"]))
    for e in errors:
        print("  " + e)
    print("%d answered requests checked" % answered)
    return 1 if errors or answered < len(CASES) else 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "send":
        send(sys.argv[2], [int(p) for p in sys.argv[3:]])
        sys.exit(0)
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
