"""pcapgen.py - write TCP/HTTP captures packet by packet, for tests.

Standard library only. A Conn keeps both directions' sequence and
acknowledgement numbers, so a scenario reads like the exchange it
describes; every packet it makes is a Packet that the scenario can still
edit (drop it, move it, change its bytes, spoil its checksum) before the
capture is written:

    from pcapgen import Capture, Conn
    cap = Capture()
    c = Conn(cap, "10.0.0.1", 40000, "10.0.0.2", 80)
    c.handshake()
    c.send("c", b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    c.send("s", b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi")
    c.close()
    cap.write("out.pcap")

Time advances by `cap.step` (default 1 ms) per packet unless a packet is
given `t`. Checksums (IPv4 header, TCP) are filled in unless a packet
says `bad_checksum`; IPv4 fragments are made by `fragment()`.

Link layers: Ethernet by default (a packet may carry a VLAN tag and an
MPLS label stack, over IP or an Ethernet pseudowire), or for the whole
capture `Capture(link="radiotap")` (802.11 data frames after a radiotap
header) or `Capture(link="nflog")` (Linux NFLOG, little-endian TLVs).
"""

import ipaddress
import struct

LINKTYPE_ETHERNET = 1
LINKTYPE_IEEE802_11_RADIOTAP = 127
LINKTYPE_NFLOG = 239
ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_MPLS = 0x8847

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Packet:
    """One TCP segment (or a raw IP payload in `raw_ip`), editable until
    the capture is written."""

    def __init__(self, src, sport, dst, dport, seq, ack, flags, data=b"",
                 window=65535, t=None):
        self.src, self.sport, self.dst, self.dport = src, sport, dst, dport
        self.seq, self.ack, self.flags, self.data = seq, ack, flags, data
        self.window = window
        self.t = t                 # seconds; None: the capture's clock
        self.bad_checksum = False  # spoil the TCP checksum
        self.partial_checksum = False  # what offload leaves: only the
                                       # pseudo-header sum
        self.ttl = 64
        self.ip_id = 0
        self.raw_ip = None         # bytes of a whole IP packet instead
        self.vlan = None           # 802.1Q tag id
        self.mpls = None           # MPLS labels, outermost first
        self.pseudowire = False    # MPLS: Ethernet with a control word
        self.caplen = None         # cut the frame to this many bytes

    def tcp_bytes(self):
        hdr = struct.pack("!HHIIBBHHH", self.sport, self.dport,
                          self.seq & 0xFFFFFFFF, self.ack & 0xFFFFFFFF,
                          5 << 4, self.flags, self.window, 0, 0)
        seg = hdr + self.data
        src = ipaddress.ip_address(self.src).packed
        dst = ipaddress.ip_address(self.dst).packed
        if len(src) == 4:
            pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
        else:
            pseudo = src + dst + struct.pack("!IxxxB", len(seg), 6)
        c = checksum(pseudo + seg)
        if self.partial_checksum:
            c = ~checksum(pseudo) & 0xFFFF
        if self.bad_checksum:
            c ^= 0x5A5A
        return seg[:16] + struct.pack("!H", c) + seg[18:]

    def ip_bytes(self):
        if self.raw_ip is not None:
            return self.raw_ip
        return ip_packet(self.src, self.dst, 6, self.tcp_bytes(),
                         ttl=self.ttl, ip_id=self.ip_id)


def ip_packet(src, dst, proto, payload, ttl=64, ip_id=0, frag_off=0,
              more=False, dont_fragment=False):
    s = ipaddress.ip_address(src)
    d = ipaddress.ip_address(dst)
    if s.version == 4:
        flags = (0x4000 if dont_fragment else 0) | (0x2000 if more else 0)
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload),
                          ip_id, flags | (frag_off >> 3), ttl, proto, 0,
                          s.packed, d.packed)
        c = checksum(hdr)
        return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload
    hdr = struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, ttl,
                      s.packed, d.packed)
    return hdr + payload


