/* test_reassemble_defrag.c - IP fragments back into datagrams.
 *
 * Each row sends the fragments of one 1,000-byte TCP datagram (a 20-byte
 * header and 980 bytes of data) in some order, with duplicates, overlaps
 * or holes, and says what the endpoint (Linux) would make of it: the
 * datagram delivered whole (and whether duplicates disagreed), or dropped
 * and counted in exactly one drop counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "defrag.h"

#include <string.h>

#define DGRAM 1000

static uint8_t dgram[DGRAM];
static uint8_t other[DGRAM]; /* the same datagram with different bytes */

static void make_datagram(void)
{
    memset(dgram, 0, sizeof(dgram));
    dgram[0] = 0x9c; /* sport 40000 */
    dgram[1] = 0x40;
    dgram[3] = 80;   /* dport 80 */
    dgram[7] = 1;    /* seq 1 */
    dgram[12] = 5 << 4;
    dgram[13] = 0x18; /* PSH ACK */
    for (int i = 20; i < DGRAM; i++)
        dgram[i] = (uint8_t)('a' + i % 26);
    memcpy(other, dgram, sizeof(other));
    for (int i = 20; i < DGRAM; i++)
        other[i] = 'X';
}

/* A fragment [off, off+len) of dgram (or of `other`). */
struct frag {
    uint32_t off, len;
    bool other_bytes;
    bool last_wrong;  /* claims MF=0 although more follows */
};

#define F(o, l) { .off = (o), .len = (l) }
#define F_OTHER(o, l) { .off = (o), .len = (l), .other_bytes = true }
#define F_LAST(o, l) { .off = (o), .len = (l), .last_wrong = true }

enum expect { DELIVER, DELIVER_CONFLICT, DROP_OVERLAP, DROP_INVALID, HELD };

struct row {
    const char *label;
    uint8_t family;
    struct frag frags[8];
    enum expect expect;
};

static const struct row rows[] = {
    { "in order", 4, { F(0, 400), F(400, 400), F(800, 200) }, DELIVER },
    { "reversed", 4, { F(800, 200), F(400, 400), F(0, 400) }, DELIVER },
    { "last first", 6, { F(800, 200), F(0, 400), F(400, 400) },
      DELIVER },
    { "identical duplicate", 4,
      { F(0, 400), F(0, 400), F(400, 600) }, DELIVER },
    { "duplicate inside a run", 4,
      { F(0, 400), F(400, 400), F(200, 400), F(800, 200) }, DELIVER },
    { "conflicting duplicate: first copy wins", 4,
      { F(0, 400), F(400, 400), F_OTHER(400, 400), F(800, 200) },
      DELIVER_CONFLICT },
    { "partial overlap drops the datagram (Linux, RFC 5722)", 4,
      { F(0, 400), F(200, 400), F(400, 600) }, DROP_OVERLAP },
    { "ipv6 partial overlap", 6,
      { F(0, 400), F(392, 608) }, DROP_OVERLAP },
    { "hole: held until it times out", 4,
      { F(0, 400), F(800, 200) }, HELD },
    { "two last fragments disagree", 4,
      { F(800, 200), F(0, 400), F_LAST(400, 400) },
      DROP_INVALID },
    { "ipv6 non-last fragment not a multiple of 8", 6,
      { F(0, 396), F(396, 604) }, DROP_INVALID },
};

static void send_frag(defrag_t *d, const struct row *row,
                      const struct frag *f, uint64_t ts, int *rc,
                      struct packet_info *out, bool *conflict)
{
    struct packet_info pi;
    memset(&pi, 0, sizeof(pi));
    pi.family = row->family;
    pi.proto = 6;
    pi.src[0] = 10;
    pi.dst[0] = 10;
    pi.dst[3] = 2;
    pi.frag_id = 77;
    pi.frag_offset = f->off;
    pi.more_fragments = f->last_wrong ? false : f->off + f->len < DGRAM;
    pi.ip_payload = (f->other_bytes ? other : dgram) + f->off;
    pi.ip_payload_len = f->len;
    *rc = defrag_add(d, &pi, ts, out, conflict);
}

