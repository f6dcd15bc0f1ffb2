/* test_common_packet.c - link layers and IPv6 extension headers down to
 * the TCP segment.
 *
 * A table of frames (raw IPv6 datagrams, 802.11 with radiotap, NFLOG,
 * MPLS), each with the status, ports and payload length it must decode
 * to; then every prefix of each, copied to a buffer of exactly its
 * length, so a read past caplen is an AddressSanitizer report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "packet.h"

#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#define LINK_RAW 101

#define IP6(plen_hi, plen_lo, nh)                                         \
    0x60, 0, 0, 0, (plen_hi), (plen_lo), (nh), 64,                        \
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,          \
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2
/* sport 8080, dport 80, data offset 5, PSH|ACK, then "GET" */
#define TCP_GET                                                           \
    0x1f, 0x90, 0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff,    \
    0, 0, 0, 0, 'G', 'E', 'T'

static const uint8_t plain[] = { IP6(0, 23, 6), TCP_GET };
/* hop-by-hop options: next 6, length 0 (8 bytes), PadN */
static const uint8_t hop[] = { IP6(0, 31, 0), 6, 0, 1, 4, 0, 0, 0, 0,
                               TCP_GET };
/* AH: next 6, length 4 ((4 + 2) * 4 = 24 bytes), reserved, SPI, sequence,
 * 12 bytes of ICV */
static const uint8_t ah[] = { IP6(0, 47, 51), 6, 4, 0, 0, 0, 0, 1, 0,
                              0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                              0, 0, TCP_GET };
/* hop-by-hop, then AH, then TCP */
static const uint8_t hop_ah[] = { IP6(0, 55, 0), 51, 0, 1, 4, 0, 0, 0, 0,
                                  6, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1,
                                  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                  TCP_GET };
/* UDP: not TCP */
static const uint8_t udp[] = { IP6(0, 8, 17), 0, 53, 0, 53, 0, 8, 0, 0 };

/* IPv4 10.0.0.1 -> 10.0.0.2, TCP_GET (the checksum is not checked) */
#define IP4_GET                                                           \
    0x45, 0, 0, 43, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,     \
    TCP_GET
#define LLC_IPV4 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00
#define MAC3                                                              \
    2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0xbb
/* radiotap: TSFT, Flags (the given value), Rate, Channel, signal */
#define RADIOTAP(flags)                                                   \
    0, 0, 23, 0, 0x2f, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, (flags), 108,      \
    0x85, 0x09, 0xa0, 0x00, 0xd8

/* QoS data to the AP: 26-byte header */
static const uint8_t rt_qos[] = { RADIOTAP(0), 0x88, 0x01, 0, 0, MAC3, 0, 0,
                                  0, 0, LLC_IPV4, IP4_GET };
/* the same with DataPad: the header padded to 28 bytes */
static const uint8_t rt_pad[] = { RADIOTAP(0x20), 0x88, 0x01, 0, 0, MAC3,
                                  0, 0, 0, 0, 0xee, 0xee, LLC_IPV4,
                                  IP4_GET };
/* an extended present bitmap (bit 31), then Flags only */
static const uint8_t rt_ext[] = { 0, 0, 13, 0, 0x02, 0, 0, 0x80, 0, 0, 0,
                                  0, 0, 0x08, 0x02, 0, 0, MAC3, 0, 0,
                                  LLC_IPV4, IP4_GET };
/* protected (encrypted), a beacon, QoS null: no IP to read */
static const uint8_t rt_wep[] = { RADIOTAP(0), 0x08, 0x41, 0, 0, MAC3, 0, 0,
                                  LLC_IPV4, IP4_GET };
static const uint8_t rt_beacon[] = { RADIOTAP(0), 0x80, 0, 0, 0, MAC3, 0, 0,
                                     0, 0, 0, 0 };
static const uint8_t rt_null[] = { RADIOTAP(0), 0xc8, 0x01, 0, 0, MAC3, 0,
                                   0, 0, 0 };
/* plain 802.11, four addresses (WDS) */
static const uint8_t wds[] = { 0x08, 0x03, 0, 0, MAC3, 0, 0, 2, 0, 0, 0, 0,
                               3, LLC_IPV4, IP4_GET };

/* NFLOG: family, version, group; packet header, prefix, payload */
#define NFLOG_HEAD(fam) (fam), 0, 0, 5
static const uint8_t nflog_le[] = {
    NFLOG_HEAD(2), 8, 0, 1, 0, 0x08, 0x00, 3, 0,
    9, 0, 10, 0, 'h', 'a', 'r', 'k', 0, 0, 0, 0,
    47, 0, 9, 0, IP4_GET, 0 };
static const uint8_t nflog_be[] = {
    NFLOG_HEAD(2), 0, 8, 0, 1, 0x08, 0x00, 3, 0,
    0, 47, 0, 9, IP4_GET, 0 };
static const uint8_t nflog_v6[] = { NFLOG_HEAD(10), 67, 0, 9, 0,
                                    IP6(0, 23, 6), TCP_GET };
static const uint8_t nflog_none[] = { NFLOG_HEAD(2), 8, 0, 1, 0, 0x08, 0x00,
                                      3, 0 };

/* MPLS: two labels (100, then 200 at the bottom), in Ethernet, in a VLAN,
 * over an Ethernet pseudowire with a control word, and a stack that
 * never ends */
#define ETH_HDR(type_hi, type_lo)                                         \
    2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, (type_hi), (type_lo)
