/* test_common_urlpath.c - what each reading makes of a request path.
 *
 * One table: a raw request target and the path each reading gives, in
 * the order rfc3986, decoded, c-string, servlet, windows, double. The
 * rows are the attacks of docs/paths.md and the ordinary paths they must
 * not disturb; a reading's column is what a server of its kind serves
 * (checked against nginx 1.22 and Python 3.11's http.server where those
 * servers are named). Then: cuts never overrun, and the helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "urlpath.h"

#include <stdio.h>
#include <string.h>

struct read_case {
    const char *target;
    size_t len; /* 0: strlen */
    const char *want[URLPATH_READINGS];
};

/* All readings agree. */
#define SAME(t, p) { (t), 0, { p, p, p, p, p, p } }

static const struct read_case cases[] = {
    SAME("", "/"),
    SAME("/", "/"),
    SAME("/a", "/a"),
    SAME("a", "/a"),
    SAME("/a/", "/a/"),
    SAME("/a?b", "/a"),
    SAME("/a#f", "/a"),
    SAME("/./", "/"),
    SAME("/..", "/"),
    SAME("/a/..", "/"),
    SAME("/a/b/..", "/a/"),
    SAME("/a/.b", "/a/.b"),
    { "/%7e%41", 0, { "/~A", "/~A", "/~A", "/~A", "/~a", "/~A" } },
    SAME("/%zz", "/%zz"),
    SAME("/%2e%2e/x", "/x"),
    SAME("/%", "/%"),
    SAME("https://h:1/p/q", "/p/q"),
    SAME("https://h", "/"),
    SAME("/p:x//y", "/p:x/y"),
    SAME("*", "*"),
    SAME("/api/v1/users/42", "/api/v1/users/42"),
    /* the query is cut before decoding: "%3F" is part of the path */
    SAME("/a?/../../b", "/a"),
    /* the issue's attack: nginx and Python serve /admin/x */
    { "/public/..%2Fadmin/x", 0,
      { "/public/..%2Fadmin/x", "/admin/x", "/admin/x", "/admin/x",
        "/admin/x", "/admin/x" } },
    { "/public/..%2fadmin/x", 0,
      { "/public/..%2Fadmin/x", "/admin/x", "/admin/x", "/admin/x",
        "/admin/x", "/admin/x" } },
    /* Tomcat's path parameters */
    { "/public/..;/admin/x", 0,
      { "/public/..;/admin/x", "/public/..;/admin/x", "/public/..;/admin/x",
        "/admin/x", "/public/..;/admin/x", "/public/..;/admin/x" } },
    { "/admin;jsessionid=1/x", 0,
      { "/admin;jsessionid=1/x", "/admin;jsessionid=1/x",
        "/admin;jsessionid=1/x", "/admin/x", "/admin;jsessionid=1/x",
        "/admin;jsessionid=1/x" } },
    /* an encoded ";" is data, not a parameter */
    { "/public/..%3b/admin", 0,
      { "/public/..%3B/admin", "/public/..;/admin", "/public/..;/admin",
        "/public/..;/admin", "/public/..;/admin", "/public/..;/admin" } },
    /* backslashes: IIS, and a double-decoding chain */
    { "/public\\..\\admin/x", 0,
      { "/public\\..\\admin/x", "/public\\..\\admin/x",
        "/public\\..\\admin/x", "/public\\..\\admin/x", "/admin/x",
        "/admin/x" } },
    { "/public/..%5Cadmin/x", 0,
      { "/public/..%5Cadmin/x", "/public/..\\admin/x",
        "/public/..\\admin/x", "/public/..\\admin/x", "/admin/x",
        "/admin/x" } },
    /* double encoding */
    { "/public/%252e%252e/admin/x", 0,
      { "/public/%252e%252e/admin/x", "/public/%2e%2e/admin/x",
        "/public/%2e%2e/admin/x", "/public/%2e%2e/admin/x",
        "/public/%2e%2e/admin/x", "/admin/x" } },
    { "/public/..%252Fadmin/x", 0,
      { "/public/..%252Fadmin/x", "/public/..%2Fadmin/x",
        "/public/..%2Fadmin/x", "/public/..%2Fadmin/x",
        "/public/..%2fadmin/x", "/admin/x" } },
    /* overlong UTF-8 ("%c0%ae" is "." to IIS 4/5), and IIS's %u */
    { "/public/%c0%ae%c0%ae/admin/x", 0,
      { "/public/%C0%AE%C0%AE/admin/x", "/public/\xc0\xae\xc0\xae/admin/x",
        "/public/\xc0\xae\xc0\xae/admin/x",
        "/public/\xc0\xae\xc0\xae/admin/x", "/admin/x",
        "/public/\xc0\xae\xc0\xae/admin/x" } },
    { "/public/..%c0%afadmin/x", 0,
      { "/public/..%C0%AFadmin/x", "/public/..\xc0\xaf" "admin/x",
        "/public/..\xc0\xaf" "admin/x", "/public/..\xc0\xaf" "admin/x",
        "/admin/x", "/public/..\xc0\xaf" "admin/x" } },
    { "/public/..%e0%80%afadmin", 0,
      { "/public/..%E0%80%AFadmin", "/public/..\xe0\x80\xaf" "admin",
        "/public/..\xe0\x80\xaf" "admin", "/public/..\xe0\x80\xaf" "admin",
        "/admin", "/public/..\xe0\x80\xaf" "admin" } },
    { "/public/..%u002fadmin", 0,
      { "/public/..%u002fadmin", "/public/..%u002fadmin",
        "/public/..%u002fadmin", "/public/..%u002fadmin", "/admin",
        "/public/..%u002fadmin" } },
    /* case, and Windows' trailing dots and spaces */
    { "/ADMIN/X", 0,
      { "/ADMIN/X", "/ADMIN/X", "/ADMIN/X", "/ADMIN/X", "/admin/x",
        "/ADMIN/X" } },
    { "/admin./x", 0,
      { "/admin./x", "/admin./x", "/admin./x", "/admin./x", "/admin/x",
        "/admin./x" } },
    { "/admin%20/x", 0,
      { "/admin%20/x", "/admin /x", "/admin /x", "/admin /x", "/admin/x",
        "/admin /x" } },
    /* NUL: open() stops at it; Python resolves ".." past it */
    { "/admin%00/../public/x", 0,
      { "/public/x", "/public/x", "/admin", "/public/x",
        "/public/x", "/public/x" } },
    /* "//" and "..": RFC 3986 lets ".." remove the empty segment; nginx
     * and Python merge the slashes first */
    { "/public//../admin/x", 0,
      { "/public/admin/x", "/admin/x", "/admin/x", "/admin/x", "/admin/x",
        "/admin/x" } },
    SAME("//admin/x", "/admin/x"),
    /* a raw NUL byte in the target */
    { "/admin\0/../public", 17,
      { "/public", "/public", "/admin", "/public", "/public", "/public" } },
};

