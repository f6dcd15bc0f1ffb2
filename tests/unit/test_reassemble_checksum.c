/* test_reassemble_checksum.c - IPv4 and TCP checksums of decoded packets.
 *
 * A packet pcapgen-style: built here with a correct checksum, then
 * spoiled, then given offload's partial checksum; and the RFC 1071
 * example sum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "checksum.h"

#include <string.h>

/* RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
static void test_rfc1071(void **state)
{
    (void)state;
    const uint8_t d[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    assert_int_equal(checksum_fold(checksum_add(0, d, sizeof(d))), 0xddf2);
    /* any split, odd lengths included, gives the same sum */
    for (size_t cut = 0; cut <= sizeof(d); cut += 2) {
        uint64_t s = checksum_add(0, d, cut);
        s = checksum_add(s, d + cut, sizeof(d) - cut);
        assert_int_equal(checksum_fold(s), 0xddf2);
    }
    const uint8_t odd[] = { 0xab };
    assert_int_equal(checksum_fold(checksum_add(0, odd, 1)), 0xab00);
}

/* The sum word by word as RFC 1071 writes it, for comparison. */
static uint16_t reference(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i += 2) {
        sum += (uint32_t)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)sum;
}

/* Every length from 0 to 1500 and every alignment, bytes random and all
 * 0xff (carries in every word): the folded sum is the reference's, also
 * when the buffer is summed in two parts split at an even offset. */
static void test_matches_word_sum(void **state)
{
    (void)state;
    static uint8_t buf[1600];
    uint32_t x = 12345;
    for (int fill = 0; fill < 2; fill++) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = fill ? 0xff : (uint8_t)(x >> 16);
        }
        for (size_t n = 0; n <= 1500; n++) {
            const uint8_t *p = buf + (n % 8);
            uint16_t want = reference(p, n);
            assert_int_equal(checksum_fold(checksum_add(0, p, n)), want);
            size_t cut = (n / 3) & ~(size_t)1;
            uint64_t s = checksum_add(0, p, cut);
            s = checksum_add(s, p + cut, n - cut);
            assert_int_equal(checksum_fold(s), want);
        }
    }
}

/* IPv4 header + TCP header + payload, checksums filled. */
static size_t build(uint8_t *p, const char *payload)
{
    size_t plen = strlen(payload), tlen = 20 + plen;
    memset(p, 0, 40);
    p[0] = 0x45;
    p[2] = (uint8_t)((20 + tlen) >> 8);
    p[3] = (uint8_t)(20 + tlen);
    p[8] = 64;
    p[9] = 6;
    memcpy(p + 12, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
    uint16_t ip = (uint16_t)~checksum_fold(checksum_add(0, p, 20));
    p[10] = (uint8_t)(ip >> 8);
    p[11] = (uint8_t)ip;
    uint8_t *t = p + 20;
    t[0] = 0x9c; t[1] = 0x40; t[3] = 80; t[7] = 1;
    t[12] = 5 << 4;
    t[13] = 0x18;
    memcpy(t + 20, payload, plen);
    uint64_t ph = checksum_add(0, p + 12, 8) + 6 + tlen;
    uint16_t tc = (uint16_t)~checksum_fold(checksum_add(ph, t, tlen));
    t[16] = (uint8_t)(tc >> 8);
    t[17] = (uint8_t)tc;
    return 20 + tlen;
}

static void test_segments(void **state)
{
    (void)state;
    uint8_t pkt[128];
    struct packet_info pi;
    size_t n = build(pkt, "GET / HTTP/1.1\r\n\r\n");
    assert_int_equal(packet_decode_ip(pkt, n, &pi), PACKET_OK);
    assert_int_equal(checksum_check(&pi), CHECKSUM_OK);

    pkt[45] ^= 1; /* a payload byte: the TCP sum no longer fits */
    assert_int_equal(packet_decode_ip(pkt, n, &pi), PACKET_OK);
    assert_int_equal(checksum_check(&pi), CHECKSUM_BAD);
    pkt[45] ^= 1;

    pkt[8] = 63; /* the TTL: the IPv4 header sum no longer fits */
    assert_int_equal(packet_decode_ip(pkt, n, &pi), PACKET_OK);
    assert_int_equal(checksum_check(&pi), CHECKSUM_BAD);
    pkt[8] = 64;

    /* offload: the field holds only the pseudo-header sum */
    uint64_t ph = checksum_add(0, pkt + 12, 8) + 6 + (n - 20);
    uint16_t partial = checksum_fold(ph);
    pkt[36] = (uint8_t)(partial >> 8);
    pkt[37] = (uint8_t)partial;
    assert_int_equal(packet_decode_ip(pkt, n, &pi), PACKET_OK);
    assert_int_equal(checksum_check(&pi), CHECKSUM_PARTIAL);

    /* TSO leaves an IPv4 total length of 0: nothing to check */
    pkt[2] = pkt[3] = 0;
    assert_int_equal(packet_decode_ip(pkt, n, &pi), PACKET_OK);
    assert_int_equal(checksum_check(&pi), CHECKSUM_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1071),
        cmocka_unit_test(test_matches_word_sum),
        cmocka_unit_test(test_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
