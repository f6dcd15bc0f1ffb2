/* store_sha256.c - SHA-256 through libcrypto's EVP interface.
 *
 * The algorithm is fetched once (an implicit fetch on every
 * EVP_DigestInit_ex would cost a lookup per record) and each thread
 * reuses one context: a record's chain hash is a few hundred bytes, where
 * setup would dominate. A thread's context is freed when the thread ends
 * (hark serve's request threads come and go).
 */
#include "store_sha256.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static bool ready;
static EVP_MD *md;

static void free_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void setup_once(void)
{
    md = EVP_MD_fetch(NULL, "SHA256", NULL);
    ready = md && pthread_key_create(&ctx_key, free_ctx) == 0;
}

static EVP_MD_CTX *thread_ctx(void)
{
    if (pthread_once(&once, setup_once) != 0 || !ready)
        return NULL;
    EVP_MD_CTX *ctx = pthread_getspecific(ctx_key);
    if (ctx)
        return ctx;
    ctx = EVP_MD_CTX_new();
    if (ctx && pthread_setspecific(ctx_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

int store_sha256(const struct store_sha256_part *parts, unsigned n,
                 uint8_t out[STORE_SHA256_BYTES])
{
    unsigned len = 0;
    EVP_MD_CTX *ctx = thread_ctx();
    int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL);
    for (unsigned i = 0; ok && i < n; i++)
        ok = !parts[i].n || EVP_DigestUpdate(ctx, parts[i].p, parts[i].n);
    ok = ok && EVP_DigestFinal_ex(ctx, out, &len) &&
         len == STORE_SHA256_BYTES;
    if (!ok)
        memset(out, 0, STORE_SHA256_BYTES);
    return ok ? 0 : -ENOMEM;
}
