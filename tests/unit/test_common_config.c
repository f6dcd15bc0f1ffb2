/* test_common_config.c - the YAML config loader.
 *
 * Defaults, the shipped hark.yaml, every refusal rule (asserting the line
 * and dotted key of its message), sizes and durations. Error
 * cases are one table: {label, yaml, line, key, fragment of the reason}.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define NAME "t.yaml"

static struct config *load_ok(const char *yaml)
{
    struct config *c = NULL;
    char err[512] = "";
    int rc = config_load_string(yaml, NAME, &c, err, sizeof(err));
    if (rc != 0)
        fail_msg("unexpected error %d: %s\n--- yaml:\n%s", rc, err, yaml);
    assert_non_null(c);
    return c;
}

/* ---- defaults ---- */

static void check_seed_policy(const struct config_policy *p)
{
    assert_non_null(p);
    assert_string_equal(p->name, "audit");
    assert_int_equal(p->n_steps, 3);
    assert_int_equal(p->wait_step, 1);
    assert_int_equal(p->steps[0].kind, STEP_LOG);
    assert_int_equal(p->steps[0].message, STEP_MSG_REQUEST);
    assert_string_equal(p->steps[0].label, "Log Request Message");
    assert_int_equal(p->steps[1].kind, STEP_WAIT);
    assert_int_equal(p->steps[1].timeout_ns, 30 * NS_PER_SEC);
    assert_int_equal(p->steps[1].until, WAIT_UNTIL_FIRST_BYTE);
    assert_int_equal(p->steps[1].max_response_ns, 600 * NS_PER_SEC);
    assert_string_equal(p->steps[1].label, "Assemble Response Packets");
    assert_int_equal(p->steps[2].kind, STEP_LOG);
    assert_int_equal(p->steps[2].message, STEP_MSG_RESPONSE);
    assert_string_equal(p->steps[2].label, "Log Response Message");
    for (unsigned i = 0; i < 3; i += 2) {
        const struct config_step *s = &p->steps[i];
        assert_true(s->headers);
        assert_int_equal(s->body_max, 65536);
        assert_int_equal(s->n_redact, 4);
        assert_string_equal(s->redact[0], "Authorization");
        assert_string_equal(s->redact[1], "Proxy-Authorization");
        assert_string_equal(s->redact[2], "Cookie");
        assert_string_equal(s->redact[3], "Set-Cookie");
    }
}

static void check_seed_group(const struct config *c)
{
    assert_int_equal(c->n_groups, 1);
    assert_string_equal(c->groups[0].name, "Packet Sniffer Group");
    assert_int_equal(c->groups[0].n_routes, 1);
    const struct config_route *r = &c->groups[0].routes[0];
    assert_string_equal(r->path, "/");
    assert_null(r->host);
    assert_int_equal(r->n_methods, 0);
    assert_string_equal(r->policy, "audit");
    assert_true(r->policy_index >= 0 &&
                (unsigned)r->policy_index < c->n_policies);
    assert_string_equal(c->policies[r->policy_index].name, "audit");
}

static void test_defaults(void **state)
{
    (void)state;
    struct config *c = config_default();
    assert_non_null(c);
    assert_string_equal(c->source, "(defaults)");
    assert_string_equal(c->capture.device, "any");
    assert_string_equal(c->capture.filter, "tcp");
    assert_false(c->capture.promiscuous);
    assert_int_equal(c->capture.snaplen, 262144);
    assert_int_equal(c->capture.buffer_mb, 32);
    assert_null(c->capture.read);
    assert_int_equal(c->capture.batch_packets, 256);
    assert_int_equal(c->capture.batch_bytes, 256 * 1024);
    assert_int_equal(c->capture.flush_ns, 20 * NS_PER_MS);
    assert_int_equal(c->reassemble.shards, 2);
    assert_int_equal(c->reassemble.max_flows, 262144);
    assert_int_equal(c->reassemble.max_buffered, 1 << 20);
    assert_int_equal(c->reassemble.memcap, 256 << 20);
    assert_int_equal(c->reassemble.max_header_bytes, 64 * 1024);
    assert_int_equal(c->reassemble.max_headers, 128);
    assert_int_equal(c->reassemble.body_max, 1 << 20);
    assert_int_equal(c->reassemble.idle_timeout_ns, 120 * NS_PER_SEC);
    assert_int_equal(c->correlate.max_pending, 262144);
    assert_string_equal(c->logger.db, "hark.db");
    assert_int_equal(c->logger.batch, 512);
    assert_false(c->logger.sync);
    /* never a predictable name in /tmp that `hark run` would use */
    if (geteuid() == 0) {
        assert_string_equal(c->bus.run_dir, "/run/hark");
        assert_false(c->bus.run_dir_private);
    } else if (!getenv("XDG_RUNTIME_DIR")) {
        assert_true(c->bus.run_dir_private);
    }
    assert_null(c->supervisor.run_as);
    assert_null(c->logger.sign_key);
    assert_int_equal(c->logger.checkpoint_records, 10000);
    assert_int_equal(c->logger.checkpoint_interval_ns, 10 * NS_PER_SEC);
    assert_int_equal(c->logger.disk_full_wait_ns, 10 * NS_PER_SEC);
    for (unsigned i = 0; i < CONFIG_MAX_SHARDS; i++)
        assert_null(c->bus.reassemble[i]);
    assert_null(c->bus.dispatch);
    assert_null(c->bus.correlate);
    assert_null(c->bus.logger);
    assert_null(c->bus.query);
    assert_int_equal(c->bus.tap_base_port, 0);
    assert_int_equal(c->supervisor.max_restarts, 5);
    assert_int_equal(c->supervisor.drain_timeout_ns, 30 * NS_PER_SEC);
    assert_int_equal(c->n_policies, 1);
    check_seed_policy(config_policy_find(c, "audit"));
    assert_null(config_policy_find(c, "nope"));
    check_seed_group(c);
    config_destroy(&c);
    assert_null(c);
    config_destroy(&c); /* twice is harmless */
    config_destroy(NULL);
}

static void test_empty_files_keep_defaults(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "", "# nothing but a comment\n", "---\n", "~\n",
        "capture:\nreassemble:\npolicies:\n", "capture: {}\n---\n",
    };
    for (unsigned i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct config *c = load_ok(texts[i]);
        assert_string_equal(c->source, NAME);
        assert_string_equal(c->capture.device, "any");
        assert_int_equal(c->reassemble.shards, 2);
        check_seed_policy(config_policy_find(c, "audit"));
        check_seed_group(c);
        config_destroy(&c);
    }
}

/* ---- the shipped file ---- */

