/* test_common_mpout.c - map headers count what was packed.
 *
 * Each map is unpacked by msgpack-c and its keys compared with the ones
 * put: a header that disagreed with its entries would not unpack to
 * them. The header bytes are those msgpack_pack_map() writes for the
 * same count, so patched maps are byte for byte what a hand count gave.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mpout.h"

#include <stdio.h>
#include <string.h>

static const char *const names[] = {
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
    "k", "l", "m", "n", "o", "p", "q", "r", "s", "t",
};

/* Packs the first n names as keys (values: their index) in a map of the
 * given width, and checks what msgpack-c reads back and the header. */
static void check_map(enum mpout_width width, uint32_t n)
{
    msgpack_sbuffer sb, want;
    msgpack_packer pk, wpk;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&want);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_packer_init(&wpk, &want, msgpack_sbuffer_write);
    struct mpout_map m;
    mpout_map_open(&m, &sb, &pk, width);
    msgpack_pack_map(&wpk, n);
    for (uint32_t i = 0; i < n; i++) {
        mpout_key(&m, names[i]);
        msgpack_pack_uint32(&pk, i);
        mpout_cstr(&wpk, names[i]);
        msgpack_pack_uint32(&wpk, i);
    }
    mpout_map_close(&m);

    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object o;
    size_t off = 0;
    assert_int_equal(msgpack_unpack(sb.data, sb.size, &off, &z, &o),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size);
    assert_int_equal(o.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(o.via.map.size, n);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o.via.map.ptr[i];
        assert_int_equal(kv->key.via.str.size, 1);
        assert_memory_equal(kv->key.via.str.ptr, names[i], 1);
        assert_int_equal(kv->val.via.u64, i);
    }
    /* fixmap below 16 keys, map16 from 16 on: as msgpack-c packs them */
    if ((width == MPOUT_FIX) == (n < 16)) {
        assert_int_equal(sb.size, want.size);
        assert_memory_equal(sb.data, want.data, sb.size);
    }
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&want);
}

static void test_counts(void **state)
{
    static const uint32_t fix[] = { 0, 1, 6, 15 };
    static const uint32_t wide[] = { 0, 3, 16, 20 };
    for (size_t i = 0; i < sizeof(fix) / sizeof(fix[0]); i++)
        check_map(MPOUT_FIX, fix[i]);
    for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
        check_map(MPOUT_16, wide[i]);
}

/* A map inside a map: each header counts its own keys. */
static void test_nested(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    struct mpout_map outer, inner;
    mpout_map_open(&outer, &sb, &pk, MPOUT_16);
    mpout_key(&outer, "x");
    mpout_map_open(&inner, &sb, &pk, MPOUT_FIX);
    mpout_key(&inner, "y");
    mpout_str(&pk, bytes_of("1"));
    mpout_key(&inner, "z");
    mpout_bin(&pk, bytes_of(NULL));
    mpout_map_close(&inner);
    mpout_key(&outer, "w");
    msgpack_pack_nil(&pk);
    mpout_map_close(&outer);
    static const char want[] = "\xde\x00\x02" "\xa1x" "\x82\xa1y\xa1" "1"
                               "\xa1z\xc4\x00" "\xa1w\xc0";
    assert_int_equal(sb.size, sizeof(want) - 1);
    assert_memory_equal(sb.data, want, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_nested),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
