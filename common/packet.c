/* packet.c - link, IP and TCP header decoding through cursors. */
#include "packet.h"
#include "cursor.h"
#include "hash.h"

#include <arpa/inet.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <string.h>

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100
#define ETH_PPPOE_SESSION 0x8864
#define ETH_MPLS 0x8847
#define ETH_MPLS_MULTI 0x8848
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057
/* NFLOG TLV carrying the packet (linux/netfilter/nfnetlink_log.h) */
#define NFULA_PAYLOAD 9

/* Bounds nesting of tags so a frame of endless VLAN headers ends. */
#define MAX_TAGS 8

static enum packet_status decode_ip(cursor_t *c, struct packet_info *pi);
static enum packet_status by_ethertype(uint16_t type, cursor_t *c,
                                       struct packet_info *pi, int depth);

/* MPLS label stack entries up to the bottom one (RFC 3032), then what it
 * carries, which has no type field: IPv4 or IPv6 by the version nibble,
 * or Ethernet after a zero pseudowire control word (RFC 4448). */
static enum packet_status decode_mpls(cursor_t *c, struct packet_info *pi,
                                      int depth)
{
    uint32_t entry;
    uint8_t first;
    do {
        if (depth++ >= MAX_TAGS)
            return PACKET_MALFORMED;
        if (!cur_be32(c, &entry))
            return PACKET_TRUNCATED;
    } while (!(entry & 0x100));
    if (!cur_peek_u8(c, 0, &first))
        return PACKET_TRUNCATED;
    switch (first >> 4) {
    case 4:
    case 6:
        return decode_ip(c, pi);
    case 0: {
        uint16_t type;
        if (!cur_skip(c, 4 + 12) || !cur_be16(c, &type))
            return PACKET_TRUNCATED;
        return by_ethertype(type, c, pi, depth);
    }
    default:
        return PACKET_NOT_IP;
    }
}

/* An 802.11 frame (after any radio header): data frames only, not
 * protected, their body an LLC/SNAP header with an ethertype. `pad`: the
 * header is padded to 4 bytes (radiotap's DataPad flag). */
static enum packet_status decode_80211(cursor_t *c, struct packet_info *pi,
                                       bool pad)
{
    static const uint8_t snap[] = { 0xaa, 0xaa, 0x03, 0, 0, 0 };
    const uint8_t *start = c->p, *llc;
    uint8_t fc0, fc1;
    uint16_t type;
    if (!cur_u8(c, &fc0) || !cur_u8(c, &fc1))
        return PACKET_TRUNCATED;
    /* version 0, type 2 (data); subtypes 4-7 and 12-15 carry no body */
    if ((fc0 & 0x03) != 0 || ((fc0 >> 2) & 0x03) != 2 || (fc0 & 0x40))
        return PACKET_NOT_IP;
    if (fc1 & 0x40) /* protected: encrypted body */
        return PACKET_NOT_IP;
    size_t hlen = 24;
    if ((fc1 & 0x03) == 0x03)
        hlen += 6;             /* four addresses (WDS) */
    if (fc0 & 0x80) {
        hlen += 2;             /* QoS control */
        if (fc1 & 0x80)
            hlen += 4;         /* HT control */
    }
    if (pad)
        hlen = (hlen + 3) & ~(size_t)3;
    if (!cur_skip(c, hlen - (size_t)(c->p - start)) ||
        !cur_bytes(c, sizeof(snap), &llc) || !cur_be16(c, &type))
        return PACKET_TRUNCATED;
    if (memcmp(llc, snap, sizeof(snap)) != 0)
        return PACKET_NOT_IP;
    return by_ethertype(type, c, pi, 0);
}

/* Radiotap: a little-endian header of its own length, then 802.11. Only
 * the Flags field matters (DataPad); it follows TSFT, if present. */