/* hark.yaml beside common/config.h in the working directory or one of its
 * parents, else above the test binary (build/bin/tests/..), so the test
 * runs from the root, from a script or from anywhere else. */
static const char *shipped_path(char *buf, size_t size)
{
    char exe[512] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
    if (slash)
        slash[1] = '\0'; /* keep the directory and its '/' */
    const char *bases[] = { "", exe };
    for (unsigned b = 0; b < 2; b++) {
        char up[64] = "";
        for (unsigned depth = 0; depth < 6; depth++) {
            char probe[1024];
            snprintf(probe, sizeof(probe), "%s%scommon/config.h", bases[b],
                     up);
            if (access(probe, R_OK) == 0) {
                snprintf(buf, size, "%s%shark.yaml", bases[b], up);
                return buf;
            }
            strcat(up, "../");
        }
    }
    return NULL;
}

static void test_shipped_file(void **state)
{
    (void)state;
    char path[512], err[512] = "";
    struct config *c = NULL;
    if (!shipped_path(path, sizeof(path)))
        fail_msg("cannot find the repository root from the working "
                 "directory");
    int rc = config_load(path, &c, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s: %s", path, err);
    assert_string_equal(c->source, path);
    check_seed_policy(config_policy_find(c, "audit"));
    assert_int_equal(c->n_policies, 1);
    check_seed_group(c);
    assert_string_equal(c->logger.db, "hark.db");

    /* The file says its values are the defaults: hold it to that. */
    struct config *d = config_default();
    assert_non_null(d);
    assert_string_equal(c->capture.device, d->capture.device);
    assert_string_equal(c->capture.filter, d->capture.filter);
    assert_null(c->capture.read);
    /* copies with the owned strings (compared above) cleared */
    struct config_capture cc = c->capture, dc = d->capture;
    cc.device = cc.filter = dc.device = dc.filter = NULL;
    assert_memory_equal(&cc, &dc, sizeof(cc));
    assert_memory_equal(&c->reassemble, &d->reassemble,
                        sizeof(c->reassemble));
    assert_memory_equal(&c->correlate, &d->correlate, sizeof(c->correlate));
    assert_int_equal(c->logger.batch, d->logger.batch);
    assert_int_equal(c->logger.sync, d->logger.sync);
    assert_null(c->logger.sign_key);
    assert_int_equal(c->logger.checkpoint_records,
                     d->logger.checkpoint_records);
    assert_int_equal(c->logger.checkpoint_interval_ns,
                     d->logger.checkpoint_interval_ns);
    assert_int_equal(c->logger.disk_full_wait_ns,
                     d->logger.disk_full_wait_ns);
    assert_string_equal(c->bus.run_dir, d->bus.run_dir);
    assert_int_equal(c->bus.run_dir_private, d->bus.run_dir_private);
    assert_null(c->bus.dispatch);
    assert_null(c->bus.reassemble[0]);
    assert_int_equal(c->bus.tap_base_port, 0);
    assert_memory_equal(&c->supervisor, &d->supervisor,
                        sizeof(c->supervisor));
    config_destroy(&d);
    config_destroy(&c);
}

/* ---- refusals ---- */

struct error_case {
    const char *label;
    const char *yaml;
    int line;
    const char *key;
    const char *fragment;
};

#define GROUP "service_groups:\n  - name: G\n    relative_paths:\n"
#define POLICY "policies:\n  p:\n"

static const struct error_case error_cases[] = {
    { "unknown top-level key", "captur:\n  device: x\n", 1, "captur",
      "unknown key (expected one of capture, reassemble, service_groups" },
    { "unknown nested key", "capture:\n  device: eth0\n  devise: eth1\n", 3,
      "capture.devise", "unknown key (expected one of device, filter," },
    { "section not a mapping", "capture: eth0\n", 1, "capture",
      "expected a mapping of capture settings, found 'eth0'" },
    { "top level not a mapping", "- capture\n", 1, "(top level)",
      "expected a mapping of sections, found a list" },
    { "not an integer", "capture:\n  snaplen: big\n", 2, "capture.snaplen",
      "wrong type (expected an integer, found 'big')" },
    { "integer with a unit", "logger:\n  batch: 12k\n", 2, "logger.batch",
      "expected an integer, found '12k'" },
    { "integer too small", "capture:\n  snaplen: 10\n", 2, "capture.snaplen",
      "out of range (expected 64..262144, found '10')" },
    { "negative integer", "reassemble:\n  shards: -1\n", 2,
      "reassemble.shards", "out of range (expected 1..64, found '-1')" },
    { "too many shards", "reassemble:\n  shards: 65\n", 2,
      "reassemble.shards", "out of range (expected 1..64, found '65')" },
    { "integer past 64 bits",
      "supervisor:\n  max_restarts: 99999999999999999999999\n", 2,
      "supervisor.max_restarts", "out of range (expected 0..1000" },
    { "too many headers", "reassemble:\n  max_headers: 257\n", 2,
      "reassemble.max_headers", "out of range (expected 1..256" },
    { "tap port leaves no room", "bus:\n  tap_base_port: 65500\n", 2,
      "bus.tap_base_port", "out of range (expected 0..65436" },
    { "not a boolean", "capture:\n  promiscuous: maybe\n", 2,
      "capture.promiscuous", "expected a boolean (true or false), found "
      "'maybe'" },
    { "not a size", "reassemble:\n  memcap: lots\n", 2, "reassemble.memcap",
      "expected a size such as 65536, 64KiB, 1MiB or 1GiB, found 'lots'" },
    { "size out of range", "capture:\n  batch_bytes: 32MiB\n", 2,
      "capture.batch_bytes",
      "out of range (expected 1KiB..16MiB, found '32MiB')" },
    { "max_buffered above memcap",
      "reassemble:\n  memcap: 2MiB\n  max_buffered: 3MiB\n", 3,
      "reassemble.max_buffered", "expected max_buffered <= memcap, found "
      "3MiB > 2MiB" },
    { "memcap below the default max_buffered",
      "reassemble:\n  memcap: 1MiB\n  max_buffered: 2MiB\n", 3,
      "reassemble.max_buffered", "found 2MiB > 1MiB" },
    { "not a duration", "reassemble:\n  idle_timeout: soon\n", 2,
      "reassemble.idle_timeout", "expected a duration such as 250ms, 30s, "
      "5m or 1h, found 'soon'" },
    { "duration out of range", "capture:\n  flush: 1m\n", 2, "capture.flush",
      "out of range (expected 1ms..10s, found '1m')" },
    { "list for a string", "capture:\n  device: [a, b]\n", 2,
      "capture.device", "wrong type (expected a string, found a list)" },
    { "mapping for an integer", "capture:\n  snaplen: {a: 1}\n", 2,
      "capture.snaplen", "expected an integer, found a mapping" },
    { "empty string", "capture:\n  device: \"\"\n", 2, "capture.device",
      "empty string (expected a non-empty string)" },
    { "nothing for a required string", "logger:\n  sync: true\n  db: ~\n", 3,
      "logger.db", "expected a string, found nothing" },
    { "NUL byte in a string", "capture:\n  device: \"et\\0h0\"\n", 2,
      "capture.device", "contains a NUL byte" },
    { "duplicate key", "capture:\n  device: a\n  device: b\n", 3,
      "capture.device", "duplicate key (expected each key once, found it "
      "again after line 2)" },
    { "duplicate section", "logger: {}\ncapture: {}\nlogger: {}\n", 3,
      "logger", "duplicate key" },
    { "duplicate policy", POLICY "    - log: request\n  p:\n"
      "    - log: request\n", 4, "policies.p", "duplicate key" },
    { "path not starting with /",
      GROUP "      - path: a\n        policy: audit\n", 4,
      "service_groups[0].relative_paths[0].path",
      "not a relative path (expected a path starting with '/', found 'a')" },
    { "route to an unknown policy",
      GROUP "      - path: /\n        policy: nope\n", 5,
      "service_groups[0].relative_paths[0].policy",
      "unknown policy (expected one of audit, found 'nope')" },
    { "route without a policy", GROUP "      - path: /\n", 4,
      "service_groups[0].relative_paths[0]", "missing key 'policy'" },
    { "route with an unknown key",
      GROUP "      - path: /\n        policy: audit\n        hots: a\n", 6,
      "service_groups[0].relative_paths[0].hots",
      "unknown key (expected one of path, policy, host, methods)" },
    { "method not a token",
      GROUP "      - path: /\n        policy: audit\n"
      "        methods: [GET, \"PO ST\"]\n", 6,
      "service_groups[0].relative_paths[0].methods[1]",
      "not an HTTP token" },
    { "empty method list",
      GROUP "      - path: /\n        policy: audit\n        methods: []\n",
      6, "service_groups[0].relative_paths[0].methods",
      "empty list (expected at least one method" },
    { "empty host",
      GROUP "      - path: /\n        policy: audit\n        host: ''\n", 6,
      "service_groups[0].relative_paths[0].host", "empty string" },
    { "duplicate route",
      GROUP "      - path: /a\n        policy: audit\n"
      "      - path: /a\n        policy: audit\n", 6,
      "service_groups[0].relative_paths[1]",
      "duplicate relative path (expected each path, host and methods once "
      "per group, found '/a' again after line 4)" },
    /* relative paths are written in normal form, and no two of them are
     * one path to some server */
    { "dot segments in a relative path",
      GROUP "      - path: /a/../b\n        policy: audit\n", 4,
      "service_groups[0].relative_paths[0].path",
      "not in normal form (expected '/b', found '/a/../b')" },
    { "escaped unreserved character",
      GROUP "      - path: /%61dmin\n        policy: audit\n", 4,
      "service_groups[0].relative_paths[0].path",
      "not in normal form (expected '/admin', found '/%61dmin')" },
    { "lower-case escape", GROUP "      - {path: /a%2fb, policy: audit}\n", 4,
      "service_groups[0].relative_paths[0].path",
      "not in normal form (expected '/a%2Fb'" },
    { "double slash", GROUP "      - {path: //a, policy: audit}\n", 4,
      "service_groups[0].relative_paths[0].path",
      "not in normal form (expected '/a'" },
    { "query in a relative path", GROUP "      - {path: /a?x, policy: audit}\n",
      4, "service_groups[0].relative_paths[0].path",
      "not in normal form (expected '/a'" },
    { "trailing slash: the same subtree",
      GROUP "      - {path: /a, policy: audit}\n"
      "      - {path: /a/, policy: audit}\n", 5,
      "service_groups[0].relative_paths[1].path",
      "the same relative path as service_groups[0].relative_paths[0] (line "
      "4) once normalised (expected paths no server reads alike, found "
      "'/a/' and '/a', both '/a' to the rfc3986 reading" },
    { "case: one path to IIS",
      GROUP "      - {path: /admin, policy: audit}\n"
      "      - {path: /Admin, policy: audit}\n", 5,
      "service_groups[0].relative_paths[1].path",
      "found '/Admin' and '/admin', both '/admin' to the windows reading: "
      "IIS" },
    { "encoded slash: one path to nginx",
      GROUP "      - {path: /a/b, policy: audit}\n"
      "      - {path: /a%2Fb, policy: audit}\n", 5,
      "service_groups[0].relative_paths[1].path",
      "both '/a/b' to the decoded reading: nginx, Python http.server" },
    { "path parameter: one path to Tomcat",
      GROUP "      - {path: /a, policy: audit}\n"
      "      - {path: /a;x, policy: audit}\n", 5,
      "service_groups[0].relative_paths[1].path",
      "both '/a' to the servlet reading: Tomcat" },
    { "the same path in two groups",
      GROUP "      - {path: /x, policy: audit}\n"
      "  - name: H\n    relative_paths: [{path: /x, policy: audit}]\n", 6,
      "service_groups[1].relative_paths[0].path",
      "the same relative path as service_groups[0].relative_paths[0] (line "
      "4)" },
    { "group without relative paths", "service_groups:\n  - name: G\n", 2,
      "service_groups[0].relative_paths", "missing (expected a list of "
      "relative paths" },
    { "group without a name",
      "service_groups:\n  - relative_paths: []\n", 2, "service_groups[0]",
      "missing key 'name'" },
    { "no groups", "service_groups: []\n", 1, "service_groups",
      "empty list (expected a list of at least one service group" },
    { "duplicate group names",
      GROUP "      - {path: /, policy: audit}\n"
      "  - name: G\n    relative_paths: [{path: /b, policy: audit}]\n", 5,
      "service_groups[1].name",
      "duplicate group name (expected a name no other group has, found 'G' "
      "again after line 2)" },
    { "policy with no steps", POLICY "    []\n", 3, "policies.p",
      "policy has no steps" },
    { "policy with nothing", "policies:\n  p: ~\n", 2, "policies.p",
      "policy has no steps (expected a list with log and "
      "wait_for_response steps, found nothing)" },
    { "policy not a list", "policies:\n  p: log\n", 2, "policies.p",
      "expected a list of steps, found 'log'" },
    { "step with two filters",
      POLICY "    - log: request\n      wait_for_response: 1s\n", 3,
      "policies.p[0]", "not one step (expected exactly one of log, "
      "wait_for_response, found 2 keys)" },
    { "unknown step", POLICY "    - log: request\n    - drop: yes\n", 4,
      "policies.p[1].drop",
      "unknown key (expected one of log, wait_for_response)" },
    { "step as a bare word", POLICY "    - log\n", 3, "policies.p[0]",
      "not a step (expected a mapping with one key, log or "
      "wait_for_response, found 'log')" },
    { "empty step", POLICY "    - {}\n", 3, "policies.p[0]",
      "found 0 keys" },
    { "log of something else", POLICY "    - log: everything\n", 3,
      "policies.p[0].log",
      "unknown message (expected request or response, found 'everything')" },
    { "log with nothing", POLICY "    - log:\n", 3, "policies.p[0].log",
      "found nothing" },
    { "log long form without message",
      POLICY "    - log:\n        body: 1KiB\n", 4, "policies.p[0].log",
      "missing key 'message'" },
    { "log long form unknown key",
      POLICY "    - log:\n        message: request\n        bodyy: 1\n", 5,
      "policies.p[0].log.bodyy",
      "unknown key (expected one of message, label, headers, body, redact)" },
    { "log long form bad message",
      POLICY "    - log: {message: both}\n", 3, "policies.p[0].log.message",
      "expected request or response" },
    { "redact not a list",
      POLICY "    - log: {message: request, redact: Cookie}\n", 3,
      "policies.p[0].log.redact", "expected a list of header names" },
    { "redact entry not a token",
      POLICY "    - log:\n        message: request\n"
      "        redact: [Cookie, \"X: 1\"]\n", 5,
      "policies.p[0].log.redact[1]", "not an HTTP token" },
    { "log body size", POLICY "    - log: {message: request, body: 2GiB}\n",
      3, "policies.p[0].log.body", "out of range (expected 0..1GiB" },
    { "two waits",
      POLICY "    - wait_for_response: 1s\n    - log: response\n"
      "    - wait_for_response: 2s\n", 5, "policies.p[2]",
      "second wait_for_response (expected one per policy, the first is at "
      "line 3)" },
    { "log response before the wait",
      POLICY "    - log: request\n    - log: response\n"
      "    - wait_for_response: {}\n", 4, "policies.p[1]",
      "log: response before any wait_for_response" },
    { "log response without any wait",
      POLICY "    - log:\n        message: response\n", 3, "policies.p[0]",
      "no response to log" },
    { "wait timeout not a duration",
      POLICY "    - wait_for_response: forever\n", 3,
      "policies.p[0].wait_for_response", "expected a duration" },
    { "wait long form timeout out of range",
      POLICY "    - wait_for_response:\n        timeout: 2d\n", 4,
      "policies.p[0].wait_for_response.timeout", "expected a duration" },
    { "wait long form unknown key",
      POLICY "    - wait_for_response: {timeot: 1s}\n", 3,
      "policies.p[0].wait_for_response.timeot",
      "unknown key (expected one of timeout, until, max_response, "
      "label)" },
    { "wait until neither byte",
      POLICY "    - wait_for_response: {until: headers}\n", 3,
      "policies.p[0].wait_for_response.until",
      "unknown value (expected one of first_byte, last_byte, found "
      "'headers')" },
    { "wait ceiling not a duration",
      POLICY "    - wait_for_response: {max_response: long}\n", 3,
      "policies.p[0].wait_for_response.max_response",
      "expected a duration" },
    { "wait ceiling shorter than the timeout",
      POLICY "    - wait_for_response: {timeout: 5s, max_response: 2s}\n",
      3, "policies.p[0].wait_for_response.max_response",
      "shorter than the timeout (expected at least '5s', found '2s')" },
    { "wait ceiling shorter than the default timeout",
      POLICY "    - wait_for_response:\n        max_response: 10s\n", 4,
      "policies.p[0].wait_for_response.max_response",
      "shorter than the timeout (expected at least the default timeout, "
      "30s, found '10s')" },
    { "wait as a list", POLICY "    - wait_for_response: [1s]\n", 3,
      "policies.p[0].wait_for_response", "found a list" },
    { "empty policy name", "policies:\n  \"\": [log: request]\n", 2,
      "policies", "empty policy name" },
    { "endpoint of another transport", "bus:\n  dispatch: http://x:1\n", 2,
      "bus.dispatch", "not an endpoint (expected ipc://PATH, "
      "tcp://HOST:PORT or inproc://NAME, found 'http://x:1')" },
    { "tcp endpoint without a port", "bus:\n  logger: tcp://host\n", 2,
      "bus.logger", "not an endpoint" },
    { "empty ipc endpoint", "bus:\n  query: ipc://\n", 2, "bus.query",
      "not an endpoint" },
    { "ipc endpoint too long",
      "bus:\n  correlate: ipc:///tmp/"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", 2, "bus.correlate",
      "ipc path too long (expected at most 107 bytes, found 108)" },
    { "more reassemble endpoints than shards",
      "bus:\n  reassemble: [tcp://a:1, tcp://a:2, tcp://a:3]\n", 2,
      "bus.reassemble", "wrong number of endpoints (expected 2, one per "
      "reassemble.shards, found 3)" },
    { "fewer reassemble endpoints than shards",
      "reassemble:\n  shards: 3\nbus:\n  reassemble:\n    - tcp://a:1\n", 5,
      "bus.reassemble", "expected 3, one per reassemble.shards, found 1" },
    { "shards counted whatever the order",
      "bus:\n  reassemble: [tcp://a:1]\nreassemble:\n  shards: 3\n", 2,
      "bus.reassemble", "expected 3, one per reassemble.shards, found 1" },
    { "one endpoint string for two shards",
      "bus:\n  reassemble: tcp://a:1\n", 2, "bus.reassemble",
      "one endpoint for 2 shards (expected a list of 2 endpoints" },
    { "bad reassemble endpoint",
      "bus:\n  reassemble:\n    - tcp://a:1\n    - udp://a:2\n", 4,
      "bus.reassemble[1]", "not an endpoint" },
    { "peers as a list", "bus:\n  peers: [10.0.0.1]\n", 2, "bus.peers",
      "wrong type (expected a mapping of hosts to CURVE public keys" },
    { "peer key that is no key",
      "bus:\n  peers:\n    10.0.0.1: curve 0123456789\n", 3,
      "bus.peers.10.0.0.1", "not a CURVE public key" },
    { "peer host that is a url",
      "bus:\n  peers:\n    tcp://10.0.0.1: web.curve.pub\n", 3,
      "bus.peers", "not a host (expected an address or name" },
    { "peer without a key", "bus:\n  peers:\n    10.0.0.1:\n", 3,
      "bus.peers.10.0.0.1", "expected" },
    { "insecure not a boolean", "bus:\n  insecure: please\n", 2,
      "bus.insecure", "expected a boolean" },
    { "a second document", "capture: {}\n---\nlogger: {}\n", 2,
      "(top level)", "more than one YAML document" },
    { "a third document after an empty one",
      "capture: {}\n---\n---\nlogger: {}\n", 3, "(top level)",
      "more than one YAML document" },
};

static void test_errors(void **state)
{
    (void)state;
    for (unsigned i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]);
         i++) {
        const struct error_case *t = &error_cases[i];
        struct config *c = (struct config *)1;
        char err[512] = "", prefix[256];
        int rc = config_load_string(t->yaml, NAME, &c, err, sizeof(err));
        snprintf(prefix, sizeof(prefix), NAME ":%d: %s: ", t->line, t->key);
        if (rc != -EINVAL || c != NULL ||
            strncmp(err, prefix, strlen(prefix)) ||
            !strstr(err + strlen(prefix), t->fragment))
            fail_msg("%s: rc %d, message\n  %s\nexpected\n  %s...%s",
                     t->label, rc, err, prefix, t->fragment);
    }
}