/* The bytes of s (length n) as C text, for messages. */
static const char *show(const char *s, size_t n, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    return buf;
}

static void test_readings(void **state)
{
    (void)state;
    unsigned bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct read_case *c = &cases[i];
        size_t n = c->len ? c->len : strlen(c->target);
        for (unsigned k = 0; k < URLPATH_READINGS; k++) {
            char buf[256], a[512], b[512], t[512];
            size_t len = urlpath_read(k, c->target, n, buf, sizeof(buf));
            assert_int_equal(buf[len], '\0');
            if (len == strlen(c->want[k]) && !memcmp(buf, c->want[k], len))
                continue;
            print_error("%s: %s read '%s', want '%s'\n",
                        show(c->target, n, t, sizeof(t)),
                        urlpath_reading_name(k), show(buf, len, a, sizeof(a)),
                        show(c->want[k], strlen(c->want[k]), b, sizeof(b)));
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* A path longer than the buffer is cut, never overrun, in every reading;
 * the byte past the buffer stays untouched. */
static void test_cut(void **state)
{
    (void)state;
    for (unsigned k = 0; k < URLPATH_READINGS; k++) {
        char small[5];
        small[4] = 'Z';
        size_t n = urlpath_read(k, "/abcdefgh", 9, small, 4);
        assert_int_equal(n, 3);
        assert_string_equal(small, "/ab");
        assert_int_equal(small[4], 'Z');
        n = urlpath_read(k, "abcdefgh", 8, small, 4);
        assert_int_equal(n, 3);
        assert_string_equal(small, "/ab");
        n = urlpath_read(k, "/abc", 4, small, 1);
        assert_int_equal(n, 0);
        assert_int_equal(small[0], '\0');
    }
}

/* Every byte value in every position: a reading always gives a path that
 * starts with "/" and has no "." or ".." segment and no "//". */
static void test_shape(void **state)
{
    (void)state;
    static const char alphabet[] = "/.%;\\aA2fFeE0c5u\x00\xc0\xae\xaf ?#";
    char target[6], buf[16];
    size_t na = sizeof(alphabet) - 1;
    unsigned long total = 1;
    for (int i = 0; i < 5; i++)
        total *= na;
    for (unsigned long x = 0; x < total; x++) {
        unsigned long v = x;
        for (int i = 0; i < 5; i++, v /= na)
            target[i] = alphabet[v % na];
        for (unsigned k = 0; k < URLPATH_READINGS; k++) {
            size_t len = urlpath_read(k, target, 5, buf, sizeof(buf));
            assert_true(len >= 1 && buf[0] == '/');
            for (size_t i = 0; i + 1 < len; i++)
                if (buf[i] == '/' && buf[i + 1] == '/')
                    fail_msg("'//' in reading %u", k);
            for (size_t i = 0; i < len; i++) {
                if (buf[i] != '/')
                    continue;
                size_t e = i + 1;
                while (e < len && buf[e] != '/')
                    e++;
                size_t s = e - i - 1;
                if ((s == 1 && buf[i + 1] == '.') ||
                    (s == 2 && buf[i + 1] == '.' && buf[i + 2] == '.'))
                    fail_msg("dot segment left in reading %u", k);
            }
        }
    }
}

static void test_helpers(void **state)
{
    (void)state;
    assert_int_equal(urlpath_subtree_len("/", 1), 1);
    assert_int_equal(urlpath_subtree_len("/a/", 3), 2);
    assert_int_equal(urlpath_depth("/", 1), 0);
    assert_int_equal(urlpath_depth("/a", 2), 1);
    assert_int_equal(urlpath_depth("/a/b", 4), 2);
    assert_true(urlpath_under("/a/b", 4, "/a", 2));
    assert_true(urlpath_under("/a", 2, "/a", 2));
    assert_true(urlpath_under("/a/", 3, "/a", 2));
    assert_false(urlpath_under("/ab", 3, "/a", 2));
    assert_false(urlpath_under("/", 1, "/a", 2));
    assert_true(urlpath_under("/x", 2, "/", 1));
    assert_true(urlpath_under("*", 1, "/", 1));
    for (unsigned k = 0; k < URLPATH_READINGS; k++) {
        assert_true(strlen(urlpath_reading_name(k)) > 0);
        assert_true(strlen(urlpath_reading_servers(k)) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readings),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
