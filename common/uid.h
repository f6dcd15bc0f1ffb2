/* uid.h - connection ids as numbers.
 *
 * The reassembler names each connection with UID_LEN hex digits. Stages
 * that key tables by connection (correlate's waits, the trail's record
 * keys) use the number the digits write. Any other bytes (a bad or
 * foreign producer) get their FNV-1a 64 hash instead: the same number on
 * every run, so their records still sort the same, and different numbers
 * for different ids, so one bad id cannot take another's response (a
 * single fallback value, such as 0, would make every bad id one
 * connection).
 */
#ifndef HARK_UID_H
#define HARK_UID_H

#include "bytes.h"

#include <stdint.h>

#define UID_LEN 16

/* The number of uid: its UID_LEN hex digits (either case), or the FNV-1a
 * 64 hash of its bytes when it is anything else. */
uint64_t uid_value(struct bytes uid);

#endif