/* Syntax errors come from libyaml: only the line is ours to check. */
static void test_syntax_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        int line;
    } cases[] = {
        { "capture:\n  device: any\n filter: tcp\n", 3 },
        { "capture:\n\tdevice: any\n", 2 },
        { "policies:\n  audit: [log: request\n", 3 },
        { "logger:\n  db: \"hark.db\n", 3 },
        { "a: b: c\n", 1 },
        { "capture:\n  device: \xff\xfe\n", 2 }, /* not UTF-8 */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config *c = NULL;
        char err[512] = "", prefix[64];
        int rc = config_load_string(cases[i].yaml, NAME, &c, err,
                                    sizeof(err));
        snprintf(prefix, sizeof(prefix), NAME ":%d: YAML syntax error: ",
                 cases[i].line);
        if (rc != -EINVAL || c || strncmp(err, prefix, strlen(prefix)))
            fail_msg("case %u: rc %d, message\n  %s\nexpected\n  %s...", i,
                     rc, err, prefix);
    }
}

static void test_file_errors(void **state)
{
    (void)state;
    struct config *c = NULL;
    char err[512];
    int rc = config_load("/nonexistent/hark.yaml", &c, err, sizeof(err));
    assert_int_equal(rc, -ENOENT);
    assert_null(c);
    assert_string_equal(err, "/nonexistent/hark.yaml: cannot read: "
                             "No such file or directory");
    rc = config_load("/", &c, err, sizeof(err));
    assert_int_equal(rc, -EISDIR);
    assert_string_equal(err, "/: cannot read: Is a directory");

    /* A file's messages carry its path. */
    char path[] = "/tmp/test_common_config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "logger:\n  batch: 0\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
    close(fd);
    rc = config_load(path, &c, err, sizeof(err));
    unlink(path);
    assert_int_equal(rc, -EINVAL);
    char want[128];
    snprintf(want, sizeof(want), "%s:2: logger.batch: out of range "
             "(expected 1..65536, found '0')", path);
    assert_string_equal(err, want);

    /* Messages fit the buffer they are given, or none at all. */
    char tiny[12];
    memset(tiny, 'x', sizeof(tiny));
    rc = config_load_string("capture:\n  snaplen: 1\n", NAME, &c, tiny,
                            sizeof(tiny));
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(tiny, "t.yaml:2: c");
    rc = config_load_string("capture:\n  snaplen: 1\n", NAME, &c, NULL, 0);
    assert_int_equal(rc, -EINVAL);
    assert_null(c);
}