static enum packet_status decode_radiotap(cursor_t *c, struct packet_info *pi)
{
    const uint8_t *hdr = c->p;
    cursor_t rt;
    uint8_t version, flags = 0;
    uint16_t len;
    uint32_t present, word;
    if (!cur_u8(c, &version) || !cur_skip(c, 1) || !cur_le16(c, &len) ||
        !cur_le32(c, &present))
        return PACKET_TRUNCATED;
    if (version != 0 || len < 8)
        return PACKET_MALFORMED;
    if (!cur_skip(c, (size_t)len - 8))
        return PACKET_TRUNCATED;
    /* the fields after the present words */
    rt = cur_make(hdr + 8, (size_t)len - 8);
    word = present;
    for (int n = 0; word & 0x80000000u; n++) {
        if (n >= MAX_TAGS || !cur_le32(&rt, &word))
            return PACKET_MALFORMED;
    }
    if (present & 0x2) {
        if (present & 0x1) {
            /* TSFT: 8 bytes aligned to 8 from the header's start */
            size_t at = (size_t)(rt.p - hdr);
            if (!cur_skip(&rt, ((8 - at % 8) % 8) + 8))
                return PACKET_MALFORMED;
        }
        if (!cur_u8(&rt, &flags))
            return PACKET_MALFORMED;
    }
    return decode_80211(c, pi, (flags & 0x20) != 0);
}

/* NFLOG: family, version, resource id, then type-length-value attributes
 * in the logging host's byte order, each padded to 4 bytes; the packet
 * is the payload attribute's value, an IP datagram. */
static enum packet_status decode_nflog(cursor_t *c, struct packet_info *pi)
{
    uint8_t family;
    bool big = false;
    if (!cur_u8(c, &family) || !cur_skip(c, 3))
        return PACKET_TRUNCATED;
    for (int n = 0; cur_left(c) > 0; n++) {
        uint16_t len, type;
        cursor_t tlv = *c;
        if (n > 64)
            return PACKET_MALFORMED;
        if (!cur_le16(&tlv, &len) || !cur_le16(&tlv, &type))
            return PACKET_TRUNCATED;
        if (n == 0 && (len < 4 || len > cur_left(c)))
            big = true; /* written on a big-endian host */
        if (big) {
            len = (uint16_t)(len >> 8 | len << 8);
            type = (uint16_t)(type >> 8 | type << 8);
        }
        if (len < 4)
            return PACKET_MALFORMED;
        if ((type & 0x7fff) == NFULA_PAYLOAD) {
            cursor_t v;
            if (!cur_skip(c, 4) || !cur_sub(c, (size_t)len - 4, &v))
                return PACKET_TRUNCATED;
            return decode_ip(&v, pi);
        }
        if (!cur_skip(c, ((size_t)len + 3) & ~(size_t)3))
            return PACKET_TRUNCATED;
    }
    return family == 2 || family == 10 ? PACKET_TRUNCATED : PACKET_NOT_IP;
}

static enum packet_status by_ethertype(uint16_t type, cursor_t *c,
                                       struct packet_info *pi, int depth)
{
    for (;;) {
        if (type == ETH_IPV4 || type == ETH_IPV6)
            return decode_ip(c, pi);
        if (depth++ >= MAX_TAGS)
            return PACKET_MALFORMED;
        if (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
            if (!cur_skip(c, 2) || !cur_be16(c, &type))
                return PACKET_TRUNCATED;
            continue;
        }
        if (type == ETH_PPPOE_SESSION) {
            uint8_t b0, b1;
            /* ver/type, code, session id, length, then the PPP protocol,
             * one byte when compressed (RFC 1661: its low bit is set). */
            if (!cur_skip(c, 6) || !cur_u8(c, &b0))
                return PACKET_TRUNCATED;
            uint16_t proto = b0;
            if (!(b0 & 1)) {
                if (!cur_u8(c, &b1))
                    return PACKET_TRUNCATED;
                proto = (uint16_t)(b0 << 8 | b1);
            }
            if (proto == PPP_IPV4 || proto == PPP_IPV6)
                return decode_ip(c, pi);
            return PACKET_NOT_IP;
        }
        if (type == ETH_MPLS || type == ETH_MPLS_MULTI)
            return decode_mpls(c, pi, depth);
        return PACKET_NOT_IP;
    }
}

