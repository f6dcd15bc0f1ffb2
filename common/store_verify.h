/* store_verify.h - checking the audit trail's hash chain (`hark verify`).
 *
 * The chain (store.h) lets a reader prove that no record was edited,
 * deleted or inserted since it was written, short of a rewrite of the
 * whole chain after the change: keeping a copy of the head hash
 * elsewhere catches that too.
 */
#ifndef HARK_STORE_VERIFY_H
#define HARK_STORE_VERIFY_H

#include "store.h"

#include <stdint.h>

struct store_verify {
    uint64_t records;             /* chain entries checked */
    uint8_t head[STORE_HASH_BYTES];
    uint64_t bad_seq;             /* first bad entry; 0 when not one */
    char why[256];                /* what is wrong, for the user */
};

/* Walks the chain: every entry present and in sequence, every record
 * present with the hash the chain holds, meta equal to the last entry,
 * and no record outside the chain. 0 (intact), -EBADMSG (out->why says
 * what is wrong), -ENOMEM, -EIO. */
int store_verify(store_t *s, struct store_verify *out);

#endif