/* ---- values ---- */

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
        bool ok;
    } cases[] = {
        { "0", 0, true },          { "1", 1, true },
        { "4096", 4096, true },    { "1B", 1, true },
        { "1K", 1024, true },      { "1KB", 1024, true },
        { "1kib", 1024, true },    { "1KiB", 1024, true },
        { "2 MiB", 2u << 20, true }, { "2MB", 2u << 20, true },
        { "3GB", 3ull << 30, true }, { "4GiB", 4ull << 30, true },
        { "'64KiB'", 65536, true },
        { "1.5MiB", 0, false },    { "1TB", 0, false },
        { "-1", 0, false },        { "MiB", 0, false },
        { "1 MiBx", 0, false },    { "0x10", 0, false },
        { "5GiB", 0, false },      /* above the 4GiB cap */
        { "18446744073709551615GiB", 0, false },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[256], err[512] = "";
        snprintf(yaml, sizeof(yaml),
                 "reassemble:\n  memcap: 1024GiB\n  max_buffered: %s\n",
                 cases[i].text);
        struct config *c = NULL;
        int rc = config_load_string(yaml, NAME, &c, err, sizeof(err));
        if (cases[i].ok) {
            if (rc != 0)
                fail_msg("%s: %s", cases[i].text, err);
            assert_int_equal(c->reassemble.max_buffered, cases[i].bytes);
            assert_int_equal(c->reassemble.memcap, 1024ull << 30);
        } else if (rc != -EINVAL ||
                   !strstr(err, "t.yaml:3: reassemble.max_buffered: ")) {
            fail_msg("%s: accepted or wrong message: %s", cases[i].text,
                     err);
        }
        config_destroy(&c);
    }
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t ns;
        bool ok;
    } cases[] = {
        { "250ms", 250 * NS_PER_MS, true },
        { "30s", 30 * NS_PER_SEC, true },
        { "5m", 300 * NS_PER_SEC, true },
        { "1h", 3600 * NS_PER_SEC, true },
        { "45", 45 * NS_PER_SEC, true },
        { "1.5s", 1500 * NS_PER_MS, true },
        { "2000us", 2 * NS_PER_MS, true },
        { "\"10s\"", 10 * NS_PER_SEC, true },
        { "100us", 0, false }, /* below 1ms */
        { "25h", 0, false },   /* above 24h */
        { "0", 0, false },     { "forever", 0, false },
        { "1e3", 0, false },   { "nan", 0, false },
        { "-1s", 0, false },   { "0x10", 0, false },
        { "10 s", 0, false },  { "1d", 0, false },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[256], err[512] = "";
        snprintf(yaml, sizeof(yaml), POLICY "    - wait_for_response: %s\n",
                 cases[i].text);
        struct config *c = NULL;
        int rc = config_load_string(yaml, NAME, &c, err, sizeof(err));
        if (cases[i].ok) {
            if (rc != 0)
                fail_msg("%s: %s", cases[i].text, err);
            const struct config_policy *p = config_policy_find(c, "p");
            assert_non_null(p);
            assert_int_equal(p->steps[0].timeout_ns, cases[i].ns);
        } else if (rc != -EINVAL ||
                   !strstr(err, "t.yaml:3: policies.p[0].wait_for_response:"
                                " ")) {
            fail_msg("%s: accepted or wrong message: %s", cases[i].text,
                     err);
        }
        config_destroy(&c);
    }
}