static enum packet_status decode_link(int link, cursor_t *c,
                                      struct packet_info *pi)
{
    uint16_t type;
    uint32_t af;
    switch (link) {
    case DLT_EN10MB:
        if (!cur_skip(c, 12) || !cur_be16(c, &type))
            return PACKET_TRUNCATED;
        return by_ethertype(type, c, pi, 0);
    case DLT_LINUX_SLL:
        /* packet type, ARPHRD, address length, 8 address bytes, protocol */
        if (!cur_skip(c, 14) || !cur_be16(c, &type))
            return PACKET_TRUNCATED;
        return by_ethertype(type, c, pi, 0);
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
        /* protocol first, then 18 bytes of interface and address data */
        if (!cur_be16(c, &type) || !cur_skip(c, 18))
            return PACKET_TRUNCATED;
        return by_ethertype(type, c, pi, 0);
#endif
    case DLT_NULL:
    case DLT_LOOP:
        /* DLT_NULL stores the family in the writer's byte order; the
         * values that matter (2, 24, 28, 30) are unambiguous either way. */
        if (link == DLT_LOOP ? !cur_be32(c, &af) : !cur_le32(c, &af))
            return PACKET_TRUNCATED;
        if (link == DLT_NULL && (af & 0xffff) == 0)
            af >>= 24;
        if (af == 2 || af == 24 || af == 28 || af == 30)
            return decode_ip(c, pi);
        return PACKET_NOT_IP;
    case DLT_RAW:
    case 101: /* LINKTYPE_RAW as stored in files */
#ifdef DLT_IPV4
    case DLT_IPV4:
    case DLT_IPV6:
#endif
        return decode_ip(c, pi);
    case DLT_C_HDLC:
        /* address, control, protocol (an ethertype) */
        if (!cur_skip(c, 2) || !cur_be16(c, &type))
            return PACKET_TRUNCATED;
        return by_ethertype(type, c, pi, 0);
    case DLT_IEEE802_11:
        return decode_80211(c, pi, false);
    case DLT_IEEE802_11_RADIO:
        return decode_radiotap(c, pi);
#ifdef DLT_NFLOG
    case DLT_NFLOG:
        return decode_nflog(c, pi);
#endif
#ifdef DLT_MPLS
    case DLT_MPLS:
        return decode_mpls(c, pi, 0);
#endif
    default:
        return PACKET_UNKNOWN_LINK;
    }
}

static enum packet_status decode_tcp(cursor_t *c, struct packet_info *pi)
{
    uint8_t off_byte, flags;
    if (!cur_be16(c, &pi->sport) || !cur_be16(c, &pi->dport) ||
        !cur_be32(c, &pi->seq) || !cur_be32(c, &pi->ack) ||
        !cur_u8(c, &off_byte) || !cur_u8(c, &flags) ||
        !cur_be16(c, &pi->window))
        return PACKET_TRUNCATED;
    size_t hlen = (size_t)(off_byte >> 4) * 4;
    if (hlen < 20)
        return PACKET_MALFORMED;
    /* 16 bytes read so far; checksum, urgent pointer and options follow. */
    if (!cur_skip(c, hlen - 16))
        return PACKET_TRUNCATED;
    pi->tcp_flags = flags;
    pi->payload = c->p;
    pi->payload_len = cur_left(c);
    return PACKET_OK;
}

