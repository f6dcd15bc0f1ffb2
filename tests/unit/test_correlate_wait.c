/* test_correlate_wait.c - wait verdicts depend on packet time only.
 *
 * Runs the built hark-correlate (beside this test's directory) on a
 * private run dir, plays dispatch on its input and the logger on its
 * output, and checks the outcome of each response record. Each case sends
 * the same messages with the watermark at different places, as other
 * shards or batching would put it: the records must not change. The
 * policy waits 1s, so a request ending at 1s has its deadline at 2s and
 * is forgotten (its tombstone gone) at 3s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bus.h"
#include "clock.h"
#include "config.h"
#include "frame.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S NS_PER_SEC

/* One step of a case: a request or response message, or (uid NULL) a
 * heartbeat; each goes in its own frame with watermark wm. */
struct step {
    enum msg_kind kind;
    const char *uid;
    uint64_t ts_end;
    uint64_t wm;
};

struct wait_case {
    const char *label;
    struct step steps[6];
    uint64_t eof_wm;
    const char *want; /* "uid:outcome ..." of the response records, sorted */
};

#define UID_A "00000000000000aa"
#define UID_B "00000000000000bb"
#define REQ(u, te, w) { MSG_REQ, (u), (te), (w) }
#define RESP(u, te, w) { MSG_RESP, (u), (te), (w) }
#define WM(w) { MSG_REQ, NULL, 0, (w) }

static const struct wait_case cases[] = {
    /* A response after the tombstone: the wait timed out and was
     * forgotten, wherever the watermark stood when it came. */
    { "past the tombstone, watermark behind",
      { REQ(UID_A, 1 * S, 1 * S), RESP(UID_A, 4 * S, 1 * S) }, 5 * S,
      UID_A ":orphan " UID_A ":timeout" },
    { "past the tombstone, watermark at the tombstone",
      { REQ(UID_A, 1 * S, 1 * S), WM(5 * S / 2), RESP(UID_A, 4 * S, 4 * S) },
      5 * S, UID_A ":orphan " UID_A ":timeout" },
    { "past the tombstone, watermark ahead",
      { REQ(UID_A, 1 * S, 1 * S), WM(7 * S / 2), RESP(UID_A, 4 * S, 4 * S) },
      5 * S, UID_A ":orphan " UID_A ":timeout" },
    /* Within the tombstone: late, however it was reached. */
    { "late, watermark behind",
      { REQ(UID_A, 1 * S, 1 * S), RESP(UID_A, 5 * S / 2, 1 * S) }, 5 * S,
      UID_A ":late " UID_A ":timeout" },
    { "late, watermark ahead",
      { REQ(UID_A, 1 * S, 1 * S), WM(9 * S / 4),
        RESP(UID_A, 5 * S / 2, 3 * S) },
      5 * S, UID_A ":late " UID_A ":timeout" },
    { "in time", { REQ(UID_A, 1 * S, 1 * S), RESP(UID_A, 2 * S, 1 * S) },
      5 * S, UID_A ":ok" },
    /* Two shards: B's request (deadline 2s) arrives behind A's (6s). At
     * an eof at 3s, B had timed out and A had not. */
    { "eof after a deadline behind a later one",
      { REQ(UID_A, 5 * S, 1 * S), REQ(UID_B, 1 * S, 1 * S) }, 3 * S,
      UID_A ":eof " UID_B ":timeout" },
    { "eof after a deadline, in order",
      { REQ(UID_B, 1 * S, 1 * S), REQ(UID_A, 5 * S, 1 * S) }, 3 * S,
      UID_A ":eof " UID_B ":timeout" },
    /* Ids that are not hex (a bad producer) are still told apart: a
     * response on one connection does not answer another's request. */
    { "uids that are not hex",
      { REQ("bad-uid-1", 1 * S, 1 * S), RESP("bad-uid-2", 3 * S / 2, 1 * S) },
      5 * S, "bad-uid-1:timeout bad-uid-2:orphan" },
};

static const char yaml_fmt[] =
    "bus:\n"
    "  run_dir: %s/run\n"
    "policies:\n"
    "  p:\n"
    "    - log: request\n"
    "    - wait_for_response: 1s\n"
    "    - log: response\n";

static char correlate_bin[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0'; /* .../bin/tests */
    snprintf(correlate_bin, sizeof(correlate_bin), "%s/../hark-correlate",
             self);
    return 0;
}

