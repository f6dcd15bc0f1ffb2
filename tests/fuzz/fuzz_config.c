/* fuzz_config.c - libFuzzer target for the config loader (common/config.c,
 * common/ydoc.c, libyaml underneath) and what is built from a config.
 *
 * Input: the bytes of a hark.yaml, NULs included, read through
 * config_load() from a memory file (the path every stage takes). A
 * config that loads is checked: every relative path is in normal form
 * and names a policy that exists, every log step's redact names are
 * tokens; then a router is built from it and a few hostile paths are
 * routed. A load that fails must leave no config and say why.
 */
#include "config.h"
#include "route.h"
#include "urlpath.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

static void check_config(const struct config *c)
{
    for (unsigned g = 0; g < c->n_groups; g++) {
        const struct config_group *grp = &c->groups[g];
        for (unsigned i = 0; i < grp->n_routes; i++) {
            const struct config_route *rt = &grp->routes[i];
            size_t n = strlen(rt->path);
            char *norm = malloc(n + 2);
            if (!norm)
                return;
            size_t len = urlpath_read(URLPATH_RFC3986, rt->path, n, norm,
                                      n + 2);
            if (len != n || memcmp(norm, rt->path, n) ||
                rt->policy_index < 0 ||
                (unsigned)rt->policy_index >= c->n_policies)
                __builtin_trap();
            free(norm);
        }
    }
    for (unsigned p = 0; p < c->n_policies; p++)
        for (unsigned s = 0; s < c->policies[p].n_steps; s++) {
            const struct config_step *st = &c->policies[p].steps[s];
            for (unsigned k = 0; k < st->n_redact; k++)
                if (!st->redact[k] || !*st->redact[k])
                    __builtin_trap();
        }
}

static void route_some(const struct config *c)
{
    static const char *const uris[] = {
        "/", "/public/..%2Fadmin/x", "/a/..;/b", "\\\\x\\\\..\\\\y",
        "/%252e%252e/%c0%ae", "http://h/p?q", "*", "/A/b%00/../c",
    };
    router_t *r = router_new(c);
    if (!r)
        return;
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        struct route_match m;
        if (router_match(r, bytes_of("GET"), bytes_of(uris[i]),
                         bytes_of("h"), &m) == 0 &&
            (!m.route || !m.group || !m.policy))
            __builtin_trap();
    }
    router_destroy(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("fuzz_config", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    struct config *c = NULL;
    char err[512];
    err[0] = '\0';
    int rc = config_load(path, &c, err, sizeof(err));
    if (rc < 0) {
        if (c || !err[0])
            __builtin_trap();
        return 0;
    }
    if (!c)
        __builtin_trap();
    check_config(c);
    route_some(c);
    config_destroy(&c);
    return 0;
}
