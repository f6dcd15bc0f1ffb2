/* checksum.c - RFC 1071 sums, 8 bytes at a time in host order. */
#include "checksum.h"

#include <string.h>

uint64_t checksum_add(uint64_t sum, const uint8_t *p, size_t n)
{
    /* RFC 1071 sums are byte-order independent (section 2(B)): add the
     * words as the host loads them, 8 bytes at a time into two 32-bit
     * halves of a 64-bit accumulator (which cannot overflow before 2^31
     * of them), fold, and swap the folded sum into network order once. */
    uint64_t acc = 0;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        acc += (w & 0xffffffffu) + (w >> 32);
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        acc += w;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        acc += w;
        p += 2;
        n -= 2;
    }
    if (n) {
        /* the odd byte is the high half of its network-order word */
        const uint8_t last[2] = { p[0], 0 };
        uint16_t w;
        memcpy(&w, last, 2);
        acc += w;
    }
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    acc = (acc & 0xff) << 8 | acc >> 8;
#endif
    return sum + acc;
}

uint16_t checksum_fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* The pseudo header of a TCP segment of `len` bytes. */
static uint64_t pseudo(const struct packet_info *pi, size_t len)
{
    size_t alen = pi->family == 4 ? 4 : 16;
    uint64_t sum = checksum_add(0, pi->src, alen);
    sum = checksum_add(sum, pi->dst, alen);
    return sum + 6 /* TCP */ + (uint64_t)len;
}

enum checksum_status checksum_check(const struct packet_info *pi)
{
    if (pi->ip_truncated)
        return CHECKSUM_UNKNOWN;
    if (pi->family == 4 && pi->ip_header && pi->ip_header_len >= 20) {
        /* a total length of 0 is left by TSO: nothing final to check */
        if (pi->ip_header[2] == 0 && pi->ip_header[3] == 0)
            return CHECKSUM_UNKNOWN;
        if (checksum_fold(checksum_add(0, pi->ip_header,
                                       pi->ip_header_len)) != 0xffff)
            return CHECKSUM_BAD;
    }
    const uint8_t *seg = pi->ip_payload;
    size_t len = pi->ip_payload_len;
    if (!seg || len < 20)
        return CHECKSUM_UNKNOWN;
    uint64_t ph = pseudo(pi, len);
    if (checksum_fold(checksum_add(ph, seg, len)) == 0xffff)
        return CHECKSUM_OK;
    uint16_t field = (uint16_t)(seg[16] << 8 | seg[17]);
    return field == checksum_fold(ph) ? CHECKSUM_PARTIAL : CHECKSUM_BAD;
}