static void test_scalar_sections(void **state)
{
    (void)state;
    struct config *c = load_ok(
        "# the order of sections does not matter\n"
        "supervisor: {max_restarts: 0, drain_timeout: 2m, run_as: audit}\n"
        "logger:\n  db: /var/lib/hark/trail\n  batch: 64\n  sync: yes\n"
        "  sign_key: /etc/hark/logger.sign\n  checkpoint_records: 500\n"
        "  checkpoint_interval: 1m\n  disk_full_wait: 0s\n"
        "bus:\n  run_dir: /run/hark-audit\n"
        "correlate:\n  max_pending: 1000\n"
        "capture:\n"
        "  device: eth1\n"
        "  filter: tcp port 80 and not src host 10.0.0.9\n"
        "  promiscuous: true\n"
        "  snaplen: 65535\n"
        "  buffer_mb: 128\n"
        "  read: traffic.pcapng\n"
        "  batch_packets: 64\n"
        "  batch_bytes: 1MiB\n"
        "  flush: 5ms\n"
        "reassemble:\n"
        "  shards: 4\n"
        "  max_flows: 1000\n"
        "  max_buffered: 64KiB\n"
        "  memcap: 1GiB\n"
        "  max_header_bytes: 8KiB\n"
        "  max_headers: 256\n"
        "  body_max: 0\n"
        "  idle_timeout: 5m\n");
    assert_string_equal(c->capture.device, "eth1");
    assert_string_equal(c->capture.filter,
                        "tcp port 80 and not src host 10.0.0.9");
    assert_true(c->capture.promiscuous);
    assert_int_equal(c->capture.snaplen, 65535);
    assert_int_equal(c->capture.buffer_mb, 128);
    assert_string_equal(c->capture.read, "traffic.pcapng");
    assert_int_equal(c->capture.batch_packets, 64);
    assert_int_equal(c->capture.batch_bytes, 1 << 20);
    assert_int_equal(c->capture.flush_ns, 5 * NS_PER_MS);
    assert_int_equal(c->reassemble.shards, 4);
    assert_int_equal(c->reassemble.max_flows, 1000);
    assert_int_equal(c->reassemble.max_buffered, 64 * 1024);
    assert_int_equal(c->reassemble.memcap, 1ull << 30);
    assert_int_equal(c->reassemble.max_header_bytes, 8 * 1024);
    assert_int_equal(c->reassemble.max_headers, 256);
    assert_int_equal(c->reassemble.body_max, 0);
    assert_int_equal(c->reassemble.idle_timeout_ns, 300 * NS_PER_SEC);
    assert_int_equal(c->correlate.max_pending, 1000);
    assert_string_equal(c->logger.db, "/var/lib/hark/trail");
    assert_int_equal(c->logger.batch, 64);
    assert_true(c->logger.sync);
    assert_string_equal(c->logger.sign_key, "/etc/hark/logger.sign");
    assert_int_equal(c->logger.checkpoint_records, 500);
    assert_int_equal(c->logger.checkpoint_interval_ns, 60 * NS_PER_SEC);
    assert_int_equal(c->logger.disk_full_wait_ns, 0);
    assert_string_equal(c->bus.run_dir, "/run/hark-audit");
    assert_false(c->bus.run_dir_private);
    assert_int_equal(c->supervisor.max_restarts, 0);
    assert_int_equal(c->supervisor.drain_timeout_ns, 120 * NS_PER_SEC);
    assert_string_equal(c->supervisor.run_as, "audit");
    config_destroy(&c);

    /* An empty filter captures everything; null unsets read. */
    c = load_ok("capture:\n  filter: ''\n  read: ~\n  promiscuous: Off\n");
    assert_string_equal(c->capture.filter, "");
    assert_null(c->capture.read);
    assert_false(c->capture.promiscuous);
    config_destroy(&c);
}

