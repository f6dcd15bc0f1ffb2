/* test_common_packet.c - IPv6 extension headers down to the TCP segment.
 *
 * A table of raw IPv6 datagrams (LINKTYPE_RAW), each with the status,
 * ports and payload length it must decode to; then every prefix of each,
 * copied to a buffer of exactly its length, so a read past caplen is an
 * AddressSanitizer report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "packet.h"

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

struct packet_case {
    const char *label;
    const uint8_t *data;
    size_t len;
    enum packet_status want;
    uint16_t sport, dport;
    size_t payload_len;
};

#define CASE(l, a, st, sp, dp, pl)                                        \
    { (l), (a), sizeof(a), (st), (sp), (dp), (pl) }

static const struct packet_case cases[] = {
    CASE("plain", plain, PACKET_OK, 8080, 80, 3),
    CASE("hop-by-hop", hop, PACKET_OK, 8080, 80, 3),
    CASE("authentication header", ah, PACKET_OK, 8080, 80, 3),
    CASE("hop-by-hop then AH", hop_ah, PACKET_OK, 8080, 80, 3),
    CASE("udp", udp, PACKET_NOT_TCP, 0, 0, 0),
};

static void test_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct packet_case *c = &cases[i];
        struct packet_info pi;
        enum packet_status st = packet_decode(LINK_RAW, c->data, c->len, &pi);
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
            enum packet_status st = packet_decode(LINK_RAW, p, n, &pi);
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