def fragment(pkt, size, overlap=None):
    """Splits an IPv4 packet's payload into fragments of `size` bytes
    (a multiple of 8). Returns raw-IP Packets in order; `overlap` maps a
    fragment index to replacement payload bytes for a copy of it added
    after it (a conflicting duplicate)."""
    ip = pkt.ip_bytes()
    payload = ip[20:]
    out = []
    off = 0
    idx = 0
    ip_id = pkt.ip_id or 0x1234
    while off < len(payload):
        part = payload[off:off + size]
        more = off + size < len(payload)
        f = Packet(pkt.src, pkt.sport, pkt.dst, pkt.dport, 0, 0, 0)
        f.raw_ip = ip_packet(pkt.src, pkt.dst, 6, part, ip_id=ip_id,
                             frag_off=off, more=more)
        f.t = pkt.t
        out.append(f)
        if overlap and idx in overlap:
            g = Packet(pkt.src, pkt.sport, pkt.dst, pkt.dport, 0, 0, 0)
            g.raw_ip = ip_packet(pkt.src, pkt.dst, 6, overlap[idx],
                                 ip_id=ip_id, frag_off=off, more=more)
            out.append(g)
        off += size
        idx += 1
    return out


class Capture:
    """Packets in capture order; write() gives them times and frames."""

    def __init__(self, start=1700000000.0, step=0.001, link="ether"):
        self.packets = []
        self.clock = start
        self.step = step
        self.link = link

    def add(self, pkt):
        self.packets.append(pkt)
        return pkt

    def write(self, path, nanosecond=False):
        magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
        linktype, framer = LINKS[self.link]
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 262144,
                                linktype))
            t = self.clock
            for p in self.packets:
                t = p.t if p.t is not None else t + self.step
                frame = framer(p)
                cap = frame if p.caplen is None else frame[:p.caplen]
                sec = int(t)
                frac = int(round((t - sec) * (1e9 if nanosecond else 1e6)))
                f.write(struct.pack("<IIII", sec, frac, len(cap),
                                    len(frame)))
                f.write(cap)


MACS = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01"


def ip_ethertype(ip):
    return ETH_IPV4 if ip[0] >> 4 == 4 else ETH_IPV6


def ethernet(p):
    ip = p.ip_bytes()
    etype = ip_ethertype(ip)
    if p.mpls:
        inner = ip
        if p.pseudowire:
            inner = b"\0\0\0\0" + MACS + struct.pack("!H", etype) + ip
        labels = b""
        for i, label in enumerate(p.mpls):
            bottom = 0x100 if i == len(p.mpls) - 1 else 0
            labels += struct.pack("!I", label << 12 | bottom | 64)
        etype, ip = ETH_MPLS, labels + inner
    if p.vlan is not None:
        return MACS + struct.pack("!HHH", 0x8100, p.vlan, etype) + ip
    return MACS + struct.pack("!H", etype) + ip


def radiotap(p):
    """A radiotap header (TSFT, Flags, Rate, Channel, antenna signal),
    then an 802.11 data frame between a station (the lower address) and
    its access point: QoS data one way, plain data the other."""
    rt = struct.pack("<BBHI", 0, 0, 23, 0x2F)
    rt += struct.pack("<QBBHHb", 12345678, 0, 108, 2437, 0x00A0, -40)
    ip = p.ip_bytes()
    sta, ap = b"\x02\0\0\0\0\x01", b"\x02\0\0\0\0\x02"
    bssid = b"\x02\0\0\0\0\xbb"
    to_ap = ipaddress.ip_address(p.src) < ipaddress.ip_address(p.dst)
    if to_ap:
        # QoS data, To DS: addr1 BSSID, addr2 source, addr3 destination
        hdr = struct.pack("<BBH", 0x88, 0x01, 0) + bssid + sta + ap
        hdr += struct.pack("<HH", 0, 0)
    else:
        # data, From DS: addr1 destination, addr2 BSSID, addr3 source
        hdr = struct.pack("<BBH", 0x08, 0x02, 0) + sta + bssid + ap
        hdr += struct.pack("<H", 0)
    llc = b"\xaa\xaa\x03\0\0\0" + struct.pack("!H", ip_ethertype(ip))
    return rt + hdr + llc + ip


