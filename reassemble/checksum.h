/* checksum.h - is a segment what its sender's stack meant to send?
 *
 * A segment with a bad IPv4 header or TCP checksum never reaches the
 * receiving application, so it must not reach the trail either: an
 * attacker's decoy with a wrong checksum is dropped by the server and
 * must be dropped here. Two things look like bad checksums without
 * being attacks, and `auto` (the default) tells them apart:
 *   - checksum offload on the sniffing host: outgoing segments carry
 *     only the pseudo-header sum (CHECKSUM_PARTIAL), and coalesced ones
 *     can be up to 64 KB. Such a checksum is recognised exactly;
 *   - captures whose addresses were rewritten without fixing checksums:
 *     every segment of such a direction fails. A direction whose first
 *     segment fails is taken as rewritten (its segments are kept and
 *     counted); one whose first segment was good, or offloaded, is strict
 *     from then on, which is where an attacker is: the connection exists
 *     only because its segments were good.
 * `verify` drops every failing segment, `off` checks nothing.
 */
#ifndef HARK_REASSEMBLE_CHECKSUM_H
#define HARK_REASSEMBLE_CHECKSUM_H

#include "packet.h"

enum checksum_mode { CHECKSUM_AUTO, CHECKSUM_VERIFY, CHECKSUM_OFF };

enum checksum_status {
    CHECKSUM_OK,
    CHECKSUM_BAD,
    CHECKSUM_PARTIAL,  /* TCP field holds the pseudo-header sum: offload */
    CHECKSUM_UNKNOWN,  /* cut short by the snaplen, or a length of 0
                          (TSO): cannot be checked */
};

/* Checks the IPv4 header checksum (when pi has the header) and the TCP
 * checksum of a decoded segment (PACKET_OK). */
enum checksum_status checksum_check(const struct packet_info *pi);

/* The Internet checksum's one's complement sum of n bytes, continued
 * from `sum` (not folded, not complemented). */
uint64_t checksum_add(uint64_t sum, const uint8_t *p, size_t n);

/* Folds a sum to 16 bits. */
uint16_t checksum_fold(uint64_t sum);

#endif
