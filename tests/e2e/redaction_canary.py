"""redaction_canary.py - the two ends of test_redaction.sh.

  server PORTFILE   a raw HTTP/1.1 server on 127.0.0.1 (free port written
                    to PORTFILE) whose every response carries the canary
                    in Set-Cookie headers spelled as a hostile server may
  client PORT       one request per connection, each with the canary in a
                    header spelled as a hostile client may
  scan FILE...      prints every place a file holds the canary: as text,
                    or inside a base64 string of a JSON value (tap frames
                    carry packets and bodies as base64); exit 1 if any
  has FILE TEXT     exit 0 when FILE holds TEXT (as above), else 1

Every message also carries a control header whose value is not secret:
the test requires it to be found where records are, so a scan that
finds no canary is a scan that could have found one.
"""
import base64, binascii, json, re, socket, sys

CANARY = b"CANARY_7f3a9"
CONTROL = b"VISIBLE_5e1c2"

# name + separator as sent; each request carries one of them
REQUEST_HEADERS = [
    b"Authorization: Basic " + CANARY + b"q1",
    b"Authorization : Bearer " + CANARY + b"q2",        # space before ':'
    b"Authorization\x00: " + CANARY + b"q3",            # NUL in the name
    b"authorization\t: " + CANARY + b"q4",
    b"AUTHORIZATION: " + CANARY + b"q5",
    b"Proxy_Authorization: " + CANARY + b"q6",          # CGI reads it as -
    b"Cookie: sid=" + CANARY + b"q7",
    b"Cookie\x01: sid=" + CANARY + b"q8",
    b"X-Api-Key: " + CANARY + b"q9",                    # configured name
    b"X-Foo: a\rAuthorization: " + CANARY + b"q10",     # bare CR
    b"X-Bar: a\r\n Authorization: " + CANARY + b"q11",  # obs-fold
]

RESPONSE = (b"HTTP/1.1 200 OK\r\n"
            b"Content-Length: 2\r\n"
            b"Set-Cookie: sid=" + CANARY + b"r1\r\n"
            b"Set-Cookie : sid=" + CANARY + b"r2\r\n"
            b"Set-Cookie\x00: sid=" + CANARY + b"r3\r\n"
            b"set_cookie: sid=" + CANARY + b"r4\r\n"
            b"X-Control: " + CONTROL + b"r\r\n"
            b"\r\n"
            b"ok")
# lib.sh's readiness probes use curl, which refuses a NUL in a header
PROBE_RESPONSE = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno"


def serve(portfile):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        conn, _ = srv.accept()
        buf = b""
        conn.settimeout(5)
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        raise EOFError
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                need = int(m.group(1)) if m else 0
                while len(buf) < need:
                    data = conn.recv(65536)
                    if not data:
                        raise EOFError
                    buf += data
                buf = buf[need:]
                probe = head.startswith(b"GET /probe/")
                conn.sendall(PROBE_RESPONSE if probe else RESPONSE)
        except (EOFError, OSError):
            pass
        conn.close()


def client(port):
    for i, h in enumerate(REQUEST_HEADERS):
        s = socket.create_connection(("127.0.0.1", int(port)))
        s.sendall(b"GET /canary/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n" % i + h +
                  b"\r\nX-Control: " + CONTROL + b"q\r\n\r\n")
        got = b""
        while not got.endswith(b"\r\n\r\nok"):
            data = s.recv(65536)
            if not data:
                break
            got += data
        s.close()
        if not got.endswith(b"ok"):
            sys.exit("no response to request %d" % i)
    print(len(REQUEST_HEADERS))


B64 = re.compile(r"^[A-Za-z0-9+/]{8,}={0,2}$")


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)


def decoded(obj):
    """The bytes of every base64 string in a JSON value."""
    for s in strings(obj):
        if len(s) % 4 == 0 and B64.match(s):
            try:
                yield base64.b64decode(s, validate=True)
            except (binascii.Error, ValueError):
                pass


def views(path):
    """The file's bytes, and the bytes of every base64 JSON string: in
    each line (JSON lines) or in the whole file (HAR)."""
    raw = open(path, "rb").read()
    yield "text", raw
    docs = []
    for text in raw.splitlines() + [raw]:
        try:
            docs.append(json.loads(text))
        except ValueError:
            pass
    for doc in docs:
        for data in decoded(doc):
            yield "base64", data


def found(path, needle):
    hits = []
    for how, data in views(path):
        i = data.find(needle)
        if i >= 0:
            hits.append("%s: %s: ...%r..." % (path, how,
                                              data[max(0, i - 40):i + 24]))
    return hits


def main():
    cmd = sys.argv[1]
    if cmd == "server":
        serve(sys.argv[2])
    elif cmd == "client":
        client(sys.argv[2])
    elif cmd == "scan":
        hits = [h for p in sys.argv[2:] for h in found(p, CANARY)]
        for h in hits:
            print(h)
        sys.exit(1 if hits else 0)
    elif cmd == "has":
        sys.exit(0 if found(sys.argv[2], sys.argv[3].encode()) else 1)


if __name__ == "__main__":
    main()
