/* store_proof.h - one record's place in the hash chain, checked.
 *
 * `hark verify` walks the whole chain; a reader showing one record (the
 * page of `hark serve`) wants to say where that record sits and whether
 * it still matches what the chain says of it, at the cost of a few reads:
 * the record's entry (found by a walk of the chain entries when its
 * sequence number is not known), the entry before it, and the first
 * checkpoint at or after it. What this proves is local: the record's
 * bytes hash, from the previous entry's hash, to its own entry's, and a
 * checkpoint's head equals the chain's hash at that checkpoint. That the
 * entries in between chain to each other is what store_verify() checks.
 */
#ifndef HARK_STORE_PROOF_H
#define HARK_STORE_PROOF_H

#include "store.h"

#include <stdbool.h>
#include <stdint.h>

struct store_proof {
    uint64_t seq;                 /* the record's chain entry; 0: none
                                     names it (inserted, or not chained) */
    uint64_t last_seq;            /* the chain's last entry */
    bool verifies;                /* the record hashes to its entry, and
                                     a body in a segment to its digest */
    char why[200];                /* why it does not */
    uint8_t hash[STORE_HASH_BYTES]; /* its entry's hash */
    uint64_t cp_seq;              /* the first checkpoint at or after seq;
                                     0 when none covers it yet */
    bool cp_matches;              /* its head is the chain's hash there */
    bool cp_signed, cp_final;
};

/* Checks the record stored under key (klen bytes). seq_hint, when not 0,
 * is where its entry should be (it is looked for when the entry there
 * names another key). 0 (*out filled: out->verifies says the verdict),
 * -ENOENT (no such record), -ENOMEM, -EIO (LevelDB cannot read). */
int store_proof(store_t *s, const void *key, size_t klen, uint64_t seq_hint,
                struct store_proof *out);

#endif
