/* test_common_mpcheck.c - the checked one-pass unpacker against msgpack-c.
 *
 * mpcheck_unpack() must build exactly what msgpack_unpack() builds from
 * the same bytes, and refuse exactly what the walk (mpcheck_size) or
 * msgpack-c refuses: every consumer of the bus reads its frames through
 * it. Values of every MessagePack type are packed by msgpack-c, then cut
 * short and mutated byte by byte, and both readers compared on each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mpcheck.h"
#include "mpsame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH 8

static unsigned checked, accepted;

/* Both readers on [p, p+n): the same verdict, and the same tree. */
static void compare(const uint8_t *p, size_t n)
{
    msgpack_zone za, zb;
    assert_true(msgpack_zone_init(&za, 4096));
    assert_true(msgpack_zone_init(&zb, 4096));
    msgpack_object a, b;
    size_t off = 0;
    bool ref_ok = mpcheck_size(p, n, DEPTH) == (long)n &&
                  msgpack_unpack((const char *)p, n, &off, &za, &a) ==
                      MSGPACK_UNPACK_SUCCESS;
    int rc = mpcheck_unpack(&zb, p, n, DEPTH, &b);
    assert_int_equal(rc, ref_ok ? 0 : -EBADMSG);
    if (ref_ok) {
        assert_true(mpsame(&a, &b));
        accepted++;
    }
    checked++;
    msgpack_zone_destroy(&za);
    msgpack_zone_destroy(&zb);
}

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static const uint8_t filler[70000];

/* A random value of every kind msgpack-c packs, nested up to depth. */
static void pack_random(msgpack_packer *pk, uint32_t *s, int depth)
{
    uint32_t k = rnd(s) % (depth > 1 ? 16 : 13);
    uint32_t r = rnd(s);
    switch (k) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: r & 1 ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case 2: msgpack_pack_uint64(pk, (uint64_t)r << (rnd(s) % 33)); break;
    case 3:
        msgpack_pack_int64(pk, -(int64_t)((uint64_t)r << (rnd(s) % 32)) - 1);
        break;
    case 4: msgpack_pack_int8(pk, (int8_t)r); break;
    case 5: msgpack_pack_float(pk, (float)r / 7.0f); break;
    case 6: msgpack_pack_double(pk, (double)r / 3.0); break;
    case 7: {
        /* lengths across the fix, 8, 16 and 32-bit forms */
        static const size_t lens[] = { 0, 5, 31, 32, 255, 256, 65535, 65536 };
        size_t n = lens[r % 8];
        msgpack_pack_str_with_body(pk, filler, n);
        break;
    }
    case 8: {
        static const size_t lens[] = { 0, 1, 255, 256, 65536 };
        msgpack_pack_bin_with_body(pk, filler, lens[r % 5]);
        break;
    }
    case 9: case 10: {
        /* fixext 1..16, and ext 8/16/32 */
        static const size_t lens[] = { 1, 2, 4, 8, 16, 3, 300, 65536 };
        msgpack_pack_ext_with_body(pk, filler, lens[r % 8], (int8_t)(r >> 8));
        break;
    }
    case 11: msgpack_pack_int16(pk, (int16_t)r); break;
    case 12: msgpack_pack_int32(pk, (int32_t)r); break;
    case 13: case 14: {
        uint32_t n = r % 4 ? r % 6 : 16 + r % 20; /* fix and 16-bit forms */
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++)
            pack_random(pk, s, depth - 1);
        break;
    }
    default: {
        uint32_t n = r % 4 ? r % 5 : 16 + r % 8;
        msgpack_pack_map(pk, n);
        for (uint32_t i = 0; i < 2 * n; i++)
            pack_random(pk, s, depth - 1);
        break;
    }
    }
}

static void valid_values_build_as_msgpack_c(void **state)
{
    (void)state;
    uint32_t s = 2463534242u;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int i = 0; i < 400; i++) {
        msgpack_sbuffer_clear(&sb);
        pack_random(&pk, &s, 1 + (int)(rnd(&s) % 5));
        compare((const uint8_t *)sb.data, sb.size);
    }
    assert_int_equal(accepted, checked); /* packed whole: all valid */
    msgpack_sbuffer_destroy(&sb);
}

/* Cut short anywhere and bytes changed anywhere: the same verdicts. */
static void damaged_values_get_the_same_verdict(void **state)
{
    (void)state;
    uint32_t s = 88172645u;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    unsigned refused = 0;
    checked = accepted = 0;
    for (int i = 0; i < 300; i++) {
        msgpack_sbuffer_clear(&sb);
        pack_random(&pk, &s, 1 + (int)(rnd(&s) % 4));
        size_t n = sb.size;
        uint8_t *copy = malloc(n);
        assert_non_null(copy);
        for (int j = 0; j < 8; j++) {
            memcpy(copy, sb.data, n);
            size_t cut = rnd(&s) % n;
            compare(copy, cut);
            copy[rnd(&s) % n] = (uint8_t)rnd(&s);
            compare(copy, n);
        }
        free(copy);
    }
    refused = checked - accepted;
    assert_true(refused > 0 && accepted > 0);
    msgpack_sbuffer_destroy(&sb);
}

/* mpcheck_unpack's verdict on a literal. */
#define UNPACK(z, lit, depth, o) mpcheck_unpack((z), (lit), sizeof(lit), \
                                                (depth), (o))

/* Counts no input can hold and nesting past the limit are refused
 * before anything is allocated for them. */
static void hostile_counts_and_nesting_are_refused(void **state)
{
    (void)state;
    msgpack_zone z;
    msgpack_object o;
    assert_true(msgpack_zone_init(&z, 4096));
    static const uint8_t huge_array[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0 };
    static const uint8_t huge_map[] = { 0xdf, 0x80, 0x00, 0x00, 0x00, 1, 2 };
    static const uint8_t long_str[] = { 0xdb, 0x00, 0x01, 0x00, 0x00, 'a' };
    static const uint8_t trailing[] = { 0x01, 0x02 };
    assert_int_equal(UNPACK(&z, huge_array, DEPTH, &o), -EBADMSG);
    assert_int_equal(UNPACK(&z, huge_map, DEPTH, &o), -EBADMSG);
    assert_int_equal(UNPACK(&z, long_str, DEPTH, &o), -EBADMSG);
    assert_int_equal(UNPACK(&z, trailing, DEPTH, &o), -EBADMSG);
    /* [[[1]]] needs depth 4 */
    static const uint8_t nested[] = { 0x91, 0x91, 0x91, 0x01 };
    assert_int_equal(UNPACK(&z, nested, 3, &o), -EBADMSG);
    assert_int_equal(UNPACK(&z, nested, 4, &o), 0);
    const msgpack_object *inner = &o.via.array.ptr[0].via.array.ptr[0];
    assert_int_equal(inner->via.array.ptr[0].via.u64, 1);
    msgpack_zone_destroy(&z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_values_build_as_msgpack_c),
        cmocka_unit_test(damaged_values_get_the_same_verdict),
        cmocka_unit_test(hostile_counts_and_nesting_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
