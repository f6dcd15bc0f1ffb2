/* test_common_keyfile.c - key files written by `hark keygen`, read back.
 *
 * What keygen writes loads again (and the signing pair works: a message
 * signed with the secret verifies with the public key), a secret others
 * can read is refused, existing keys are never replaced without force,
 * and damaged files say what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "keyfile.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char prefix[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/hark-keyfile.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(prefix, sizeof(prefix), "%s/k", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *ext[] = { "sign", "sign.pub", "curve", "curve.pub" };
    char p[256];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s.%s", prefix, ext[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static void path(char *out, const char *ext)
{
    snprintf(out, 256, "%s.%s", prefix, ext);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char err[512], p[256];
    assert_int_equal(keyfile_generate(prefix, false, err, sizeof(err)), 0);
    uint8_t sk[64], pk[32];
    path(p, "sign");
    assert_int_equal(keyfile_load_sign_secret(p, sk, err, sizeof(err)), 0);
    path(p, "sign.pub");
    assert_int_equal(keyfile_load_sign_public(p, pk, err, sizeof(err)), 0);
    assert_true(sodium_init() >= 0);
    uint8_t sig[crypto_sign_BYTES];
    const uint8_t msg[] = "head";
    crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), pk),
                     0);
    char csec[41], cpub[41], cpub2[41], inline_pub[41];
    path(p, "curve");
    assert_int_equal(
        keyfile_load_curve_secret(p, csec, cpub, err, sizeof(err)), 0);
    path(p, "curve.pub");
    assert_int_equal(keyfile_load_curve_public(p, cpub2, err, sizeof(err)),
                     0);
    assert_string_equal(cpub, cpub2);
    char line[64];
    snprintf(line, sizeof(line), "curve %s", cpub);
    assert_int_equal(keyfile_parse_curve_public(line, inline_pub), 0);
    assert_string_equal(inline_pub, cpub);
    assert_int_equal(keyfile_parse_curve_public(cpub, inline_pub), 0);
    assert_int_equal(keyfile_parse_curve_public("curve short", inline_pub),
                     -EINVAL);

    /* never replaced silently */
    assert_int_equal(keyfile_generate(prefix, false, err, sizeof(err)),
                     -EEXIST);
    assert_non_null(strstr(err, "--force"));
    assert_int_equal(keyfile_generate(prefix, true, err, sizeof(err)), 0);
    path(p, "sign.pub");
    uint8_t pk2[32];
    assert_int_equal(keyfile_load_sign_public(p, pk2, err, sizeof(err)), 0);
    assert_memory_not_equal(pk, pk2, sizeof(pk));
}

static void test_refusals(void **state)
{
    (void)state;
    char err[512], p[256];
    assert_int_equal(keyfile_generate(prefix, true, err, sizeof(err)), 0);
    uint8_t sk[64], pk[32];
    path(p, "sign");
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(keyfile_load_sign_secret(p, sk, err, sizeof(err)),
                     -EPERM);
    assert_non_null(strstr(err, "chmod 600"));
    /* the public file is not a secret file and reads fine at 0644 */
    path(p, "sign.pub");
    assert_int_equal(keyfile_load_sign_public(p, pk, err, sizeof(err)), 0);
    /* a CURVE public file is not a signing key */
    path(p, "curve.pub");
    assert_int_equal(keyfile_load_sign_public(p, pk, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "ed25519"));
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("curve not-a-key\n", f);
    fclose(f);
    char pub[41];
    assert_int_equal(keyfile_load_curve_public(p, pub, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(keyfile_load_curve_public("/nonexistent/k", pub, err,
                                               sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/k"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
