"""serve_scenarios.py OUT.pcap: the capture of the `hark serve` tests.

About 25 seconds of traffic to one service (10.0.0.2:80 and
[2001:db8::2]:80) from four clients, one of them IPv6, on keep-alive
connections: JSON sent gzip-compressed, a POST with an Authorization
header and a login with cookies (both redacted by default), a binary
image longer than its policy keeps (truncated), a chunked response,
301, 404 and 500 answers, and one request that is never answered (a
timeout under a 2 s wait). Response times differ by path, so the
latency chart has something to show. Deterministic: the same bytes on
every run.
"""
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from pcapgen import (Capture, Conn, http_request,  # noqa: E402
                     http_response)

T0 = 1700000000.0
CLIENTS = ["10.1.0.1", "10.1.0.2", "10.1.0.3", "2001:db8::5"]

USERS = json.dumps({"users": [{"id": i, "name": "user-%d" % i,
                               "email": "user%d@example.test" % i}
                              for i in range(40)]}).encode()
# gzip with a fixed mtime: the same bytes every run
USERS_GZ = gzip.compress(USERS, compresslevel=9, mtime=0)
PNG = b"\x89PNG\r\n\x1a\n" + bytes((i * 37 + 11) % 256 for i in range(3000))
STREAM = b"".join(b"event %03d: tick\n" % i for i in range(120))


def exchange(kind):
    """(request bytes, response bytes or None, latency s) of a kind."""
    if kind == "users":
        return (http_request("GET", "/api/v1/users",
                             headers=[("Accept-Encoding", "gzip")]),
                http_response(200, USERS_GZ, headers=[
                    ("Content-Type", "application/json"),
                    ("Content-Encoding", "gzip")]), 0.012)
    if kind == "user":
        return (http_request("GET", "/api/v1/users/42"),
                http_response(200, b'{"id":42,"name":"user-42"}', headers=[
                    ("Content-Type", "application/json")]), 0.004)
    if kind == "item":
        body = b'{"sku":"A-17","qty":3}'
        return (http_request("POST", "/api/v1/items", body=body, headers=[
                    ("Authorization", "Bearer s3cr3t-t0ken"),
                    ("Content-Type", "application/json")]),
                http_response(201, b'{"id":7}', reason="Created", headers=[
                    ("Content-Type", "application/json")]), 0.030)
    if kind == "login":
        return (http_request("GET", "/login?next=/home",
                             headers=[("Cookie", "session=abc123")]),
                http_response(200, b"<html>welcome</html>", headers=[
                    ("Content-Type", "text/html"),
                    ("Set-Cookie", "session=def456; HttpOnly")]), 0.008)
    if kind == "logo":
        return (http_request("GET", "/static/logo.png"),
                http_response(200, PNG, headers=[
                    ("Content-Type", "image/png")]), 0.002)
    if kind == "stream":
        return (http_request("GET", "/api/v1/stream"),
                http_response(200, STREAM, chunked=True, headers=[
                    ("Content-Type", "text/plain")]), 0.050)
    if kind == "old":
        return (http_request("GET", "/old"),
                http_response(301, b"", reason="Moved Permanently",
                              headers=[("Location", "/new")]), 0.001)
    if kind == "missing":
        return (http_request("GET", "/missing"),
                http_response(404, b"not found", reason="Not Found",
                              headers=[("Content-Type", "text/plain")]),
                0.003)
    if kind == "fail":
        return (http_request("GET", "/api/v1/fail"),
                http_response(500, b"boom", reason="Internal Server Error",
                              headers=[("Content-Type", "text/plain")]),
                0.090)
    raise ValueError(kind)


# Connections in time order: (client index, start offset s, kinds).
PLAN = [
    (0, 0.0, ["users", "user", "item"]),
    (1, 1.0, ["login", "logo"]),
    (2, 2.5, ["missing", "users"]),
    (3, 3.0, ["user", "stream"]),
    (0, 5.0, ["old", "users", "fail"]),
    (1, 7.0, ["users", "user", "user", "item"]),
    (2, 9.5, ["logo", "missing"]),
    (0, 11.0, ["users", "stream", "user"]),
    (3, 13.0, ["fail", "users"]),
    (1, 15.0, ["item", "users", "login"]),
    (0, 17.5, ["users", "user"]),
    (2, 19.0, ["users", "old", "logo"]),
    (1, 21.0, ["user", "users"]),
]


def main(out):
    cap = Capture(start=T0)
    port = 41000
    jitter = 0
    for n, (ci, start, kinds) in enumerate(PLAN):
        client = CLIENTS[ci]
        server = "2001:db8::2" if ":" in client else "10.0.0.2"
        c = Conn(cap, client, port + n, server, 80, isn_c=1000 + n * 7919,
                 isn_s=90000 + n * 104729)
        t = T0 + start
        for p in c.handshake():
            p.t = t
            t += 0.0002
        for kind in kinds:
            req, resp, latency = exchange(kind)
            # each response a little slower or faster than its kind's
            jitter += 1
            latency += (jitter * 37 % 17) * 0.0007
            for p in c.send("c", req):
                p.t = t
                t += 0.0001
            t += latency
            for p in c.send("s", resp):
                p.t = t
                t += 0.0001
            p = c.ack("c")
            p.t = t
            t += 0.2
        for p in c.close():
            p.t = t
            t += 0.0002
    # Never answered: a request at 23 s, then two more exchanges at 26 s and
    # 29 s, past its 2 s wait.
    c = Conn(cap, CLIENTS[2], 42000, "10.0.0.2", 80)
    t = T0 + 23.0
    for p in c.handshake() + c.send("c", http_request("GET",
                                                      "/api/v1/slow")):
        p.t = t
        t += 0.0002
    # (the wait ends on packet time, which every shard must see pass: the
    # silent connection itself carries on too, with an ACK and its close)
    for k, start in enumerate([26.0, 29.0]):
        late = Conn(cap, CLIENTS[0], 42001 + k, "10.0.0.2", 80)
        t = T0 + start
        req, resp, latency = exchange("user")
        for p in late.handshake() + late.send("c", req):
            p.t = t
            t += 0.0002
        t += latency
        for p in late.send("s", resp) + late.close():
            p.t = t
            t += 0.0002
    t = T0 + 29.5
    for p in [c.ack("c")] + c.close():
        p.t = t
        t += 0.0002
    cap.write(out)


if __name__ == "__main__":
    main(sys.argv[1])
