/* main.c - hark-capture: packets off an interface or a file, onto the bus.
 *
 * Live, the pcap fd is a source on the stage's loop, with a flush timer,
 * so a packet waits at most capture.flush before it leaves. Offline, the
 * file is read a chunk per turn as fast as the reassemblers take it:
 * sends block when their links are full, which is what keeps a file
 * replay lossless. Both end
 * with `eof` to every shard, so the pipeline drains in order.
 */
#include "clock.h"
#include "log.h"
#include "shard.h"
#include "source.h"
#include "stage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DISPATCH_BURST 512     /* packets per pcap_dispatch call */
#define OFFLINE_CHECK_EVERY 4096 /* packets between signal/timer checks */
#define PROGRESS_EVERY_NS (5 * NS_PER_SEC)

struct capture {
    struct stage st;
    source_t *src;
    sharder_t *sharder;
    int error;                 /* first bus error, -errno */
    char open_warning[PCAP_ERRBUF_SIZE + 512];
    uint64_t *kernel_dropped, *if_dropped, *file_truncated;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h,
                      const u_char *data)
{
    struct capture *c = (struct capture *)user;
    if (c->error)
        return;
    uint64_t ts = source_ts_ns(c->src, &h->ts);
    int rc = sharder_add(c->sharder, ts, h->len, data, h->caplen);
    if (rc < 0)
        c->error = rc;
}

static void update_drops(struct capture *c)
{
    source_drops(c->src, c->kernel_dropped, c->if_dropped);
}

static void report_progress(struct capture *c)
{
    uint64_t pos, size;
    source_progress(c->src, &pos, &size);
    uint64_t pkts = stats_get(c->st.stats, "packets");
    if (size)
        log_info("read %llu packets, %.2f of %.2f MB (%.0f%%)",
                 (unsigned long long)pkts, (double)pos / 1e6,
                 (double)size / 1e6, 100.0 * (double)pos / (double)size);
}

/* Offline, the file is read a chunk per turn, so signals and the stats
 * timer are seen between chunks: a timer that is always due. */
static int on_read_chunk(loop_t *l, void *ctx)
{
    struct capture *c = ctx;
    pcap_t *p = source_pcap(c->src);
    int n = pcap_dispatch(p, OFFLINE_CHECK_EVERY, on_packet, (u_char *)c);
    if (c->error)
        return c->error;
    if (n == PCAP_ERROR) {
        /* A capture cut off mid-packet (a full disk, a killed tcpdump)
         * still holds everything before the cut: keep it, end there,
         * and say so. */
        (*c->file_truncated)++;
        log_warn("%s ends early: %s; using the packets before it",
                 c->st.cfg->capture.read, pcap_geterr(p));
        n = 0;
    }
    if (n == 0 || n == PCAP_ERROR_BREAK) {
        loop_stop(l, 0); /* end of file */
        return LOOP_TIMER_OFF;
    }
    int rc = sharder_flush(c->sharder, false);
    return rc < 0 ? rc : 0;
}

static int on_progress(loop_t *l, void *ctx)
{
    report_progress(ctx);
    return (int)(PROGRESS_EVERY_NS / NS_PER_MS);
}

/* Live, a burst of packets per readable pcap fd. */
static int on_pcap_readable(loop_t *l, void *ctx)
{
    struct capture *c = ctx;
    pcap_t *p = source_pcap(c->src);
    int n;
    do {
        n = pcap_dispatch(p, DISPATCH_BURST, on_packet, (u_char *)c);
    } while (n == DISPATCH_BURST && !c->error);
    if (n == PCAP_ERROR) {
        log_error("capture on %s failed: %s", c->st.cfg->capture.device,
                  pcap_geterr(p));
        return -EIO;
    }
    return c->error;
}

/* Live, a packet waits at most capture.flush before it leaves. */
static int on_flush_timer(loop_t *l, void *ctx)
{
    struct capture *c = ctx;
    int rc = sharder_flush(c->sharder, true);
    if (rc < 0)
        return rc;
    update_drops(c);
    return (int)(c->st.cfg->capture.flush_ns / NS_PER_MS);
}

