/* uid.c - connection ids as numbers. */
#include "uid.h"
#include "hash.h"
#include "hex.h"

uint64_t uid_value(struct bytes uid)
{
    uint64_t v;
    if (uid.n == UID_LEN && hex_u64(uid.p, uid.n, &v))
        return v;
    return hash_fnv1a64(HASH_FNV64_INIT, uid.p, uid.n);
}
