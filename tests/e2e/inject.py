#!/usr/bin/env python3
"""inject.py PORT OUT: attacks on a live connection to 127.0.0.1:PORT, the
way an attacker on the path would make them, against the real Linux stack.

One keep-alive connection from a normal socket; between its requests,
segments crafted with a raw socket are injected into it:
  1. a RST in the window but not at the expected byte (RFC 5961: the
     server answers with a challenge ACK and carries on);
  2. a decoy request at the expected byte with a wrong TCP checksum (the
     server's stack drops it);
then the real requests follow on the same connection. OUT gets one line
per request the server answered ("path status body-length"), which is
what the trail must hold. The connection's numbers are read off lo with a packet socket.
Needs root.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from pcapgen import ACK, PSH, RST, Packet  # noqa: E402

ETH_P_ALL = 0x0003


def request(path):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()


def read_response(sock):
    """Reads one response with a Content-Length; returns its status and
    body length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(head.split(b" ")[1]), length


class Watcher:
    """The latest sequence numbers of one connection, seen on lo."""

    def __init__(self, cport, sport):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                               socket.htons(ETH_P_ALL))
        self.s.bind(("lo", 0))
        self.s.settimeout(0.05)
        self.cport, self.sport = cport, sport
        self.client_next = self.server_next = None

    def drain(self):
        while True:
            try:
                frame = self.s.recv(70000)
            except socket.timeout:
                return
            ip = frame[14:]
            if len(ip) < 40 or ip[0] >> 4 != 4 or ip[9] != 6:
                continue
            ihl = (ip[0] & 15) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:tot]
            sp, dp, seq, ack = struct.unpack("!HHII", tcp[:12])
            off = (tcp[12] >> 4) * 4
            n = len(tcp) - off + (1 if tcp[13] & 3 else 0)
            if (sp, dp) == (self.cport, self.sport):
                self.client_next = (seq + n) & 0xFFFFFFFF
            elif (sp, dp) == (self.sport, self.cport):
                self.server_next = (seq + n) & 0xFFFFFFFF


def inject(pkt):
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.sendto(pkt.ip_bytes(), ("127.0.0.1", 0))
    raw.close()


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    sock = socket.create_connection(("127.0.0.1", port))
    cport = sock.getsockname()[1]
    w = Watcher(cport, port)
    answered = []

    def ask(path):
        sock.sendall(request(path))
        answered.append("%s %d %d" % ((path,) + read_response(sock)))
        time.sleep(0.1)
        w.drain()

    ask("/one")
    # 1. an in-window RST that is not at the expected byte
    rst = Packet("127.0.0.1", cport, "127.0.0.1", port,
                 w.client_next + 1000, w.server_next, RST | ACK)
    inject(rst)
    time.sleep(0.1)
    ask("/after-rst")
    # 2. a decoy at the expected byte with a wrong checksum
    decoy = Packet("127.0.0.1", cport, "127.0.0.1", port, w.client_next,
                   w.server_next, PSH | ACK, request("/decoy"))
    decoy.bad_checksum = True
    inject(decoy)
    time.sleep(0.1)
    ask("/real")
    sock.close()
    with open(out, "w") as f:
        f.write("\n".join(answered) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
