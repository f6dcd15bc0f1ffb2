/* store_sha256.h - SHA-256 for the trail's chain and body digests.
 *
 * OpenSSL's libcrypto computes it (SHA-NI or AVX2 where the CPU has them,
 * about ten times libsodium's portable C): the trail hashes every byte
 * it stores once. libsodium keeps the keys and signatures. The digest is
 * plain SHA-256, so the trail's format does not depend on which library
 * made it (the tests' trail editor recomputes chains with libsodium).
 * Each thread keeps one digest context, made on first use.
 */
#ifndef HARK_STORE_SHA256_H
#define HARK_STORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SHA256_BYTES 32

/* One piece of the message. */
struct store_sha256_part {
    const void *p;
    size_t n;
};

/* out = SHA-256 of the parts, one after another. 0, or -ENOMEM when
 * libcrypto cannot set up a context (out is then zeroed). */
int store_sha256(const struct store_sha256_part *parts, unsigned n,
                 uint8_t out[STORE_SHA256_BYTES]);

#endif