static void on_stop(struct stage *st, void *ctx)
{
    loop_stop(st->loop, 1);
}

/* 0 at the end of the file, 1 when stopped by a signal, -errno. */
static int run(struct capture *c, bool live)
{
    loop_t *l = c->st.loop;
    int flush_ms = (int)(c->st.cfg->capture.flush_ns / NS_PER_MS);
    stage_on_stop(&c->st, on_stop, c);
    int rc = live ? loop_add_fd(l, source_fd(c->src), on_pcap_readable, c)
                  : loop_add_timer(l, 0, on_read_chunk, c);
    if (rc >= 0)
        rc = live ? loop_add_timer(l, flush_ms, on_flush_timer, c)
                  : loop_add_timer(l, (int)(PROGRESS_EVERY_NS / NS_PER_MS),
                                   on_progress, c);
    return rc < 0 ? rc : loop_run(l);
}

/* The device (or file) is opened while the process is still root; the
 * stage then gives root up and keeps no capability. */
static int open_source(struct stage *st, void *ctx)
{
    struct capture *c = ctx;
    c->src = source_open(&st->cfg->capture, c->open_warning,
                         sizeof(c->open_warning));
    if (!c->src) {
        log_error("%s", c->open_warning);
        return 2; /* bad input: restarting will not help */
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct capture c;
    memset(&c, 0, sizeof(c));
    int rc = stage_init_privileged(
        &c.st, ROLE_CAPTURE,
        "Reads packets off a network interface (libpcap) or a pcap/pcapng "
        "file and\nsends them in batches to the reassembler shards, by a "
        "symmetric flow hash.",
        argc, argv, open_source, &c);
    if (rc != 0) {
        source_close(&c.src);
        return rc - 1;
    }
    struct config *cfg = c.st.cfg;
    STAGE_COUNTERS(&c.st, { "kernel_dropped", &c.kernel_dropped },
                   { "if_dropped", &c.if_dropped },
                   { "file_truncated", &c.file_truncated });
    if (c.open_warning[0])
        log_warn("%s", c.open_warning);
    bool live = source_live(c.src);
    c.sharder = sharder_new(c.st.bus, cfg, c.st.id, c.st.tap,
                            source_link(c.src), live, c.st.stats);
    if (!c.sharder) {
        log_error("cannot connect to the reassemblers: %s",
                  zmq_strerror(errno));
        source_close(&c.src);
        stage_finish(&c.st, false);
        return 1;
    }
    if (live)
        log_info("listening on %s (%s), filter '%s'%s, %u shard(s)",
                 cfg->capture.device, source_link_name(c.src),
                 cfg->capture.filter ? cfg->capture.filter : "",
                 cfg->capture.promiscuous ? ", promiscuous" : "",
                 cfg->reassemble.shards);
    else
        log_info("reading %s (%s), filter '%s', %u shard(s)",
                 cfg->capture.read, source_link_name(c.src),
                 cfg->capture.filter ? cfg->capture.filter : "",
                 cfg->reassemble.shards);

    rc = run(&c, live);
    bool ok = rc >= 0;
    if (ok) {
        const char *reason = rc == 0 ? "end of file" : "signal";
        if (!live)
            report_progress(&c);
        rc = sharder_eof(c.sharder, reason);
        ok = rc == 0;
        if (!ok)
            log_error("sending eof: %s", zmq_strerror(-rc));
    } else {
        log_error("stopped: %s", zmq_strerror(-rc));
    }
    update_drops(&c);
    if (*c.kernel_dropped || *c.if_dropped)
        log_warn("the kernel dropped %llu packets (%llu by the interface)",
                 (unsigned long long)*c.kernel_dropped,
                 (unsigned long long)*c.if_dropped);
    /* Closing the outputs waits until queued batches and the eof are
     * delivered (linger), so exiting 0 means the shards have them. */
    sharder_destroy(&c.sharder);
    source_close(&c.src);
    stage_finish(&c.st, ok);
    return ok ? 0 : 1;
}
