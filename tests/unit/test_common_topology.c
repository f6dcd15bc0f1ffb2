/* test_common_topology.c - the stages' table, their ids and endpoints.
 *
 * The table's shape the supervisor relies on (one row per level, each fed
 * by the one before), process ids, the input, query and tap endpoints a
 * config gives (defaults, explicit, cut to fit), and tcp tap ports that
 * never collide whatever the shard count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct config *load_ok(const char *yaml)
{
    struct config *c = NULL;
    char err[512] = "";
    int rc = config_load_string(yaml, "t.yaml", &c, err, sizeof(err));
    if (rc != 0)
        fail_msg("unexpected error %d: %s\n--- yaml:\n%s", rc, err, yaml);
    assert_non_null(c);
    return c;
}

/* ---- the table ---- */

static void test_table(void **state)
{
    (void)state;
    static const char *const names[ROLE_COUNT] = {
        "capture", "reassemble", "dispatch", "correlate", "logger",
    };
    unsigned sharded = 0;
    for (unsigned r = 0; r < ROLE_COUNT; r++) {
        const struct topology_stage *ts = topology_stage(r);
        assert_int_equal(ts->role, r);
        assert_string_equal(ts->name, names[r]);
        /* the supervisor drains level by level: each level is fed by the
         * one before it, and only capture reads no bus */
        assert_int_equal(ts->level, (int)r);
        assert_true((ts->input == NULL) == (r == ROLE_CAPTURE));
        sharded += ts->sharded;
        /* --shard is for the sharded stage and only for it */
        assert_true(!!(ts->opts & STAGE_OPT_SHARD) == ts->sharded);
    }
    assert_int_equal(sharded, 1);
    assert_true(topology_stage(ROLE_REASSEMBLE)->sharded);
    assert_int_equal(topology_stage(ROLE_CAPTURE)->opts,
                     STAGE_OPT_READ | STAGE_OPT_DEVICE | STAGE_OPT_FILTER |
                         STAGE_OPT_PROMISC);
    assert_int_equal(topology_stage(ROLE_LOGGER)->opts, STAGE_OPT_DB);
    assert_int_equal(topology_stage(ROLE_DISPATCH)->opts, 0);
    assert_int_equal(topology_stage(ROLE_CORRELATE)->opts, 0);
}

static void test_ids(void **state)
{
    (void)state;
    char buf[48];
    assert_string_equal(topology_id(ROLE_REASSEMBLE, 3, buf, sizeof(buf)),
                        "reassemble-3");
    assert_string_equal(topology_id(ROLE_DISPATCH, 3, buf, sizeof(buf)),
                        "dispatch");
    assert_string_equal(topology_id(ROLE_CAPTURE, 0, buf, sizeof(buf)),
                        "capture");
    assert_non_null(topology_id(ROLE_REASSEMBLE, 63, buf, 14));
    assert_null(topology_id(ROLE_REASSEMBLE, 63, buf, 13));
}

/* ---- endpoints ---- */


static void expect_input(const struct config *c, enum topology_role role,
                         unsigned shard, const char *want)
{
    char buf[256];
    const char *got = topology_input(c, role, shard, buf, sizeof(buf));
    const char *name = topology_stage(role)->name;
    if (!want) {
        if (got)
            fail_msg("%s/%u: expected NULL, got %s", name, shard, got);
        return;
    }
    if (!got || strcmp(got, want))
        fail_msg("%s/%u: expected %s, got %s", name, shard, want,
                 got ? got : "NULL");
    assert_ptr_equal(got, buf);
}

static void expect_query(const struct config *c, const char *want)
{
    char buf[256];
    const char *got = topology_query(c, buf, sizeof(buf));
    if (!got || strcmp(got, want))
        fail_msg("query: expected %s, got %s", want, got ? got : "NULL");
}

static void expect_tap(const struct config *c, const char *id,
                       const char *want)
{
    char buf[256];
    const char *got = topology_tap(c, id, buf, sizeof(buf));
    if (!got || strcmp(got, want))
        fail_msg("tap %s: expected %s, got %s", id, want, got ? got : "NULL");
}

