/* test_dispatch_route.c - service groups, relative paths and policies.
 *
 * One config with overlapping routes, then a table of requests and the
 * group, relative path and policy each must get; and a table of path
 * normalisations, so an encoded or dotted path cannot dodge its policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *yaml =
    "service_groups:\n"
    "  - name: Packet Sniffer Group\n"
    "    relative_paths:\n"
    "      - { path: /, policy: audit }\n"
    "      - { path: /a, policy: pa }\n"
    "      - { path: /a/b/, policy: pab }\n"
    "      - { path: /api, policy: api_get, methods: [GET] }\n"
    "  - name: Admin\n"
    "    relative_paths:\n"
    "      - { path: /a, policy: admin, host: admin.example.com }\n"
    "      - { path: /api, policy: api_any }\n"
    "policies:\n"
    "  pa: [ { log: request } ]\n"
    "  pab: [ { log: request } ]\n"
    "  admin: [ { log: request } ]\n"
    "  api_get: [ { log: request } ]\n"
    "  api_any: [ { log: request } ]\n";

struct route_case {
    const char *label;
    const char *method, *uri, *host;
    const char *group, *path, *policy; /* NULL group: no match */
};

static const struct route_case cases[] = {
    { "root", "GET", "/", "h", "Packet Sniffer Group", "/", "audit" },
    { "other path", "GET", "/zzz", NULL, "Packet Sniffer Group", "/", "audit" },
    { "exact /a", "GET", "/a", "h", "Packet Sniffer Group", "/a", "pa" },
    { "below /a", "POST", "/a/x/y", "h", "Packet Sniffer Group", "/a", "pa" },
    { "query on /a", "GET", "/a?x=/a/b", "h", "Packet Sniffer Group", "/a",
      "pa" },
    { "segment boundary", "GET", "/ab", "h", "Packet Sniffer Group", "/",
      "audit" },
    { "longest wins", "GET", "/a/b/c", "h", "Packet Sniffer Group", "/a/b/",
      "pab" },
    { "trailing slash route takes the bare path", "GET", "/a/b", "h",
      "Packet Sniffer Group", "/a/b/", "pab" },
    { "host beats no host at equal length", "GET", "/a/1",
      "admin.example.com", "Admin", "/a", "admin" },
    { "host with port", "GET", "/a", "ADMIN.example.com:8080", "Admin", "/a",
      "admin" },
    { "other host", "GET", "/a", "www.example.com", "Packet Sniffer Group",
      "/a", "pa" },
    { "methods beat none at equal length", "GET", "/api/v1", "h",
      "Packet Sniffer Group", "/api", "api_get" },
    { "method not listed falls to the next", "DELETE", "/api/v1", "h",
      "Admin", "/api", "api_any" },
    { "dot segments", "GET", "/x/../a/./b/c", "h", "Packet Sniffer Group",
      "/a/b/", "pab" },
    { "percent-encoded unreserved", "GET", "/%61/%62/c", "h",
      "Packet Sniffer Group", "/a/b/", "pab" },
    { "encoded slash stays encoded", "GET", "/a%2Fb/c", "h",
      "Packet Sniffer Group", "/", "audit" },
    { "double slashes", "GET", "//a//b//", "h", "Packet Sniffer Group",
      "/a/b/", "pab" },
    { "absolute form", "GET", "http://example.com/a/b/z?q", "h",
      "Packet Sniffer Group", "/a/b/", "pab" },
    { "dotdot above root", "GET", "/../../a", "h", "Packet Sniffer Group",
      "/a", "pa" },
    { "asterisk", "OPTIONS", "*", "h", "Packet Sniffer Group", "/", "audit" },
};

