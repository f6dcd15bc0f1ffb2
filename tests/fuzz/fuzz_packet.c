/* fuzz_packet.c - libFuzzer target: packet_decode over every link type.
 *
 * The same bytes are decoded as a frame of each link type hark handles
 * (and one it does not), and as a bare IP datagram. A decoded segment
 * must lie inside the input, and what reassemble does next with it -
 * flow hashes, the canonical flow key, address text - must not fault.
 * The input is copied to a buffer of exactly its size so any read past
 * caplen is an AddressSanitizer report.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon -Ireassemble \
 *       tests/fuzz/fuzz_packet.c common/packet.c reassemble/flow.c \
 *       -o /tmp/fuzz_packet
 */
#include "flow.h"
#include "packet.h"

#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const int links[] = {
    DLT_EN10MB, DLT_LINUX_SLL,
#ifdef DLT_LINUX_SLL2
    DLT_LINUX_SLL2,
#endif
    DLT_NULL, DLT_LOOP, DLT_RAW, 101,
#ifdef DLT_IPV4
    DLT_IPV4, DLT_IPV6,
#endif
    DLT_C_HDLC, DLT_IEEE802_11, DLT_IEEE802_11_RADIO,
#ifdef DLT_NFLOG
    DLT_NFLOG,
#endif
#ifdef DLT_MPLS
    DLT_MPLS,
#endif
    DLT_IEEE802_11_RADIO_AVS, /* the last: not decoded */
};

static void check(const uint8_t *p, size_t n, enum packet_status st,
                  const struct packet_info *pi)
{
    const uint8_t *end = p + n;
    if (packet_status_name(st)[0] == '?')
        abort();
    if (st != PACKET_OK && st != PACKET_FRAGMENT)
        return;
    if (pi->family != 4 && pi->family != 6)
        abort();
    if (pi->ip_payload &&
        (pi->ip_payload < p || pi->ip_payload_len > (size_t)(end -
                                                             pi->ip_payload)))
        abort();
    char buf[64];
    packet_addr_str(pi->family, pi->src, buf, sizeof(buf));
    packet_addr_str(pi->family, pi->dst, buf, sizeof(buf));
    (void)packet_addr_hash(pi);
    if (st != PACKET_OK)
        return;
    if (pi->proto != 6)
        abort();
    if (pi->payload_len &&
        (pi->payload < p || pi->payload_len > (size_t)(end - pi->payload)))
        abort();
    /* Both directions hash and key alike. */
    struct packet_info rev = *pi;
    memcpy(rev.src, pi->dst, sizeof(rev.src));
    memcpy(rev.dst, pi->src, sizeof(rev.dst));
    rev.sport = pi->dport;
    rev.dport = pi->sport;
    if (packet_flow_hash(pi) != packet_flow_hash(&rev))
        abort();
    struct flow_key k1, k2;
    unsigned s1, s2;
    flow_key_make(pi, &k1, &s1);
    flow_key_make(&rev, &k2, &s2);
    if (memcmp(&k1, &k2, sizeof(k1)) != 0)
        abort();
    /* every byte the payload claims is readable */
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < pi->payload_len; i++)
        sum ^= pi->payload[i];
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    if (size)
        memcpy(p, data, size);
    struct packet_info pi;
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        enum packet_status st = packet_decode(links[i], p, size, &pi);
        check(p, size, st, &pi);
        if (links[i] == DLT_IEEE802_11_RADIO_AVS &&
            st != PACKET_UNKNOWN_LINK)
            abort();
    }
    enum packet_status st = packet_decode_ip(p, size, &pi);
    check(p, size, st, &pi);
    free(p);
    return 0;
}