/* CurveZMQ settings: the secret key file, peers by host (a file or an
 * inline key), insecure, and where taps bind. */
static void test_bus_keys(void **state)
{
    (void)state;
    char pub[41], sec[41], yaml[512];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    struct config *c = load_ok("bus: {}\n");
    assert_null(c->bus.curve_key);
    assert_int_equal(c->bus.n_peers, 0);
    assert_false(c->bus.insecure);
    assert_string_equal(c->bus.tap_bind, "127.0.0.1");
    config_destroy(&c);

    snprintf(yaml, sizeof(yaml),
             "bus:\n"
             "  curve_key: /etc/hark/this.curve\n"
             "  peers:\n"
             "    10.0.0.1: /etc/hark/web.curve.pub\n"
             "    10.0.0.2: \"curve %s\"\n"
             "    analysis.example: \"%s\"\n"
             "  insecure: false\n"
             "  tap_bind: \"*\"\n", pub, pub);
    c = load_ok(yaml);
    assert_string_equal(c->bus.curve_key, "/etc/hark/this.curve");
    assert_int_equal(c->bus.n_peers, 3);
    assert_string_equal(c->bus.peers[0].host, "10.0.0.1");
    assert_string_equal(c->bus.peers[0].key, "/etc/hark/web.curve.pub");
    assert_string_equal(c->bus.peers[1].host, "10.0.0.2");
    assert_int_equal(strncmp(c->bus.peers[1].key, "curve ", 6), 0);
    assert_string_equal(c->bus.peers[2].host, "analysis.example");
    assert_string_equal(c->bus.peers[2].key, pub);
    assert_string_equal(c->bus.tap_bind, "*");
    config_destroy(&c);

    /* A later file's peers replace the whole list; null clears it. */
    c = load_ok("bus:\n  peers: ~\n  insecure: yes\n");
    assert_int_equal(c->bus.n_peers, 0);
    assert_true(c->bus.insecure);
    config_destroy(&c);
}

