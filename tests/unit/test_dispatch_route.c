/* test_dispatch_route.c - service groups, relative paths and policies.
 *
 * One config with overlapping routes, then a table of requests and the
 * group, relative path and policy each must get, and whether its path
 * is ambiguous: an encoded, dotted or parameterised path a real server
 * serves from /admin cannot dodge the policy of /admin unflagged. What
 * each reading makes of a path is test_common_urlpath's table.
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
    "      - { path: /public, policy: pub }\n"
    "      - { path: /admin, policy: adm }\n"
    "  - name: Admin\n"
    "    relative_paths:\n"
    "      - { path: /a, policy: admin, host: admin.example.com }\n"
    "      - { path: /api, policy: api_any }\n"
    "policies:\n"
    "  pa: [ { log: request } ]\n"
    "  pab: [ { log: request } ]\n"
    "  admin: [ { log: request } ]\n"
    "  api_get: [ { log: request } ]\n"
    "  api_any: [ { log: request } ]\n"
    "  pub: [ { log: request } ]\n"
    "  adm: [ { log: request } ]\n";

struct route_case {
    const char *label;
    const char *method, *uri, *host;
    const char *group, *path, *policy; /* NULL group: no match */
    bool ambiguous;                    /* readings route differently */
};

#define PSG "Packet Sniffer Group"

static const struct route_case cases[] = {
    { "root", "GET", "/", "h", PSG, "/", "audit", false },
    { "other path", "GET", "/zzz", NULL, PSG, "/", "audit", false },
    { "exact /a", "GET", "/a", "h", PSG, "/a", "pa", false },
    { "below /a", "POST", "/a/x/y", "h", PSG, "/a", "pa", false },
    { "query on /a", "GET", "/a?x=/a/b", "h", PSG, "/a", "pa", false },
    { "segment boundary", "GET", "/ab", "h", PSG, "/", "audit", false },
    { "longest wins", "GET", "/a/b/c", "h", PSG, "/a/b/", "pab", false },
    { "trailing slash route takes the bare path", "GET", "/a/b", "h", PSG,
      "/a/b/", "pab", false },
    { "host beats no host at equal length", "GET", "/a/1",
      "admin.example.com", "Admin", "/a", "admin", false },
    { "host with port", "GET", "/a", "ADMIN.example.com:8080", "Admin", "/a",
      "admin", false },
    { "other host", "GET", "/a", "www.example.com", PSG, "/a", "pa", false },
    { "methods beat none at equal length", "GET", "/api/v1", "h", PSG,
      "/api", "api_get", false },
    { "method not listed falls to the next", "DELETE", "/api/v1", "h",
      "Admin", "/api", "api_any", false },
    { "dot segments", "GET", "/x/../a/./b/c", "h", PSG, "/a/b/", "pab",
      false },
    { "percent-encoded unreserved", "GET", "/%61/%62/c", "h", PSG, "/a/b/",
      "pab", false },
    { "double slashes", "GET", "//a//b//", "h", PSG, "/a/b/", "pab", false },
    { "absolute form", "GET", "http://example.com/a/b/z?q", "h", PSG,
      "/a/b/", "pab", false },
    { "dotdot above root", "GET", "/../../a", "h", PSG, "/a", "pa", false },
    { "asterisk", "OPTIONS", "*", "h", PSG, "/", "audit", false },
    /* Readings that disagree: the most specific relative path any of
     * them finds, flagged. */
    { "encoded slash: nginx and Python read a separator", "GET", "/a%2Fb/c",
      "h", PSG, "/a/b/", "pab", true },
    { "the issue's attack, /public against /admin", "GET",
      "/public/..%2Fadmin/x", "h", PSG, "/admin", "adm", true },
    { "lower-case escape", "GET", "/public/..%2fadmin/x", "h", PSG,
      "/admin", "adm", true },
    { "Tomcat's ..;/", "GET", "/public/..;/admin/x", "h", PSG, "/admin",
      "adm", true },
    { "Tomcat's ;params on a segment", "GET", "/admin;x=1/y", "h", PSG,
      "/admin", "adm", true },
    { "IIS's backslash", "GET", "/public\\..\\admin/x", "h", PSG,
      "/admin", "adm", true },
    { "encoded backslash", "GET", "/public/..%5Cadmin/x", "h", PSG,
      "/admin", "adm", true },
    { "double encoding", "GET", "/public/%252e%252e/admin/x", "h", PSG,
      "/admin", "adm", true },
    { "overlong UTF-8 dots", "GET", "/public/%c0%ae%c0%ae/admin/x", "h",
      PSG, "/admin", "adm", true },
    { "IIS ignores case", "GET", "/ADMIN/x", "h", PSG, "/admin", "adm",
      true },
    { "a NUL ends the path for open()", "GET", "/admin%00/../public/x", "h",
      PSG, "/admin", "adm", true },
    { "RFC 3986 against merged slashes", "GET", "/public//../admin/x", "h",
      PSG, "/admin", "adm", true },
    { "a deeper route wins over agreement", "GET",
      "/a/b/..%2F..%2Fadmin/x", "h", PSG, "/a/b/", "pab", true },
    { "no disagreement on a plain /public path", "GET", "/public/x", "h",
      PSG, "/public", "pub", false },
    { "merged slashes agree", "GET", "//admin/x", "h", PSG, "/admin", "adm",
      false },
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
            strcmp(m.policy->name, c->policy) || m.ambiguous != c->ambiguous)
            fail_msg("%s: got %s %s %s%s, want %s %s %s%s", c->label,
                     m.group->name, m.route->path, m.policy->name,
                     m.ambiguous ? " (ambiguous)" : "", c->group, c->path,
                     c->policy, c->ambiguous ? " (ambiguous)" : "");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_no_match),
        cmocka_unit_test(test_long_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