#define LABELS 0, 0x06, 0x40, 64, 0, 0x0c, 0x81, 64
static const uint8_t mpls[] = { ETH_HDR(0x88, 0x47), LABELS, IP4_GET };
static const uint8_t vlan_mpls[] = { ETH_HDR(0x81, 0x00), 0, 7, 0x88, 0x47,
                                     LABELS, IP4_GET };
static const uint8_t mpls_pw[] = { ETH_HDR(0x88, 0x47), LABELS, 0, 0, 0, 0,
                                   ETH_HDR(0x08, 0x00), IP4_GET };
static const uint8_t mpls_raw[] = { LABELS, IP6(0, 23, 6), TCP_GET };
static const uint8_t mpls_deep[] = { ETH_HDR(0x88, 0x47), 0, 0, 0, 64,
                                     0, 0, 0, 64, 0, 0, 0, 64, 0, 0, 0, 64,
                                     0, 0, 0, 64, 0, 0, 0, 64, 0, 0, 0, 64,
                                     0, 0, 0, 64, 0, 0, 0, 64, 0, 0, 1, 64,
                                     IP4_GET };

struct packet_case {
    const char *label;
    int link;
    const uint8_t *data;
    size_t len;
    enum packet_status want;
    uint16_t sport, dport;
    size_t payload_len;
};

#define CASE(l, k, a, st, sp, dp, pl)                                     \
    { (l), (k), (a), sizeof(a), (st), (sp), (dp), (pl) }

static const struct packet_case cases[] = {
    CASE("plain", LINK_RAW, plain, PACKET_OK, 8080, 80, 3),
    CASE("hop-by-hop", LINK_RAW, hop, PACKET_OK, 8080, 80, 3),
    CASE("authentication header", LINK_RAW, ah, PACKET_OK, 8080, 80, 3),
    CASE("hop-by-hop then AH", LINK_RAW, hop_ah, PACKET_OK, 8080, 80, 3),
    CASE("udp", LINK_RAW, udp, PACKET_NOT_TCP, 0, 0, 0),
    CASE("radiotap QoS data", DLT_IEEE802_11_RADIO, rt_qos, PACKET_OK, 8080,
         80, 3),
    CASE("radiotap DataPad", DLT_IEEE802_11_RADIO, rt_pad, PACKET_OK, 8080,
         80, 3),
    CASE("radiotap extended bitmap", DLT_IEEE802_11_RADIO, rt_ext, PACKET_OK,
         8080, 80, 3),
    CASE("802.11 protected", DLT_IEEE802_11_RADIO, rt_wep, PACKET_NOT_IP, 0,
         0, 0),
    CASE("802.11 beacon", DLT_IEEE802_11_RADIO, rt_beacon, PACKET_NOT_IP, 0,
         0, 0),
    CASE("802.11 QoS null", DLT_IEEE802_11_RADIO, rt_null, PACKET_NOT_IP, 0,
         0, 0),
    CASE("802.11 four addresses", DLT_IEEE802_11, wds, PACKET_OK, 8080, 80,
         3),
    CASE("NFLOG little-endian", DLT_NFLOG, nflog_le, PACKET_OK, 8080, 80, 3),
    CASE("NFLOG big-endian", DLT_NFLOG, nflog_be, PACKET_OK, 8080, 80, 3),
    CASE("NFLOG IPv6", DLT_NFLOG, nflog_v6, PACKET_OK, 8080, 80, 3),
    CASE("NFLOG without payload", DLT_NFLOG, nflog_none, PACKET_TRUNCATED, 0,
         0, 0),
    CASE("MPLS", DLT_EN10MB, mpls, PACKET_OK, 8080, 80, 3),
    CASE("MPLS in VLAN", DLT_EN10MB, vlan_mpls, PACKET_OK, 8080, 80, 3),
    CASE("MPLS pseudowire", DLT_EN10MB, mpls_pw, PACKET_OK, 8080, 80, 3),
    CASE("raw MPLS", DLT_MPLS, mpls_raw, PACKET_OK, 8080, 80, 3),
    CASE("MPLS stack too deep", DLT_EN10MB, mpls_deep, PACKET_MALFORMED, 0, 0,
         0),
};

static void test_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct packet_case *c = &cases[i];
        struct packet_info pi;
        enum packet_status st = packet_decode(c->link, c->data, c->len, &pi);
        if (st != c->want)
            fail_msg("%s: %s, want %s", c->label, packet_status_name(st),
                     packet_status_name(c->want));
        if (st != PACKET_OK)
            continue;
        if (pi.sport != c->sport || pi.dport != c->dport ||
            pi.payload_len != c->payload_len || pi.proto != 6)
            fail_msg("%s: ports %u %u payload %zu, want %u %u %zu", c->label,
                     pi.sport, pi.dport, pi.payload_len, c->sport, c->dport,
                     c->payload_len);
        assert_memory_equal(pi.payload, "GET", 3);
    }
}

static void test_prefixes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct packet_case *c = &cases[i];
        for (size_t n = 0; n <= c->len; n++) {
            uint8_t *p = malloc(n ? n : 1);
            assert_non_null(p);
            memcpy(p, c->data, n);
            struct packet_info pi;
            enum packet_status st = packet_decode(c->link, p, n, &pi);
            if (st == PACKET_OK &&
                (pi.payload < p || pi.payload + pi.payload_len > p + n))
                fail_msg("%s, %zu bytes: payload outside the input",
                         c->label, n);
            free(p);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
