/* checksum.c - RFC 1071 sums, 8 bytes at a time. */
#include "checksum.h"

#include <string.h>

uint64_t checksum_add(uint64_t sum, const uint8_t *p, size_t n)
{
    /* Big-endian 16-bit words summed into 64 bits: 32-bit big-endian
     * halves of each 8 bytes keep the word boundaries, and a 64-bit
     * accumulator cannot overflow before 2^32 of them. */
    while (n >= 8) {
        uint32_t a = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                     (uint32_t)p[2] << 8 | p[3];
        uint32_t b = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
                     (uint32_t)p[6] << 8 | p[7];
        sum += (uint64_t)a + b;
        p += 8;
        n -= 8;
    }
    while (n >= 2) {
        sum += (uint32_t)p[0] << 8 | p[1];
        p += 2;
        n -= 2;
    }
    if (n)
        sum += (uint32_t)p[0] << 8;
    return sum;
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