static void test_routes(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    char err[256];
    assert_int_equal(config_load_string(yaml, "t.yaml", &cfg, err,
                                        sizeof(err)), 0);
    router_t *r = router_new(cfg);
    assert_non_null(r);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct route_case *c = &cases[i];
        struct route_match m;
        int rc = router_match(r, bytes_of(c->method), bytes_of(c->uri),
                              bytes_of(c->host), &m);
        if (!c->group) {
            if (rc != -ENOENT)
                fail_msg("%s: matched %s", c->label, m.route->path);
            continue;
        }
        if (rc != 0)
            fail_msg("%s: no match", c->label);
        if (strcmp(m.group->name, c->group) || strcmp(m.route->path, c->path) ||
            strcmp(m.policy->name, c->policy))
            fail_msg("%s: got %s %s %s, want %s %s %s", c->label,
                     m.group->name, m.route->path, m.policy->name, c->group,
                     c->path, c->policy);
    }
    router_destroy(&r);
    assert_null(r);
    config_destroy(&cfg);
}

static void test_no_match(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    char err[256];
    assert_int_equal(
        config_load_string("service_groups:\n"
                           "  - name: g\n"
                           "    relative_paths:\n"
                           "      - { path: /only, policy: audit }\n",
                           "t.yaml", &cfg, err, sizeof(err)), 0);
    router_t *r = router_new(cfg);
    struct route_match m;
    assert_int_equal(router_match(r, bytes_of("GET"), bytes_of("/other"),
                                  bytes_of(""), &m), -ENOENT);
    assert_int_equal(router_match(r, bytes_of("GET"), bytes_of("/onlyx"),
                                  bytes_of(""), &m), -ENOENT);
    assert_int_equal(router_match(r, bytes_of("GET"), bytes_of("/only/1"),
                                  bytes_of(""), &m), 0);
    assert_string_equal(m.policy->name, "audit");
    router_destroy(&r);
    config_destroy(&cfg);
}

/* A path longer than any fixed buffer still resolves its dot segments:
 * "/x...x/../a" is "/a" and takes its policy, not that of "/". */
static void test_long_path(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    char err[256];
    assert_int_equal(config_load_string(yaml, "t.yaml", &cfg, err,
                                        sizeof(err)), 0);
    router_t *r = router_new(cfg);
    assert_non_null(r);
    size_t n = 3 * ROUTE_MAX_PATH;
    char *uri = malloc(n + 16);
    assert_non_null(uri);
    uri[0] = '/';
    memset(uri + 1, 'x', n);
    strcpy(uri + 1 + n, "/../a/1");
    struct route_match m;
    assert_int_equal(router_match(r, bytes_of("GET"), bytes_of(uri),
                                  bytes_of("h"), &m), 0);
    assert_string_equal(m.policy->name, "pa");
    free(uri);
    router_destroy(&r);
    config_destroy(&cfg);
}

static void test_normalize(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } t[] = {
        { "", "/" },           { "/", "/" },
        { "/a", "/a" },        { "a", "/a" },
        { "/a/", "/a/" },      { "/a?b", "/a" },
        { "/a#f", "/a" },      { "/./", "/" },
        { "/..", "/" },        { "/a/..", "/" },
        { "/a/b/..", "/a/" },  { "/a/.b", "/a/.b" },
        { "/%7e%41", "/~A" },  { "/%zz", "/%zz" },
        { "/%2e%2e/x", "/x" }, { "/%", "/%" },
        { "https://h:1/p/q", "/p/q" }, { "https://h", "/" },
        { "/p:x//y", "/p:x/y" },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char buf[64];
        size_t n = route_normalize(bytes_of(t[i].in), buf, sizeof(buf));
        if (strcmp(buf, t[i].out) || n != strlen(t[i].out))
            fail_msg("'%s' -> '%s', want '%s'", t[i].in, buf, t[i].out);
    }
    /* A path longer than the buffer is cut, never overrun. */
    char small[4];
    size_t n = route_normalize(bytes_of("/abcdefgh"), small, sizeof(small));
    assert_int_equal(n, 3);
    assert_string_equal(small, "/ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_no_match),
        cmocka_unit_test(test_long_path),
        cmocka_unit_test(test_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
