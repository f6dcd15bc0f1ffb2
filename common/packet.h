/* packet.h - decoding a captured frame down to its TCP segment.
 *
 * Capture decodes only as far as the flow hash needs; reassemble decodes
 * the whole way. Both use this one decoder, so they agree on what a flow
 * is. Link layers: Ethernet (VLAN, QinQ, PPPoE session, MPLS - also
 * inside VLAN - with IP or Ethernet pseudowires below the labels), Linux
 * SLL and SLL2, BSD loopback (DLT_NULL, DLT_LOOP), raw IPv4/IPv6, Cisco
 * HDLC, raw MPLS, 802.11 data frames (plain or with radiotap; LLC/SNAP,
 * unencrypted), Linux NFLOG.
 * Fragments are reported, not reassembled (reassemble/defrag.h does).
 * IPv6 extension headers are walked up to the transport header.
 *
 * The bound is caplen, never the wire length; every field is read through
 * cursor.h. A decoded packet borrows the caller's buffer.
 */
#ifndef HARK_PACKET_H
#define HARK_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum packet_status {
    PACKET_OK = 0,        /* a TCP segment: tcp fields are set */
    PACKET_FRAGMENT,      /* an IPv4/IPv6 fragment: ip fields set */
    PACKET_NOT_IP,        /* ARP, LLDP, ...: ignored */
    PACKET_NOT_TCP,       /* UDP, ICMP, ...: ignored */
    PACKET_UNKNOWN_LINK,  /* link type hark does not decode */
    PACKET_TRUNCATED,     /* caplen ends inside a header */
    PACKET_MALFORMED,     /* a header field is impossible */
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

struct packet_info {
    uint8_t family;           /* 4 or 6 */
    uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes */
    uint8_t proto;
    /* Fragments (PACKET_FRAGMENT, and the offset-0 fragment) */
    uint32_t frag_id;
    uint32_t frag_offset;     /* bytes */
    bool more_fragments;
    /* IP payload after the IP header(s), bounded by caplen and the IP
     * length; for fragments, the fragment's data. */
    const uint8_t *ip_payload;
    size_t ip_payload_len;
    size_t ip_header_len;     /* IPv4 header, or IPv6 + extension headers */
    const uint8_t *ip_header; /* its first byte (NULL for a datagram
                                 put back together from fragments) */
    bool ip_truncated;        /* caplen cut the IP payload short */
    /* TCP (PACKET_OK) */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t tcp_flags;
    uint16_t window;
    const uint8_t *payload;
    size_t payload_len;
};

/* Decodes one captured frame of link type `link` (a DLT_* value). */
enum packet_status packet_decode(int link, const uint8_t *data, size_t caplen,
                                 struct packet_info *pi);

/* Decodes a reassembled IP datagram (starting at the IP header) the same
 * way, for defragmented packets. */
enum packet_status packet_decode_ip(const uint8_t *data, size_t len,
                                    struct packet_info *pi);

/* Decodes a TCP segment that is the whole payload of a reassembled
 * datagram; pi keeps its IP fields (family, addresses, proto). */
enum packet_status packet_decode_tcp(const uint8_t *data, size_t len,
                                     struct packet_info *pi);

/* Same value for both directions of a connection. */
uint32_t packet_flow_hash(const struct packet_info *pi);

/* Hash of the address pair only (both directions equal), for fragments
 * whose ports are not known. */
uint32_t packet_addr_hash(const struct packet_info *pi);

/* Address in text form ("10.0.0.1", "2001:db8::1") into buf (>= 46). */
const char *packet_addr_str(uint8_t family, const uint8_t *addr, char *buf,
                            size_t size);

const char *packet_status_name(enum packet_status s);

#endif
