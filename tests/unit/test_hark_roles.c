/* test_hark_roles.c - `hark run --only`: which stages run on a machine.
 *
 * Table-driven: each case is the --only arguments given, and either the
 * error that names the bad one, or the selection as roles_describe()
 * writes it and which instances run here with four shards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "roles.h"

#include <stdio.h>
#include <string.h>

struct rcase {
    const char *args[3];      /* --only arguments, NULL-ended */
    const char *described;    /* NULL: refused */
    const char *here;         /* ids that run here, in pipeline order */
    const char *error;        /* part of the error when refused */
};

static const struct rcase cases[] = {
    { { NULL }, "all",
      "capture reassemble-0 reassemble-1 reassemble-2 reassemble-3 "
      "dispatch correlate logger", NULL },
    { { "capture" }, "capture", "capture", NULL },
    { { "reassemble" }, "reassemble",
      "reassemble-0 reassemble-1 reassemble-2 reassemble-3", NULL },
    { { "reassemble:0,2" }, "reassemble:0,2", "reassemble-0 reassemble-2",
      NULL },
    { { "reassemble:3,1,dispatch" }, "reassemble:1,3,dispatch",
      "reassemble-1 reassemble-3 dispatch", NULL },
    { { "reassemble-2" }, "reassemble:2", "reassemble-2", NULL },
    { { "logger", "reassemble-0", "correlate" },
      "reassemble:0,correlate,logger", "reassemble-0 correlate logger",
      NULL },
    { { "dispatch,correlate,logger" }, "dispatch,correlate,logger",
      "dispatch correlate logger", NULL },
    { { "reassemble:0", "reassemble" }, "reassemble",
      "reassemble-0 reassemble-1 reassemble-2 reassemble-3", NULL },
    { { "capture,foo" }, NULL, NULL, "'foo' is not a stage" },
    { { "" }, NULL, NULL, "'' is not a stage" },
    { { "capture," }, NULL, NULL, "'' is not a stage" },
    { { "dispatch:1" }, NULL, NULL, "dispatch has no shards" },
    { { "reassemble:x" }, NULL, NULL, "expected a shard number" },
    { { "reassemble:64" }, NULL, NULL, "expected a shard number" },
    { { "reassemble:07" }, NULL, NULL, "expected a shard number" },
    { { "capture,1" }, NULL, NULL, "'1' is not a stage" },
    { { "reassemble-x" }, NULL, NULL, "'reassemble-x' is not a stage" },
    { { "reassemble:4" }, NULL, NULL, "reassemble:4, but the config has 4" },
    { { "reassemble-9" }, NULL, NULL, "reassemble:9, but the config has 4" },
};

static struct config *cfg;

static void test_case(void **state)
{
    const struct rcase *tc = *state;
    struct roles r;
    memset(&r, 0, sizeof(r));
    char err[300] = "", buf[300];
    int rc = 0;
    for (unsigned i = 0; i < 3 && tc->args[i] && rc == 0; i++)
        rc = roles_parse(&r, tc->args[i], err, sizeof(err));
    if (rc == 0)
        rc = roles_check(&r, cfg, err, sizeof(err));
    if (!tc->described) {
        assert_int_not_equal(rc, 0);
        if (!strstr(err, tc->error))
            fail_msg("error '%s' lacks '%s'", err, tc->error);
        return;
    }
    assert_int_equal(rc, 0);
    assert_non_null(roles_describe(&r, cfg, buf, sizeof(buf)));
    assert_string_equal(buf, tc->described);
    char here[300] = "";
    for (unsigned role = 0; role < ROLE_COUNT; role++)
        for (unsigned i = 0; i < topology_instances(cfg, role); i++) {
            char id[48];
            if (!roles_has(&r, role, i))
                continue;
            snprintf(here + strlen(here), sizeof(here) - strlen(here),
                     "%s%s", *here ? " " : "",
                     topology_id(role, i, id, sizeof(id)));
        }
    assert_string_equal(here, tc->here);
    /* every instance here exactly when the role is all here */
    for (unsigned role = 0; role < ROLE_COUNT; role++) {
        bool all = true;
        for (unsigned i = 0; i < topology_instances(cfg, role); i++)
            all &= roles_has(&r, role, i);
        assert_int_equal(roles_all_of(&r, cfg, role), all);
    }
}

static int setup(void **state)
{
    (void)state;
    char err[300];
    return config_load_string("reassemble:\n  shards: 4\n", "r.yaml", &cfg,
                              err, sizeof(err));
}

static int teardown(void **state)
{
    (void)state;
    config_destroy(&cfg);
    return 0;
}

int main(void)
{
    struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0])];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        static char names[sizeof(cases) / sizeof(cases[0])][80];
        snprintf(names[i], sizeof(names[i]), "--only %s%s%s%s%s",
                 cases[i].args[0] ? cases[i].args[0] : "(none)",
                 cases[i].args[1] ? " --only " : "",
                 cases[i].args[1] ? cases[i].args[1] : "",
                 cases[i].args[2] ? " --only " : "",
                 cases[i].args[2] ? cases[i].args[2] : "");
        tests[i] = (struct CMUnitTest){ names[i], test_case, NULL, NULL,
                                        (void *)&cases[i] };
    }
    return _cmocka_run_group_tests("hark_roles", tests,
                                   sizeof(tests) / sizeof(tests[0]), setup,
                                   teardown);
}