static enum packet_status decode_ipv4(cursor_t *c, struct packet_info *pi)
{
    const uint8_t *start = c->p;
    uint8_t vihl, ttl, proto;
    uint16_t total, id, frag;
    if (!cur_u8(c, &vihl) || !cur_skip(c, 1) || !cur_be16(c, &total) ||
        !cur_be16(c, &id) || !cur_be16(c, &frag) || !cur_u8(c, &ttl) ||
        !cur_u8(c, &proto) || !cur_skip(c, 2) || !cur_copy(c, pi->src, 4) ||
        !cur_copy(c, pi->dst, 4))
        return PACKET_TRUNCATED;
    size_t hlen = (size_t)(vihl & 0x0f) * 4;
    if (hlen < 20)
        return PACKET_MALFORMED;
    if (!cur_skip(c, hlen - 20))
        return PACKET_TRUNCATED;
    pi->family = 4;
    pi->proto = proto;
    pi->ip_header_len = hlen;
    pi->ip_header = start;
    /* TSO/GRO on the sniffing host leaves total length 0 on big frames:
     * trust caplen then. Otherwise the IP length bounds the payload, which
     * drops Ethernet padding. */
    size_t have = (size_t)(c->end - start);
    size_t len = total;
    if (total == 0)
        len = have;
    else if (total < hlen)
        return PACKET_MALFORMED;
    pi->ip_truncated = len > have;
    if (len > have)
        len = have;
    c->end = start + len;
    pi->ip_payload = c->p;
    pi->ip_payload_len = cur_left(c);
    pi->frag_id = id;
    pi->frag_offset = (uint32_t)(frag & 0x1fff) * 8;
    pi->more_fragments = (frag & 0x2000) != 0;
    if (pi->frag_offset != 0 || pi->more_fragments) {
        if (pi->frag_offset != 0 || proto != IPPROTO_TCP)
            return proto == IPPROTO_TCP ? PACKET_FRAGMENT : PACKET_NOT_TCP;
        /* The first fragment carries the ports: decode it for the flow
         * hash but report it as a fragment. */
        cursor_t t = *c;
        enum packet_status s = decode_tcp(&t, pi);
        return s == PACKET_OK || s == PACKET_TRUNCATED ? PACKET_FRAGMENT : s;
    }
    if (proto != IPPROTO_TCP)
        return PACKET_NOT_TCP;
    return decode_tcp(c, pi);
}

static bool ipv6_ext_header(uint8_t nh)
{
    return nh == 0 || nh == 43 || nh == 51 || nh == 60 || nh == 135 ||
           nh == 139 || nh == 140;
}

static enum packet_status decode_ipv6(cursor_t *c, struct packet_info *pi)
{
    const uint8_t *start = c->p;
    uint16_t plen;
    uint8_t nh;
    if (!cur_skip(c, 4) || !cur_be16(c, &plen) || !cur_u8(c, &nh) ||
        !cur_skip(c, 1) || !cur_copy(c, pi->src, 16) ||
        !cur_copy(c, pi->dst, 16))
        return PACKET_TRUNCATED;
    pi->family = 6;
    size_t have = cur_left(c);
    size_t len = plen ? plen : have; /* 0: jumbogram or offload */
    pi->ip_truncated = len > have;
    if (len < have)
        c->end = c->p + len;
    for (int hops = 0;; hops++) {
        if (hops > MAX_TAGS)
            return PACKET_MALFORMED;
        if (nh == 44) { /* fragment header */
            uint8_t next;
            uint16_t off;
            uint32_t id;
            if (!cur_u8(c, &next) || !cur_skip(c, 1) || !cur_be16(c, &off) ||
                !cur_be32(c, &id))
                return PACKET_TRUNCATED;
            pi->frag_id = id;
            pi->frag_offset = (uint32_t)(off & 0xfff8);
            pi->more_fragments = (off & 1) != 0;
            nh = next;
            if (pi->frag_offset || pi->more_fragments) {
                pi->proto = nh;
                pi->ip_header_len = (size_t)(c->p - start);
                pi->ip_payload = c->p;
                pi->ip_payload_len = cur_left(c);
                return nh == IPPROTO_TCP ? PACKET_FRAGMENT : PACKET_NOT_TCP;
            }
            continue;
        }
        if (!ipv6_ext_header(nh))
            break;
        uint8_t next, hlen;
        if (!cur_u8(c, &next) || !cur_u8(c, &hlen))
            return PACKET_TRUNCATED;
        /* AH counts 4-byte units minus 2; the others 8-byte units minus 1 */
        size_t skip = nh == 51 ? ((size_t)hlen + 2) * 4 - 2
                               : ((size_t)hlen + 1) * 8 - 2;
        if (!cur_skip(c, skip))
            return PACKET_TRUNCATED;
        nh = next;
    }
    pi->proto = nh;
    pi->ip_header_len = (size_t)(c->p - start);
    pi->ip_payload = c->p;
    pi->ip_payload_len = cur_left(c);
    if (nh != IPPROTO_TCP)
        return PACKET_NOT_TCP;
    return decode_tcp(c, pi);
}

