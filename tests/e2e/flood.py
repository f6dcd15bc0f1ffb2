"""flood.py OUT [SYNS] [EXCHANGES] - a SYN flood, then normal exchanges.

Writes a capture of SYNS spoofed SYNs (default 600,000; distinct
addresses and ports, no answer) to 10.0.0.2:80, 100,000 a second, then
EXCHANGES (default 50) whole HTTP exchanges from 10.9.0.1 to the same
server, each on its own connection; and OUT.expect.tsv with those
exchanges in demo.expect.tsv's columns. Checksums are valid.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from pcapgen import (SYN, Capture, Conn, Packet, ethernet,  # noqa: E402
                     http_request, http_response)


def main():
    out = sys.argv[1]
    syns = int(sys.argv[2]) if len(sys.argv) > 2 else 600000
    exchanges = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    t0 = 1700000000.0
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))

        def put(frame, t):
            sec = int(t)
            f.write(struct.pack("<IIII", sec, int((t - sec) * 1e6),
                                len(frame), len(frame)))
            f.write(frame)

        for i in range(syns):
            src = "10.%d.%d.%d" % (1 + (i >> 16) % 200, (i >> 8) & 255,
                                   i & 255)
            p = Packet(src, 1024 + i % 60000, "10.0.0.2", 80,
                       (i * 2654435761) & 0xFFFFFFFF, 0, SYN)
            put(ethernet(p), t0 + i / 100000.0)
        t1 = t0 + syns / 100000.0 + 1
        cap = Capture(start=t1)
        rows = ["conn\tidx\tmethod\tpath\tstatus\treq_body_len\t"
                "resp_body_len"]
        for i in range(exchanges):
            c = Conn(cap, "10.9.0.1", 30000 + i, "10.0.0.2", 80)
            c.handshake()
            path = "/after-flood/%d" % i
            body = b"x" * (i + 1)
            c.send("c", http_request("GET", path))
            c.send("s", http_response(200, body))
            c.close()
            rows.append("%d\t0\tGET\t%s\t200\t0\t%d" % (i, path, len(body)))
        t = t1
        for p in cap.packets:
            t += cap.step
            put(ethernet(p), t)
    with open(out + ".expect.tsv", "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