static void test_endpoints_default(void **state)
{
    (void)state;
    struct config *c = config_default();
    assert_int_equal(config_set_string(&c->bus.run_dir, "/tmp/hx"), 0);
    expect_input(c, ROLE_REASSEMBLE, 0, "ipc:///tmp/hx/reassemble-0");
    expect_input(c, ROLE_REASSEMBLE, 1, "ipc:///tmp/hx/reassemble-1");
    expect_input(c, ROLE_REASSEMBLE, 2, NULL); /* only 2 shards */
    expect_input(c, ROLE_DISPATCH, 0, "ipc:///tmp/hx/dispatch");
    expect_input(c, ROLE_CORRELATE, 0, "ipc:///tmp/hx/correlate");
    expect_input(c, ROLE_LOGGER, 0, "ipc:///tmp/hx/logger");
    expect_query(c, "ipc:///tmp/hx/query");
    expect_input(c, ROLE_CAPTURE, 0, NULL); /* capture has no input */
    expect_tap(c, "capture", "ipc:///tmp/hx/tap-capture");
    expect_tap(c, "reassemble-1", "ipc:///tmp/hx/tap-reassemble-1");

    char buf[64];
    assert_null(topology_input(c, ROLE_DISPATCH, 0, buf, 22));
    assert_non_null(topology_input(c, ROLE_DISPATCH, 0, buf, 23));
    assert_null(topology_tap(c, "", buf, sizeof(buf)));

    /* ipc paths stop at 107 bytes: "/dispatch" on a 98-byte dir fits. */
    char dir[128];
    memset(dir, 'd', sizeof(dir));
    dir[0] = '/';
    dir[98] = '\0';
    char big[256];
    assert_int_equal(config_set_string(&c->bus.run_dir, dir), 0);
    assert_non_null(topology_input(c, ROLE_DISPATCH, 0, big, sizeof(big)));
    assert_int_equal(strlen(big), strlen("ipc://") + 107);
    dir[98] = 'd';
    dir[99] = '\0';
    assert_int_equal(config_set_string(&c->bus.run_dir, dir), 0);
    assert_null(topology_input(c, ROLE_DISPATCH, 0, big, sizeof(big)));
    assert_null(topology_input(c, ROLE_REASSEMBLE, 0, big, sizeof(big)));
    assert_null(topology_tap(c, "logger", big, sizeof(big)));

    assert_int_equal(config_set_string(&c->bus.run_dir, NULL), 0);
    assert_null(c->bus.run_dir);
    config_destroy(&c);
}

static void test_endpoints_explicit(void **state)
{
    (void)state;
    struct config *c = load_ok(
        "bus:\n"
        "  run_dir: /run/hark\n"
        "  reassemble: [tcp://10.0.0.2:5601, 'tcp://10.0.0.2:5602']\n"
        "  dispatch: tcp://10.0.0.3:5610\n"
        "  logger: ipc:///var/run/hark/logger\n"
        "  query: inproc://query\n");
    expect_input(c, ROLE_REASSEMBLE, 0, "tcp://10.0.0.2:5601");
    expect_input(c, ROLE_REASSEMBLE, 1, "tcp://10.0.0.2:5602");
    expect_input(c, ROLE_DISPATCH, 0, "tcp://10.0.0.3:5610");
    expect_input(c, ROLE_CORRELATE, 0, "ipc:///run/hark/correlate");
    expect_input(c, ROLE_LOGGER, 0, "ipc:///var/run/hark/logger");
    expect_query(c, "inproc://query");
    config_destroy(&c);

    /* One shard may name its endpoint as a plain string. */
    c = load_ok("reassemble: {shards: 1}\n"
                "bus: {reassemble: 'tcp://[::1]:5601'}\n");
    expect_input(c, ROLE_REASSEMBLE, 0, "tcp://[::1]:5601");
    expect_input(c, ROLE_REASSEMBLE, 1, NULL);
    config_destroy(&c);
}

static void test_endpoints_tcp_taps(void **state)
{
    (void)state;
    struct config *c = load_ok("bus:\n  tap_base_port: 7000\n");
    /* Loopback unless the config says otherwise: a tap is no port for
     * the network by default. */
    expect_tap(c, "capture", "tcp://127.0.0.1:7000");
    expect_tap(c, "dispatch", "tcp://127.0.0.1:7001");
    expect_tap(c, "correlate", "tcp://127.0.0.1:7002");
    expect_tap(c, "logger", "tcp://127.0.0.1:7003");
    expect_tap(c, "reassemble-0", "tcp://127.0.0.1:7010");
    expect_tap(c, "reassemble-5", "tcp://127.0.0.1:7015");
    expect_tap(c, "reassemble-63", "tcp://127.0.0.1:7073");
    /* Input endpoints stay ipc: only the taps move to tcp. */
    char want[128];
    snprintf(want, sizeof(want), "ipc://%s/dispatch", c->bus.run_dir);
    expect_input(c, ROLE_DISPATCH, 0, want);
    config_destroy(&c);
}

