/* fuzz_path.c - libFuzzer target for what hark reads out of hostile
 * request bytes besides framing: the readings of a path
 * (common/urlpath.c) and the router on top (dispatch/route.c), header
 * redaction (common/policy.c) and the times users type
 * (common/clock.c).
 *
 * Input: the whole input is a request target, routed and read under
 * every reading, into buffers of every size up to its length plus 2;
 * split at its first NUL it is a header name and value for
 * policy_redacts; as a C string it is a --since argument. Each result is
 * checked against its contract (a read path starts with "/", has no "."
 * or ".." segment and no "//", fits its buffer; a time that parses
 * prints and reads back the same); a broken one traps.
 */
#include "clock.h"
#include "config.h"
#include "policy.h"
#include "route.h"
#include "urlpath.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config *cfg;
static router_t *router;

static const char yaml[] =
    "service_groups:\n"
    "  - name: G\n"
    "    relative_paths:\n"
    "      - { path: /, policy: audit }\n"
    "      - { path: /public, policy: audit }\n"
    "      - { path: /admin, policy: audit }\n"
    "      - { path: /a/b, policy: audit, methods: [GET] }\n"
    "      - { path: /Case, policy: audit, host: h }\n";

static void check_read(const char *p, size_t len, size_t size)
{
    if (len >= size || p[len] != '\0')
        __builtin_trap();
    if (len == 1 && p[0] == '*')
        return;
    if (len < 1 || p[0] != '/')
        __builtin_trap();
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '/')
            continue;
        size_t e = i + 1;
        while (e < len && p[e] != '/')
            e++;
        size_t n = e - i - 1;
        if ((n == 0 && e < len) || (n == 1 && p[i + 1] == '.') ||
            (n == 2 && p[i + 1] == '.' && p[i + 2] == '.'))
            __builtin_trap();
    }
}

static void readings(const uint8_t *data, size_t size)
{
    size_t cap = size + 2;
    char *buf = malloc(cap);
    if (!buf)
        return;
    for (unsigned k = 0; k < URLPATH_READINGS; k++) {
        size_t len = urlpath_read(k, (const char *)data, size, buf, cap);
        check_read(buf, len, cap);
        /* every smaller buffer: cut, never overrun (ASan sees it) */
        for (size_t small = 2; small < cap && small < 40; small++) {
            char *b = malloc(small);
            if (!b)
                break;
            check_read(b, urlpath_read(k, (const char *)data, size, b,
                                       small), small);
            free(b);
        }
    }
    free(buf);
}

static void times(const uint8_t *data, size_t size)
{
    char s[64];
    size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    uint64_t ns, back;
    const char *why = NULL;
    if (clock_parse_time(s, &ns, &why) != 0) {
        if (!why)
            __builtin_trap();
        return;
    }
    char out[40];
    clock_format_rfc3339(ns, out, sizeof(out));
    /* printing keeps microseconds */
    if (clock_parse_time(out, &back, NULL) != 0 ||
        back != ns - ns % 1000)
        __builtin_trap();
    (void)clock_parse_duration(s, &ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!router) {
        char err[256];
        if (config_load_string(yaml, "fuzz", &cfg, err, sizeof(err)) != 0 ||
            !(router = router_new(cfg)))
            abort();
    }
    readings(data, size);
    struct bytes uri = { (const char *)data, (uint32_t)size };
    struct route_match m;
    if (router_match(router, bytes_of("GET"), uri, bytes_of("h"), &m) != 0)
        __builtin_trap(); /* "/" takes every path */
    const uint8_t *nul = memchr(data, 0, size);
    size_t nn = nul ? (size_t)(nul - data) : size;
    struct bytes name = { (const char *)data, (uint32_t)nn };
    struct bytes value = { (const char *)data + (nul ? nn + 1 : nn),
                           (uint32_t)(size - (nul ? nn + 1 : nn)) };
    (void)policy_redacts(&policy_orphan_step, name, value);
    times(data, size);
    return 0;
}