def nflog(p):
    """Linux NFLOG (group 5): a packet header, a prefix and the payload,
    TLVs in little-endian (the logging host's order) padded to 4."""
    ip = p.ip_bytes()

    def tlv(kind, value):
        raw = struct.pack("<HH", 4 + len(value), kind) + value
        return raw + b"\0" * (-len(raw) % 4)

    family = 2 if ip[0] >> 4 == 4 else 10
    out = struct.pack("!BBH", family, 0, 5)
    out += tlv(1, struct.pack("!HBB", ip_ethertype(ip), 3, 0))
    out += tlv(10, b"hark\0")
    out += tlv(9, ip)
    return out


LINKS = {
    "ether": (LINKTYPE_ETHERNET, ethernet),
    "radiotap": (LINKTYPE_IEEE802_11_RADIOTAP, radiotap),
    "nflog": (LINKTYPE_NFLOG, nflog),
}


class Conn:
    """One TCP connection between a client "c" and a server "s"."""

    def __init__(self, cap, cip, cport, sip, sport, isn_c=1000,
                 isn_s=5000, mss=1448):
        self.cap = cap
        self.ends = {"c": (cip, cport), "s": (sip, sport)}
        self.nxt = {"c": isn_c, "s": isn_s}   # next sequence number to send
        self.isn = {"c": isn_c, "s": isn_s}
        self.mss = mss

    def other(self, side):
        return "s" if side == "c" else "c"

    def packet(self, side, flags, data=b"", seq=None, ack=None, add=True):
        """A segment from `side` with the connection's numbers unless
        given; added to the capture unless add=False. Does not advance
        the sequence numbers (send() and the flag helpers do)."""
        (src, sp), (dst, dp) = self.ends[side], self.ends[self.other(side)]
        p = Packet(src, sp, dst, dp,
                   self.nxt[side] if seq is None else seq,
                   self.nxt[self.other(side)] if ack is None else ack,
                   flags, data)
        return self.cap.add(p) if add else p

    def handshake(self):
        out = [self.packet("c", SYN, ack=0)]
        self.nxt["c"] += 1
        out.append(self.packet("s", SYN | ACK))
        self.nxt["s"] += 1
        out.append(self.packet("c", ACK))
        return out

    def send(self, side, data, seg=None, ack=None, add=True):
        """`data` from `side` in segments of at most `seg` bytes (the
        MSS), each acknowledging what the other side sent so far (or
        `ack`). Returns the packets."""
        seg = seg or self.mss
        out = []
        for i in range(0, len(data), seg):
            part = data[i:i + seg]
            out.append(self.packet(side, PSH | ACK, part, ack=ack, add=add))
            self.nxt[side] += len(part)
        return out

    def ack(self, side):
        return self.packet(side, ACK)

    def fin(self, side):
        p = self.packet(side, FIN | ACK)
        self.nxt[side] += 1
        return p

    def close(self):
        return [self.fin("c"), self.fin("s"), self.ack("c")]

    def rst(self, side, seq=None):
        return self.packet(side, RST | ACK, seq=seq)


def http_request(method, path, headers=(), body=b"", version="1.1",
                 host="example.test"):
    lines = ["%s %s HTTP/%s" % (method, path, version), "Host: " + host]
    lines += ["%s: %s" % h for h in headers]
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def http_response(status, body=b"", headers=(), reason="OK",
                  version="1.1", chunked=False):
    lines = ["HTTP/%s %d %s" % (version, status, reason)]
    lines += ["%s: %s" % h for h in headers]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = b""
        for i in range(0, len(body), 1000):
            part = body[i:i + 1000]
            payload += b"%x\r\n" % len(part) + part + b"\r\n"
        payload += b"0\r\n\r\n"
    else:
        lines.append("Content-Length: %d" % len(body))
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
