/* store_verify.h - checking the audit trail (`hark verify`).
 *
 * The chain (store.h) lets a reader prove that no record was edited,
 * deleted, inserted or moved since it was written, short of a cut at
 * its end or a rewrite of the whole chain from a point on. Two anchors
 * outside the trail catch those too: the logger's Ed25519 public key
 * (each checkpoint is signed; the last record must be covered by a
 * signed, final checkpoint), and a head hash kept elsewhere (`hark run`
 * prints the last one), which must be in the chain.
 */
#ifndef HARK_STORE_VERIFY_H
#define HARK_STORE_VERIFY_H

#include "store.h"

#include <stdbool.h>
#include <stdint.h>

/* What the trail is checked against besides itself; NULL members (or a
 * NULL opts) are not checked. */
struct store_verify_opts {
    const uint8_t *pubkey;        /* STORE_SIGN_PUBLIC_BYTES */
    const uint8_t *head;          /* STORE_HASH_BYTES */
};

struct store_verify {
    uint64_t records;             /* chain entries checked */
    uint8_t head[STORE_HASH_BYTES];
    uint64_t bad_seq;             /* first bad entry; 0 when not one */
    char why[256];                /* what is wrong, for the user */
    uint64_t checkpoints;         /* all match the chain */
    uint64_t signed_ok;           /* valid signatures by opts->pubkey */
    uint64_t other_key;           /* signed by another key: not checked */
    uint64_t last_signed_seq;     /* the last checkpoint opts->pubkey signed */
    bool last_signed_final;
    uint64_t head_seq;            /* where opts->head is in the chain */
    uint64_t bodies;              /* bodies checked in segments */
    uint64_t body_bytes;
};

/* Walks the chain: every entry present and in sequence, every record
 * present with the hash the chain holds, every body in a segment intact
 * and in chain order, meta equal to the last entry and the bodies' end,
 * no record outside the chain, every checkpoint equal to the chain at
 * its seq and none past its end. With opts->pubkey, every checkpoint
 * that key signed has a valid signature and the last record is covered
 * by a final one; with opts->head, that hash is in the chain. 0 (intact),
 * -EBADMSG (out->why says what is wrong), -ENOMEM, -EIO (LevelDB cannot
 * read the trail: out->why has its message). */
int store_verify(store_t *s, const struct store_verify_opts *opts,
                 struct store_verify *out);

#endif
