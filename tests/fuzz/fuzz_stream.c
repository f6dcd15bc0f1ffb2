/* fuzz_stream.c - libFuzzer target: segment sequences into one stream.
 *
 * The input is a header and a list of operations (segment, segment cut
 * short by the snaplen, FIN, ACK, SYN, start, end) with sequence offsets
 * and lengths taken from it. Every
 * segment carries the bytes of one fixed pattern keyed by sequence
 * number, so whatever the order, overlaps and caps, each byte the sink
 * receives must equal the pattern at its position, positions must follow
 * each other without a jump (a gap reports every skipped byte), the sink
 * ends at most once, nothing comes after the end, and the stream's
 * invariants hold after every operation. Header bit 0x80 sends divergent
 * copies instead (old data must still win: only memory safety and
 * accounting are checked then).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon -Ireassemble \
 *       tests/fuzz/fuzz_stream.c reassemble/stream.c -o /tmp/fuzz_stream
 */
#include "stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEN 2048

struct check {
    const struct stream *s;
    bool strict;         /* data must match the pattern */
    bool started;
    uint32_t expect;     /* sequence of the next byte the sink gets */
    int ends;
};

static uint8_t pat(uint32_t seq)
{
    return (uint8_t)((seq * 2654435761u) >> 24);
}

static void position(struct check *c)
{
    /* stream.c calls the sink before it advances next_seq, so next_seq
     * is the position of what is being delivered */
    if (c->started && c->s->next_seq != c->expect)
        abort();
    if (c->ends)
        abort();
    c->started = true;
}

static void on_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts,
                    uint64_t mark)
{
    struct check *c = ctx;
    position(c);
    if (n == 0 || n > STREAM_MAX_AHEAD)
        abort();
    uint32_t seq = c->s->next_seq;
    if (c->strict)
        for (size_t i = 0; i < n; i++)
            if (p[i] != pat(seq + (uint32_t)i))
                abort();
    c->expect = seq + (uint32_t)n;
}

static void on_gap(void *ctx, uint64_t len, uint64_t ts)
{
    struct check *c = ctx;
    position(c);
    if (len == 0 || len > STREAM_MAX_AHEAD)
        abort();
    c->expect = c->s->next_seq + (uint32_t)len;
}

static void on_end(void *ctx, uint64_t ts)
{
    struct check *c = ctx;
    if (c->ends++)
        abort();
}

/* Copies of the pattern never differ: a conflict there is a bug. */
static void on_conflict(void *ctx, uint64_t offset)
{
    struct check *c = ctx;
    if (c->strict)
        abort();
}

static const struct stream_sink sink = { on_data, on_gap, on_end,
                                         on_conflict };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[MAX_LEN];
    if (size < 6)
        return 0;
    uint32_t isn = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                   (uint32_t)data[2] << 8 | data[3];
    struct stream_shared sh = {
        .max_buffered = 64u << (data[4] & 15),
        .memcap = 64u << ((data[4] >> 4) & 15),
        .policy = (enum stream_policy)((data[5] & 0x7f) % 5),
    };
    struct check c = { .strict = !(data[5] & 0x80) };
    struct stream s;
    c.s = &s;
    stream_init(&s, &sh, &sink, &c);
    data += 6;
    size -= 6;
    uint64_t ts = 0;
    for (; size >= 4; data += 4, size -= 4, ts++) {
        unsigned op = data[0] & 7;
        bool fin = data[0] & 8;
        uint32_t off = (uint32_t)data[1] << 8 | data[2];
        /* a few far offsets, to cross windows and the wrap */
        if (data[0] & 0x40)
            off = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16;
        uint32_t seq = isn + 1 + off;
        size_t len = (size_t)data[3] | (size_t)(data[0] & 0x30) << 4;
        switch (op) {
        case 0: case 1: case 2: case 3:
            for (size_t i = 0; i < len; i++)
                buf[i] = c.strict ? pat(seq + (uint32_t)i)
                                  : (uint8_t)(data[3] ^ i);
            if (op == 3) /* the capture kept only the first half */
                stream_segment_cut(&s, seq, len ? buf : NULL, len - len / 2,
                                   len / 2, fin, ts, off);
            else
                stream_segment(&s, seq, len ? buf : NULL, len, fin, ts);
            break;
        case 4:
            stream_ack(&s, seq, ts);
            if (fin) /* the reorder window passed */
                stream_settle(&s, s.peer_ack, ts);
            break;
        case 5: stream_syn(&s, isn + off); break;
        case 6: stream_start(&s, seq); break;
        case 7: stream_end(&s, ts); break;
        }
        if (!stream_invariants_ok(&s) || sh.c.mem_used != s.buffered ||
            sh.c.mem_used > sh.memcap)
            abort();
    }
    stream_end(&s, ts);
    if (c.ends != 1 || sh.c.mem_used != 0 || !stream_invariants_ok(&s))
        abort();
    stream_release(&s);
    return 0;
}
