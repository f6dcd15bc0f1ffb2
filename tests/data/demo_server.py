#!/usr/bin/python3
"""demo_server.py - a small real HTTP/1.1 server for hark's demo capture and
live tests.

    demo_server.py [--host 127.0.0.1] [--port 8080] [--port-file FILE]

Every response carries Content-Length or is chunked, so keep-alive works.
Bodies are fixed (deterministic); only the Date header changes from run to
run. --port 0 binds a free port; --port-file writes the bound port once the
socket listens (tests wait for that file). Stdlib only.

Routes:
  GET    /                  200 text/html, Content-Length
  GET    /api/v1/users      200 JSON list
  GET    /api/v1/users/42   200 JSON object
  POST   /api/v1/items      201 JSON echoing the request body size
  PUT    /api/v1/items/7    200 JSON echoing the request body size
  DELETE /api/v1/items/7    204, no body
  GET    /static/app.js     200, 6144 bytes written in three pieces
  HEAD   /static/app.js     200, headers only (Content-Length 6144)
  GET    /a/report          200, Transfer-Encoding: chunked, 5 chunks
  anything else             404 with a small text body
"""

import argparse
import http.server
import json
import os
import sys
import time

INDEX = (b"<!DOCTYPE html>\n<html><head><title>hark demo</title></head>\n"
         b"<body><h1>hark demo server</h1>\n"
         b"<p>A passive HTTP audit pipeline needs something to listen to."
         b"</p></body></html>\n")

USERS = [{"id": 41, "name": "ada"}, {"id": 42, "name": "brian"},
         {"id": 43, "name": "grace"}]


def js_body():
    """6144 bytes of deterministic JavaScript-looking text."""
    line = b"console.log('hark demo app line %04d ........................');\n"
    out = b""
    i = 0
    while len(out) < 6144:
        out += line.replace(b"%04d", b"%04d" % i)
        i += 1
    return out[:6144]


APP_JS = js_body()

REPORT_CHUNKS = [b"date,requests,errors\n",
                 b"2024-01-01,1200,3\n2024-01-02,1310,1\n",
                 b"2024-01-03,990,0\n" * 20,
                 b"2024-01-04,1500,7\n",
                 b"# end of report\n"]

NOT_FOUND = b"404 not found: no such resource on the hark demo server\n"


def jbytes(obj):
    return (json.dumps(obj, sort_keys=True) + "\n").encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hark-demo/1.0"
    sys_version = ""
    # One send() per write: the pieces of app.js and the chunks of the
    # report reach the wire as separate segments.
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("demo_server: %s\n" % (fmt % args))

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def path_only(self):
        return self.path.split("?", 1)[0]

    def reply(self, code, body, ctype="application/json", head=False):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def not_found(self, head=False):
        self.reply(404, NOT_FOUND, "text/plain", head)

    def do_GET(self):
        p = self.path_only()
        self.read_body()
        if p == "/":
            self.reply(200, INDEX, "text/html; charset=utf-8")
        elif p == "/api/v1/users":
            self.reply(200, jbytes(USERS))
        elif p == "/api/v1/users/42":
            self.reply(200, jbytes(USERS[1]))
        elif p == "/static/app.js":
            self.send_response(200)
            self.send_header("Content-Type", "application/javascript")
            self.send_header("Content-Length", str(len(APP_JS)))
            self.end_headers()
            for i in range(0, len(APP_JS), 2048):
                self.wfile.write(APP_JS[i:i + 2048])
        elif p == "/a/report":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for c in REPORT_CHUNKS:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                time.sleep(0.005)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.not_found()

    def do_HEAD(self):
        p = self.path_only()
        if p == "/static/app.js":
            self.reply(200, APP_JS, "application/javascript", head=True)
        elif p == "/":
            self.reply(200, INDEX, "text/html; charset=utf-8", head=True)
        else:
            self.not_found(head=True)

    def do_POST(self):
        body = self.read_body()
        if self.path_only() == "/api/v1/items":
            self.reply(201, jbytes({"created": True, "id": 7,
                                    "received_bytes": len(body)}))
        else:
            self.not_found()

    def do_PUT(self):
        body = self.read_body()
        if self.path_only() == "/api/v1/items/7":
            self.reply(200, jbytes({"id": 7, "updated": True,
                                    "received_bytes": len(body)}))
        else:
            self.not_found()

    def do_DELETE(self):
        self.read_body()
        if self.path_only() == "/api/v1/items/7":
            self.send_response(204)
            self.end_headers()
        else:
            self.not_found()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--port-file", help="write the bound port here")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    srv = http.server.ThreadingHTTPServer((a.host, a.port), Handler)
    srv.daemon_threads = True
    srv.verbose = a.verbose
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