static void test_endpoints_tap_hash(void **state)
{
    (void)state;
    struct config *c = load_ok("bus:\n  tap_base_port: 65436\n");
    static const char *const ids[] = { "hark", "reassemble-64",
                                       "reassemble-07", "reassemble-",
                                       "my-capture" };
    for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char a[64], b[64];
        assert_non_null(topology_tap(c, ids[i], a, sizeof(a)));
        assert_non_null(topology_tap(c, ids[i], b, sizeof(b)));
        assert_string_equal(a, b); /* stable */
        assert_int_equal(strncmp(a, "tcp://127.0.0.1:", 16), 0);
        int port = atoi(a + 16);
        if (port < 65436 + 80 || port > 65535)
            fail_msg("%s: port %d outside the hashed range", ids[i], port);
    }
    config_destroy(&c);
}

/* Where taps bind (bus.tap_bind) and where a reader connects. */
static void test_tap_bind_and_reader(void **state)
{
    (void)state;
    static const struct {
        const char *bind, *host, *binds, *reads;
    } cases[] = {
        { "127.0.0.1", NULL, "tcp://127.0.0.1:7002", "tcp://127.0.0.1:7002" },
        { "*", NULL, "tcp://*:7002", "tcp://127.0.0.1:7002" },
        { "0.0.0.0", "10.0.0.1", "tcp://0.0.0.0:7002",
          "tcp://10.0.0.1:7002" },
        { "10.0.0.2", NULL, "tcp://10.0.0.2:7002", "tcp://10.0.0.2:7002" },
        { "::", NULL, "tcp://[::]:7002", "tcp://[::1]:7002" },
        { "::1", NULL, "tcp://[::1]:7002", "tcp://[::1]:7002" },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[128], a[64], b[64];
        snprintf(yaml, sizeof(yaml),
                 "bus: {tap_base_port: 7000, tap_bind: \"%s\"}\n",
                 cases[i].bind);
        struct config *c = load_ok(yaml);
        assert_non_null(topology_tap(c, "correlate", a, sizeof(a)));
        assert_string_equal(a, cases[i].binds);
        assert_non_null(topology_tap_reader(c, "correlate", cases[i].host,
                                            b, sizeof(b)));
        assert_string_equal(b, cases[i].reads);
        config_destroy(&c);
    }
    /* ipc taps: the reader uses the same path */
    struct config *c = load_ok("bus: {run_dir: /tmp/hx}\n");
    char r[64];
    assert_non_null(topology_tap_reader(c, "logger", NULL, r, sizeof(r)));
    assert_string_equal(r, "ipc:///tmp/hx/tap-logger");
    config_destroy(&c);
}

/* With tcp taps, every process of the largest pipeline and any other id
 * (the front end) get a port of their own. */
static void test_tap_ports_distinct(void **state)
{
    (void)state;
    struct config *c = load_ok("reassemble: {shards: 64}\n"
                               "bus: {tap_base_port: 7000}\n");
    char ids[ROLE_COUNT + CONFIG_MAX_SHARDS + 1][48];
    unsigned n = 0;
    for (unsigned r = 0; r < ROLE_COUNT; r++)
        for (unsigned i = 0; i < topology_instances(c, r); i++)
            assert_non_null(topology_id(r, i, ids[n++], sizeof(ids[0])));
    assert_int_equal(n, 4 + 64);
    snprintf(ids[n++], sizeof(ids[0]), "hark");
    char ports[sizeof(ids) / sizeof(ids[0])][64];
    for (unsigned i = 0; i < n; i++) {
        assert_non_null(topology_tap(c, ids[i], ports[i], sizeof(ports[0])));
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(ports[i], ports[j]))
                fail_msg("%s and %s share %s", ids[j], ids[i], ports[i]);
    }
    config_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_endpoints_default),
        cmocka_unit_test(test_endpoints_explicit),
        cmocka_unit_test(test_endpoints_tcp_taps),
        cmocka_unit_test(test_endpoints_tap_hash),
        cmocka_unit_test(test_tap_bind_and_reader),
        cmocka_unit_test(test_tap_ports_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