static void test_rows(void **state)
{
    (void)state;
    make_datagram();
    struct defrag_config cfg = { 1 << 20, 30 * NS_PER_SEC, 64 };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *row = &rows[i];
        defrag_t *d = defrag_new(&cfg);
        assert_non_null(d);
        int rc = 0, delivered = 0;
        bool conflict = false;
        struct packet_info out;
        for (int k = 0; k < 8 && row->frags[k].len; k++) {
            send_frag(d, row, &row->frags[k], NS_PER_SEC + (uint64_t)k,
                      &rc, &out, &conflict);
            if (rc > 0) {
                delivered++;
                /* the whole payload, decoded as one segment */
                assert_int_equal(out.sport, 40000);
                assert_int_equal(out.dport, 80);
                assert_int_equal(out.payload_len, DGRAM - 20);
                assert_memory_equal(out.payload, dgram + 20, DGRAM - 20);
            }
        }
        const struct defrag_counters *c = defrag_counters(d);
        print_message("row: %s\n", row->label);
        assert_int_equal(delivered, row->expect <= DELIVER_CONFLICT);
        assert_int_equal(c->datagrams, row->expect <= DELIVER_CONFLICT);
        assert_int_equal(conflict, row->expect == DELIVER_CONFLICT);
        assert_int_equal(c->conflicts, row->expect == DELIVER_CONFLICT);
        assert_int_equal(c->overlaps, row->expect == DROP_OVERLAP);
        assert_int_equal(c->invalid, row->expect == DROP_INVALID);
        /* Later fragments of a dropped datagram are not counted again,
         * and what is held times out (counted once, if not dropped). */
        defrag_expire(d, 40 * NS_PER_SEC);
        assert_int_equal(c->timeouts, row->expect == HELD);
        assert_int_equal(c->mem_used, 0);
        defrag_destroy(&d);
    }
}

static void test_memcap_evicts_oldest(void **state)
{
    (void)state;
    make_datagram();
    /* room for about two held datagrams */
    struct defrag_config cfg = { 6000, 30 * NS_PER_SEC, 64 };
    defrag_t *d = defrag_new(&cfg);
    struct packet_info pi, out;
    bool conflict;
    int rc;
    for (uint32_t id = 1; id <= 5; id++) {
        memset(&pi, 0, sizeof(pi));
        pi.family = 4;
        pi.proto = 6;
        pi.frag_id = id;
        pi.more_fragments = true;
        pi.ip_payload = dgram;
        pi.ip_payload_len = 400;
        rc = defrag_add(d, &pi, id, &out, &conflict);
        assert_int_equal(rc, 0);
    }
    const struct defrag_counters *c = defrag_counters(d);
    assert_true(c->evicted >= 2);
    assert_true(c->mem_used <= cfg.memcap);
    /* the newest is still held and completes */
    pi.frag_offset = 400;
    pi.more_fragments = false;
    pi.ip_payload = dgram + 400;
    pi.ip_payload_len = DGRAM - 400;
    assert_int_equal(defrag_add(d, &pi, 6, &out, &conflict), 1);
    assert_int_equal(out.payload_len, DGRAM - 20);
    defrag_destroy(&d);
}

static void test_table_full_evicts(void **state)
{
    (void)state;
    make_datagram();
    struct defrag_config cfg = { 1 << 20, 30 * NS_PER_SEC, 2 };
    defrag_t *d = defrag_new(&cfg);
    struct packet_info pi, out;
    bool conflict;
    for (uint32_t id = 1; id <= 3; id++) {
        memset(&pi, 0, sizeof(pi));
        pi.family = 4;
        pi.proto = 6;
        pi.frag_id = id;
        pi.more_fragments = true;
        pi.ip_payload = dgram;
        pi.ip_payload_len = 400;
        assert_int_equal(defrag_add(d, &pi, id, &out, &conflict), 0);
    }
    assert_int_equal(defrag_counters(d)->evicted, 1);
    defrag_destroy(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_memcap_evicts_oldest),
        cmocka_unit_test(test_table_full_evicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
