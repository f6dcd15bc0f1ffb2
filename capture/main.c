/* main.c - hark-capture: packets off an interface or a file, onto the bus.
 *
 * Live, the pcap fd is polled with the signal fd and a flush timer, so a
 * packet waits at most capture.flush before it leaves. Offline, the file
 * is read as fast as the reassemblers take it: sends block when their
 * links are full, which is what keeps a file replay lossless. Both end
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
    uint64_t *kernel_dropped, *if_dropped, *file_truncated;
    uint64_t next_progress_ns;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h,
                      const u_char *data)
{
    struct capture *c = (struct capture *)user;
    if (c->error)
        return;
    /* Opened with nanosecond precision: tv_usec holds nanoseconds. */
    uint64_t ts = (uint64_t)h->ts.tv_sec * NS_PER_SEC + (uint64_t)h->ts.tv_usec;
    int rc = sharder_add(c->sharder, ts, h->len, data, h->caplen);
    if (rc < 0)
        c->error = rc;
}

static void update_drops(struct capture *c)
{
    source_drops(c->src, c->kernel_dropped, c->if_dropped);
}

static void report_progress(struct capture *c, bool force)
{
    uint64_t now = clock_mono_ns();
    if (!force && now < c->next_progress_ns)
        return;
    c->next_progress_ns = now + PROGRESS_EVERY_NS;
    uint64_t pos, size;
    source_progress(c->src, &pos, &size);
    uint64_t pkts = stats_get(c->st.stats, "packets");
    if (size)
        log_info("read %llu packets, %.2f of %.2f MB (%.0f%%)",
                 (unsigned long long)pkts, (double)pos / 1e6,
                 (double)size / 1e6, 100.0 * (double)pos / (double)size);
}

static int run_offline(struct capture *c)
{
    pcap_t *p = source_pcap(c->src);
    zmq_pollitem_t sig = stage_pollitem(&c->st);
    c->next_progress_ns = clock_mono_ns() + PROGRESS_EVERY_NS;
    for (;;) {
        int n = pcap_dispatch(p, OFFLINE_CHECK_EVERY, on_packet, (u_char *)c);
        if (c->error)
            return c->error;
        if (n == PCAP_ERROR) {
            /* A capture cut off mid-packet (a full disk, a killed
             * tcpdump) still holds everything before the cut: keep it,
             * end there, and say so. */
            (*c->file_truncated)++;
            log_warn("%s ends early: %s; using the packets before it",
                     c->st.cfg->capture.read, pcap_geterr(p));
            break;
        }
        if (n == 0 || n == PCAP_ERROR_BREAK)
            break; /* end of file */
        int rc = sharder_flush(c->sharder, false);
        if (rc < 0)
            return rc;
        if (zmq_poll(&sig, 1, 0) > 0)
            stage_handle_signal(&c->st);
        if (c->st.stop)
            return 1;
        stage_tick(&c->st);
        report_progress(c, false);
    }
    return 0;
}

static int run_live(struct capture *c)
{
    pcap_t *p = source_pcap(c->src);
    uint64_t flush_ns = c->st.cfg->capture.flush_ns;
    uint64_t next_flush = clock_mono_ns() + flush_ns;
    zmq_pollitem_t items[2] = {
        stage_pollitem(&c->st),
        { NULL, source_fd(c->src), ZMQ_POLLIN, 0 },
    };
    while (!c->st.stop) {
        int timeout = stage_tick(&c->st);
        int until_flush = stage_ms_until(next_flush, 1000);
        if (until_flush < timeout)
            timeout = until_flush;
        if (zmq_poll(items, 2, timeout) < 0 && errno != EINTR) {
            log_error("poll: %s", zmq_strerror(errno));
            return -errno;
        }
        if (items[0].revents)
            stage_handle_signal(&c->st);
        if (items[1].revents) {
            int n;
            do {
                n = pcap_dispatch(p, DISPATCH_BURST, on_packet, (u_char *)c);
            } while (n == DISPATCH_BURST && !c->error);
            if (n == PCAP_ERROR) {
                log_error("capture on %s failed: %s",
                          c->st.cfg->capture.device, pcap_geterr(p));
                return -EIO;
            }
        }
        if (c->error)
            return c->error;
        if (clock_mono_ns() >= next_flush) {
            int rc = sharder_flush(c->sharder, true);
            if (rc < 0)
                return rc;
            update_drops(c);
            next_flush = clock_mono_ns() + flush_ns;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    struct capture c;
    memset(&c, 0, sizeof(c));
    int rc = stage_init(&c.st, ROLE_CAPTURE,
                        "Reads packets off a network interface (libpcap) or "
                        "a pcap/pcapng file and\nsends them in batches to the "
                        "reassembler shards, by a symmetric flow hash.",
                        argc, argv);
    if (rc != 0) {
        stage_finish(&c.st, false);
        return rc < 0 ? 0 : rc;
    }
    struct config *cfg = c.st.cfg;
    c.kernel_dropped = stats_add(c.st.stats, "kernel_dropped");
    c.if_dropped = stats_add(c.st.stats, "if_dropped");
    c.file_truncated = stats_add(c.st.stats, "file_truncated");

    char err[PCAP_ERRBUF_SIZE + 512];
    c.src = source_open(&cfg->capture, err, sizeof(err));
    if (!c.src) {
        log_error("%s", err);
        stage_finish(&c.st, false);
        return 2; /* bad input: restarting will not help */
    }
    if (err[0])
        log_warn("%s", err);
    bool live = source_live(c.src);
    c.sharder = sharder_new(c.st.zmq, cfg, c.st.id, c.st.tap,
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

    rc = live ? run_live(&c) : run_offline(&c);
    bool ok = rc >= 0;
    if (ok) {
        const char *reason = rc == 0 ? "end of file" : "signal";
        if (!live)
            report_progress(&c, true);
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