static void test_groups_and_routes(void **state)
{
    (void)state;
    struct config *c = load_ok(
        "service_groups:\n"
        "  - name: Packet Sniffer Group\n"
        "    relative_paths:\n"
        "      - path: /\n"
        "        policy: audit\n"
        "      - path: /a\n"
        "        policy: quiet\n"
        "        host: api.example.com\n"
        "        methods: &rw [GET, POST]\n"
        "      - path: /a\n"
        "        policy: quiet\n"
        "        host: admin.example.com\n"
        "  - name: Admin\n"
        "    relative_paths:\n"
        "      - {path: /admin, policy: audit, methods: DELETE}\n"
        "      - {path: /admin/users, policy: quiet, methods: *rw}\n"
        "policies:\n"
        "  quiet:\n"
        "    - log: request\n");
    assert_int_equal(c->n_policies, 2);
    assert_int_equal(c->n_groups, 2);
    int audit = (int)(config_policy_find(c, "audit") - c->policies);
    int quiet = (int)(config_policy_find(c, "quiet") - c->policies);
    assert_int_not_equal(audit, quiet);
    check_seed_policy(&c->policies[audit]);
    assert_int_equal(c->policies[quiet].n_steps, 1);
    assert_int_equal(c->policies[quiet].wait_step, -1);

    const struct config_group *g = &c->groups[0];
    assert_string_equal(g->name, "Packet Sniffer Group");
    assert_int_equal(g->n_routes, 3);
    assert_string_equal(g->routes[0].path, "/");
    assert_null(g->routes[0].host);
    assert_int_equal(g->routes[0].n_methods, 0);
    assert_int_equal(g->routes[0].policy_index, audit);
    assert_string_equal(g->routes[1].path, "/a");
    assert_string_equal(g->routes[1].host, "api.example.com");
    assert_int_equal(g->routes[1].n_methods, 2);
    assert_string_equal(g->routes[1].methods[0], "GET");
    assert_string_equal(g->routes[1].methods[1], "POST");
    assert_string_equal(g->routes[1].policy, "quiet");
    assert_int_equal(g->routes[1].policy_index, quiet);
    assert_string_equal(g->routes[2].host, "admin.example.com");
    assert_int_equal(g->routes[2].policy_index, quiet);

    g = &c->groups[1];
    assert_string_equal(g->name, "Admin");
    assert_int_equal(g->n_routes, 2);
    assert_string_equal(g->routes[0].path, "/admin");
    assert_int_equal(g->routes[0].n_methods, 1);
    assert_string_equal(g->routes[0].methods[0], "DELETE");
    assert_int_equal(g->routes[0].policy_index, audit);
    assert_string_equal(g->routes[1].path, "/admin/users");
    assert_int_equal(g->routes[1].n_methods, 2); /* through the alias */
    assert_string_equal(g->routes[1].methods[1], "POST");
    assert_int_equal(g->routes[1].policy_index, quiet);
    config_destroy(&c);
}

static void test_policy_forms(void **state)
{
    (void)state;
    /* Overriding audit keeps the default group pointing at it. */
    struct config *c = load_ok("policies:\n  audit:\n    - log: request\n");
    assert_int_equal(c->n_policies, 1);
    const struct config_policy *p = config_policy_find(c, "audit");
    assert_int_equal(p->n_steps, 1);
    assert_int_equal(p->wait_step, -1);
    check_seed_group(c);
    config_destroy(&c);

    c = load_ok(
        "policies:\n"
        "  full:\n"
        "    - log:\n"
        "        message: request\n"
        "        label: Log Request Message Payload\n"
        "        headers: false\n"
        "        body: 0\n"
        "        redact: [X-Api-Key]\n"
        "    - wait_for_response:\n"
        "        timeout: 5s\n"
        "        label: Assemble response packets\n"
        "    - log: {message: response, body: 1MiB, redact: []}\n"
        "    - log: request\n"
        "  bare:\n"
        "    - wait_for_response:\n"
        "    - log: response\n"
        "  braces:\n"
        "    - wait_for_response: {}\n"
        "  last:\n"
        "    - wait_for_response:\n"
        "        timeout: 2s\n"
        "        until: last_byte\n"
        "        max_response: 1m\n"
        "  long:\n"
        "    - wait_for_response: 1h\n"
        "  long_map:\n"
        "    - wait_for_response: {timeout: 20m, until: first_byte}\n");
    p = config_policy_find(c, "full");
    assert_non_null(p);
    assert_int_equal(p->n_steps, 4);
    assert_int_equal(p->wait_step, 1);
    assert_string_equal(p->steps[0].label, "Log Request Message Payload");
    assert_false(p->steps[0].headers);
    assert_int_equal(p->steps[0].body_max, 0);
    assert_int_equal(p->steps[0].n_redact, 1);
    assert_string_equal(p->steps[0].redact[0], "X-Api-Key");
    assert_int_equal(p->steps[1].timeout_ns, 5 * NS_PER_SEC);
    assert_string_equal(p->steps[1].label, "Assemble response packets");
    assert_int_equal(p->steps[2].message, STEP_MSG_RESPONSE);
    assert_string_equal(p->steps[2].label, "Log Response Message");
    assert_true(p->steps[2].headers);
    assert_int_equal(p->steps[2].body_max, 1 << 20);
    assert_int_equal(p->steps[2].n_redact, 0);
    assert_int_equal(p->steps[3].message, STEP_MSG_REQUEST);
    assert_int_equal(p->steps[3].n_redact, 4);
    p = config_policy_find(c, "bare");
    assert_int_equal(p->n_steps, 2);
    assert_int_equal(p->wait_step, 0);
    assert_int_equal(p->steps[0].timeout_ns, 30 * NS_PER_SEC);
    assert_string_equal(p->steps[0].label, "Assemble Response Packets");
    p = config_policy_find(c, "braces");
    assert_int_equal(p->steps[0].timeout_ns, 30 * NS_PER_SEC);
    assert_int_equal(p->steps[0].until, WAIT_UNTIL_FIRST_BYTE);
    assert_int_equal(p->steps[0].max_response_ns, 600 * NS_PER_SEC);
    p = config_policy_find(c, "last");
    assert_int_equal(p->steps[0].timeout_ns, 2 * NS_PER_SEC);
    assert_int_equal(p->steps[0].until, WAIT_UNTIL_LAST_BYTE);
    assert_int_equal(p->steps[0].max_response_ns, 60 * NS_PER_SEC);
    /* A timeout past the default ceiling takes the ceiling with it. */
    p = config_policy_find(c, "long");
    assert_int_equal(p->steps[0].timeout_ns, 3600 * NS_PER_SEC);
    assert_int_equal(p->steps[0].max_response_ns, 3600 * NS_PER_SEC);
    p = config_policy_find(c, "long_map");
    assert_int_equal(p->steps[0].until, WAIT_UNTIL_FIRST_BYTE);
    assert_int_equal(p->steps[0].max_response_ns, 1200 * NS_PER_SEC);
    config_destroy(&c);
}

/* ---- hostile files ---- */

