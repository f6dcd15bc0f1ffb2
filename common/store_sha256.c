/* store_sha256.c - SHA-256 through libcrypto's EVP interface.
 *
 * The algorithm is fetched once (an implicit fetch on every
 * EVP_DigestInit_ex would cost a lookup per record) and the context is
 * reused: a record's chain hash is a few hundred bytes, where setup
 * would dominate.
 */
#include "store_sha256.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

static _Thread_local EVP_MD *md;
static _Thread_local EVP_MD_CTX *ctx;

static int setup(void)
{
    if (!md)
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (md && !ctx)
        ctx = EVP_MD_CTX_new();
    return md && ctx ? 0 : -ENOMEM;
}

int store_sha256(const struct store_sha256_part *parts, unsigned n,
                 uint8_t out[STORE_SHA256_BYTES])
{
    unsigned len = 0;
    int ok = setup() == 0 && EVP_DigestInit_ex(ctx, md, NULL);
    for (unsigned i = 0; ok && i < n; i++)
        ok = !parts[i].n || EVP_DigestUpdate(ctx, parts[i].p, parts[i].n);
    ok = ok && EVP_DigestFinal_ex(ctx, out, &len) &&
         len == STORE_SHA256_BYTES;
    if (!ok)
        memset(out, 0, STORE_SHA256_BYTES);
    return ok ? 0 : -ENOMEM;
}
