/* fpset.h - a set of byte strings, held as keyed 64-bit fingerprints.
 *
 * The trail uses one to know which keys a pending write batch holds
 * (LevelDB cannot read its own batch) and which record keys the hash
 * chain references (verify). Membership is by fingerprint: SipHash with
 * a key drawn at random per set, so a key cannot be crafted to collide,
 * and two distinct keys are taken for one with probability about
 * n / 2^64. Both uses tolerate that: a needless dup suffix on a key, or
 * one inserted record in 2^64 going unnoticed. 8 bytes a slot, which
 * keeps verify's memory small on large trails.
 */
#ifndef HARK_FPSET_H
#define HARK_FPSET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct fpset fpset_t;

/* An empty set; NULL on ENOMEM. Needs sodium_init() done. */
fpset_t *fpset_new(void);
void fpset_destroy(fpset_t **s);

/* Adds the n bytes at k (copied as their fingerprint). 0 or -ENOMEM. */
int fpset_add(fpset_t *s, const void *k, size_t n);
bool fpset_has(const fpset_t *s, const void *k, size_t n);
/* Empties the set, keeping its memory and key. */
void fpset_clear(fpset_t *s);

#endif