static void fill_msg(struct http_msg *m, const struct step *s)
{
    memset(m, 0, sizeof(*m));
    m->kind = s->kind;
    m->uid = bytes_of(s->uid);
    m->idx = 0;
    m->ts_ns = s->ts_end - S / 2;
    m->ts_end_ns = s->ts_end;
    m->addr.src_ip = bytes_of("10.0.0.1");
    m->addr.src_port = 40000;
    m->addr.dst_ip = bytes_of("10.0.0.2");
    m->addr.dst_port = 80;
    m->version = bytes_of("1.1");
    if (s->kind == MSG_REQ) {
        m->method = bytes_of("GET");
        m->uri = bytes_of("/");
        m->routed = true;
        m->route.group = bytes_of("g");
        m->route.path = bytes_of("/");
        m->route.policy = bytes_of("p");
        m->route.next_step = 1;
    } else {
        m->status = 200;
        m->reason = bytes_of("OK");
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the logger's input up to eof: the records' "uid:outcome",
 * sorted, space-separated, into out. */
static void receive_records(bus_in_t *logger, const char *label, char *out,
                            size_t size)
{
    frame_reader_t *rd = frame_reader_new();
    char *got[16];
    unsigned n = 0;
    for (;;) {
        const void *topic, *body;
        size_t tlen, blen;
        int rc = bus_in_recv(logger, 10000, &topic, &tlen, &body, &blen);
        if (rc != 1)
            fail_msg("%s: no eof from hark-correlate (%d)", label, rc);
        struct frame fr;
        assert_int_equal(frame_read(rd, topic, tlen, body, blen, &fr), 0);
        if (fr.type == FRAME_EOF)
            break;
        for (uint32_t i = 0; i < fr.n_items && fr.type == FRAME_LOG; i++) {
            struct audit_record r;
            assert_int_equal(frame_item_record(rd, &fr, i, &r), 0);
            assert_true(n < 16);
            got[n] = malloc(r.uid.n + r.outcome.n + 2);
            assert_non_null(got[n]);
            sprintf(got[n], "%.*s:%.*s", (int)r.uid.n, r.uid.p,
                    (int)r.outcome.n, r.outcome.p);
            n++;
        }
    }
    qsort(got, n, sizeof(got[0]), cmp_str);
    size_t len = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "",
                                got[i]);
        free(got[i]);
    }
    frame_reader_destroy(&rd);
}

/* Runs one case through a fresh hark-correlate; the sorted records in
 * out ("uid:outcome ..."). */
static void run_case(const struct wait_case *c, char *out, size_t size)
{
    char dir[] = "/tmp/hark-test-correlate.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cfg_path[PATH_MAX], yaml[PATH_MAX + 256];
    snprintf(cfg_path, sizeof(cfg_path), "%s/hark.yaml", dir);
    snprintf(yaml, sizeof(yaml), yaml_fmt, dir);
    FILE *f = fopen(cfg_path, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    struct config *cfg = NULL;
    char err[512];
    assert_int_equal(config_load(cfg_path, &cfg, err, sizeof(err)), 0);
    char in_ep[4200], out_ep[4200];
    assert_non_null(config_endpoint(cfg, "correlate", 0, in_ep,
                                    sizeof(in_ep)));
    assert_non_null(config_endpoint(cfg, "logger", 0, out_ep,
                                    sizeof(out_ep)));

    void *zmq = zmq_ctx_new();
    bus_in_t *logger = bus_in_new(zmq, out_ep);
    assert_non_null(logger);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(correlate_bin, "hark-correlate", "-c", cfg_path, "-q",
              (char *)NULL);
        _exit(127);
    }
    bus_out_t *dispatch = bus_out_new(zmq, in_ep, "dispatch", NULL);
    frame_writer_t *w = frame_writer_new(FRAME_MSG, "dispatch");
    assert_non_null(dispatch);
    assert_non_null(w);
    for (size_t i = 0; i < 6 && c->steps[i].wm; i++) {
        const struct step *s = &c->steps[i];
        if (s->uid) {
            struct http_msg m;
            fill_msg(&m, s);
            assert_int_equal(frame_add_msg(w, &m), 0);
        }
        assert_int_equal(bus_out_heartbeat(dispatch, w, s->wm, false), 0);
    }
    assert_int_equal(bus_out_eof(dispatch, c->eof_wm, "end of input"), 0);

    receive_records(logger, c->label, out, size);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    frame_writer_destroy(&w);
    bus_out_destroy(&dispatch);
    bus_in_destroy(&logger);
    zmq_ctx_term(zmq);
    config_destroy(&cfg);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_verdicts(void **state)
{
    (void)state;
    if (access(correlate_bin, X_OK) != 0)
        skip(); /* built by `make all`, not by this test's rule */
    unsigned bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[512];
        run_case(&cases[i], got, sizeof(got));
        if (strcmp(got, cases[i].want)) {
            print_error("%s: got '%s', want '%s'\n", cases[i].label, got,
                        cases[i].want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_verdicts, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