static enum packet_status decode_ip(cursor_t *c, struct packet_info *pi)
{
    uint8_t v;
    if (!cur_peek_u8(c, 0, &v))
        return PACKET_TRUNCATED;
    switch (v >> 4) {
    case 4: return decode_ipv4(c, pi);
    case 6: return decode_ipv6(c, pi);
    default: return PACKET_NOT_IP;
    }
}

enum packet_status packet_decode(int link, const uint8_t *data, size_t caplen,
                                 struct packet_info *pi)
{
    memset(pi, 0, sizeof(*pi));
    cursor_t c = cur_make(data, caplen);
    return decode_link(link, &c, pi);
}

enum packet_status packet_decode_ip(const uint8_t *data, size_t len,
                                    struct packet_info *pi)
{
    memset(pi, 0, sizeof(*pi));
    cursor_t c = cur_make(data, len);
    return decode_ip(&c, pi);
}

enum packet_status packet_decode_tcp(const uint8_t *data, size_t len,
                                     struct packet_info *pi)
{
    cursor_t c = cur_make(data, len);
    pi->ip_payload = data;
    pi->ip_payload_len = len;
    pi->ip_header = NULL;
    pi->ip_truncated = false;
    pi->frag_offset = 0;
    pi->more_fragments = false;
    return decode_tcp(&c, pi);
}

static uint32_t mix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return h;
}

uint32_t packet_addr_hash(const struct packet_info *pi)
{
    size_t n = pi->family == 6 ? 16 : 4;
    uint32_t a = hash_fnv1a32(HASH_FNV32_INIT, pi->src, n);
    uint32_t b = hash_fnv1a32(HASH_FNV32_INIT, pi->dst, n);
    /* Order-free combination keeps both directions equal. */
    return mix((a ^ b) + (a < b ? a : b) * 31u);
}

uint32_t packet_flow_hash(const struct packet_info *pi)
{
    size_t n = pi->family == 6 ? 16 : 4;
    uint8_t s[18], d[18];
    memcpy(s, pi->src, n);
    s[n] = (uint8_t)(pi->sport >> 8);
    s[n + 1] = (uint8_t)pi->sport;
    memcpy(d, pi->dst, n);
    d[n] = (uint8_t)(pi->dport >> 8);
    d[n + 1] = (uint8_t)pi->dport;
    uint32_t a = hash_fnv1a32(HASH_FNV32_INIT, s, n + 2);
    uint32_t b = hash_fnv1a32(HASH_FNV32_INIT, d, n + 2);
    return mix((a ^ b) + (a < b ? a : b) * 31u + pi->proto);
}

const char *packet_addr_str(uint8_t family, const uint8_t *addr, char *buf,
                            size_t size)
{
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf,
                   (socklen_t)size))
        snprintf(buf, size, "?");
    return buf;
}

const char *packet_status_name(enum packet_status s)
{
    switch (s) {
    case PACKET_OK: return "ok";
    case PACKET_FRAGMENT: return "fragment";
    case PACKET_NOT_IP: return "not_ip";
    case PACKET_NOT_TCP: return "not_tcp";
    case PACKET_UNKNOWN_LINK: return "unknown_link";
    case PACKET_TRUNCATED: return "truncated";
    case PACKET_MALFORMED: return "malformed";
    }
    return "?";
}