/* text nested `levels` lists deep under capture: */
static char *nested(unsigned levels, char open, char close)
{
    char *t = malloc(2 * (size_t)levels + 16);
    assert_non_null(t);
    size_t o = (size_t)sprintf(t, "capture: ");
    memset(t + o, open, levels);
    memset(t + o + levels, close, levels);
    strcpy(t + o + 2 * (size_t)levels, "\n");
    return t;
}

/* Loads text; returns the result and the time it took in ms. */
static int load_timed(const char *text, char *err, size_t errlen,
                      uint64_t *ms)
{
    struct config *c = NULL;
    uint64_t t0 = clock_mono_ns();
    int rc = config_load_string(text, NAME, &c, err, errlen);
    *ms = (clock_mono_ns() - t0) / NS_PER_MS;
    config_destroy(&c);
    return rc;
}

/* Nesting and size are bounded before libyaml builds anything: 100k
 * levels cost it a minute and more, a million values hundreds of MB. */
static void test_bounds(void **state)
{
    (void)state;
    char err[512];
    uint64_t ms;
    char *t = nested(100000, '[', ']');
    assert_int_equal(load_timed(t, err, sizeof(err), &ms), -EINVAL);
    assert_string_equal(err, NAME ":1: (top level): nested too deep "
                        "(expected at most 64 levels of lists and mappings, "
                        "found more)");
    assert_true(ms < 2000);
    free(t);
    t = nested(100000, '{', '}');
    assert_int_equal(load_timed(t, err, sizeof(err), &ms), -EINVAL);
    assert_non_null(strstr(err, "nested too deep"));
    assert_true(ms < 2000);
    free(t);
    /* the root mapping is a level: 63 lists under it are the most */
    t = nested(63, '[', ']');
    assert_int_equal(load_timed(t, err, sizeof(err), &ms), -EINVAL);
    assert_non_null(strstr(err, "capture: wrong type"));
    free(t);
    t = nested(64, '[', ']');
    assert_int_equal(load_timed(t, err, sizeof(err), &ms), -EINVAL);
    assert_non_null(strstr(err, "nested too deep"));
    free(t);
    /* block style, one level per line: the line of the first too many */
    size_t cap = 70 * 70 + 16, o = 0;
    t = malloc(cap);
    assert_non_null(t);
    o += (size_t)sprintf(t, "capture:\n");
    for (unsigned i = 0; i < 70; i++)
        o += (size_t)sprintf(t + o, "%*s- \n", (int)i, "");
    assert_int_equal(load_timed(t, err, sizeof(err), &ms), -EINVAL);
    assert_string_equal(err, NAME ":65: (top level): nested too deep "
                        "(expected at most 64 levels of lists and mappings, "
                        "found more)");
    free(t);
    /* a flat list of more values than a config has any use for */
    size_t n = 300000;
    t = malloc(2 * n + 16);
    assert_non_null(t);
    o = (size_t)sprintf(t, "capture: [");
    for (size_t i = 0; i < n; i++) {
        t[o++] = '1';
        t[o++] = ',';
    }
    strcpy(t + o - 1, "]\n");
    assert_int_equal(load_timed(t, err, sizeof(err), &ms), -EINVAL);
    assert_string_equal(err, NAME ":1: (top level): too many values "
                        "(expected at most 262144 keys, values and list "
                        "entries, found more)");
    free(t);
    /* anchors: libyaml searches a list of them for each one and each
     * alias; 257 are refused before it builds anything */
    t = malloc(257 * 16 + 64);
    assert_non_null(t);
    o = (size_t)sprintf(t, "capture: {}\nx: [");
    for (unsigned i = 0; i < 257; i++)
        o += (size_t)sprintf(t + o, "%s&a%u 1", i ? ", " : "", i);
    strcpy(t + o, "]\n");
    assert_int_equal(load_timed(t, err, sizeof(err), &ms), -EINVAL);
    assert_string_equal(err, NAME ":2: (top level): too many anchors "
                        "(expected at most 256 &names, found more)");
    free(t);
    /* a short file that aliases one list of relative paths into many
     * groups: 5 x 4096 routes from 4096 lines */
    t = malloc(4096 * 40 + 1024);
    assert_non_null(t);
    o = (size_t)sprintf(t, "service_groups:\n  - name: g0\n"
                        "    relative_paths: &r\n");
    for (unsigned i = 0; i < 4096; i++)
        o += (size_t)sprintf(t + o, "      - {path: /p%u, policy: audit}\n",
                             i);
    for (unsigned g = 1; g < 5; g++)
        o += (size_t)sprintf(t + o, "  - {name: g%u, relative_paths: *r}\n",
                             g);
    assert_int_equal(load_timed(t, err, sizeof(err), &ms), -EINVAL);
    assert_string_equal(err, NAME ":2: service_groups: too many relative "
                        "paths (expected at most 16384 in all groups, found "
                        "20480)");
    free(t);
}

static void fire(int sig)
{
    (void)sig;
    fail_msg("config_load blocked");
}

/* Only regular files: a FIFO would block the open (and only one stage
 * could drain it), a device could be read forever. */
static void test_not_regular(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_common_config.XXXXXX", path[64], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    struct config *c = (struct config *)1;
    signal(SIGALRM, fire);
    alarm(5);
    int rc = config_load(path, &c, err, sizeof(err));
    alarm(0);
    assert_int_equal(rc, -EINVAL);
    assert_null(c);
    char want[256];
    snprintf(want, sizeof(want), "%s: cannot read: not a regular file "
             "(expected a YAML file every stage can read, found a FIFO or "
             "pipe)", path);
    assert_string_equal(err, want);
    unlink(path);
    rmdir(dir);
    alarm(5);
    rc = config_load("/dev/zero", &c, err, sizeof(err));
    alarm(0);
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(err, "/dev/zero: cannot read: not a regular file "
                        "(expected a YAML file every stage can read, found "
                        "a character device)");
    /* a pipe (what "-c <(cmd)" or /dev/stdin gives) */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
    rc = config_load(path, &c, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "found a FIFO or pipe"));
    close(fds[0]);
    close(fds[1]);
    /* too large: cut at 16 MiB, without reading the rest */
    char big[] = "/tmp/test_common_config.XXXXXX";
    int fd = mkstemp(big);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 17 << 20), 0);
    close(fd);
    rc = config_load(big, &c, err, sizeof(err));
    unlink(big);
    assert_int_equal(rc, -EFBIG);
    snprintf(want, sizeof(want), "%s: cannot read: too large (expected at "
             "most 16 MiB)", big);
    assert_string_equal(err, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty_files_keep_defaults),
        cmocka_unit_test(test_shipped_file),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_scalar_sections),
        cmocka_unit_test(test_bus_keys),
        cmocka_unit_test(test_groups_and_routes),
        cmocka_unit_test(test_policy_forms),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_not_regular),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
