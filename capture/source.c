/* source.c - libpcap live and offline sources with clear errors. */
#include "source.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUFFER (1u << 20)

struct source {
    pcap_t *pcap;
    bool live;
    int link;
    int fd;
    bool nano;                 /* tv_usec holds nanoseconds */
    uint64_t file_size;
    /* pcap_stats counters are 32-bit and wrap; keep 64-bit totals. */
    uint32_t last_drop, last_ifdrop;
    uint64_t drop, ifdrop;
};

/* libpcap's expressions do not look inside VLAN tags unless told to
 * ("vlan and ..."), which surprises everyone on a trunk port. The seed's
 * default "tcp" is therefore left to hark's own decoder, which finds TCP
 * under VLAN, QinQ and PPPoE tags and counts everything else (not_tcp,
 * not_ip); any other filter is compiled as written, and also applied
 * under one VLAN tag unless it already speaks of encapsulation itself. */
static const char *effective_filter(const char *filter, char *buf,
                                    size_t size)
{
    if (!filter || !*filter || !strcmp(filter, "tcp"))
        return NULL;
    if (strstr(filter, "vlan") || strstr(filter, "pppoe") ||
        strstr(filter, "mpls") || strstr(filter, "geneve"))
        return filter;
    if ((size_t)snprintf(buf, size, "(%s) or (vlan and (%s))", filter,
                         filter) >= size)
        return filter;
    return buf;
}

static int apply_filter(source_t *s, const char *filter, char *err,
                        size_t errlen)
{
    char wrapped[8192];
    const char *expr = effective_filter(filter, wrapped, sizeof(wrapped));
    if (!expr)
        return 0;
    struct bpf_program prog;
    if (pcap_compile(s->pcap, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "bad capture filter '%s': %s", filter,
                 pcap_geterr(s->pcap));
        return -EINVAL;
    }
    int rc = pcap_setfilter(s->pcap, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(err, errlen, "cannot apply filter '%s': %s", filter,
                 pcap_geterr(s->pcap));
        return -EINVAL;
    }
    return 0;
}

static source_t *open_file(const struct config_capture *cfg, char *err,
                           size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    struct stat sb;
    if (stat(cfg->read, &sb) != 0) {
        snprintf(err, errlen, "cannot read capture file %s: %s", cfg->read,
                 strerror(errno));
        return NULL;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "cannot read capture file %s: is a directory",
                 cfg->read);
        return NULL;
    }
    FILE *fp = fopen(cfg->read, "rb");
    if (!fp) {
        snprintf(err, errlen, "cannot read capture file %s: %s", cfg->read,
                 strerror(errno));
        return NULL;
    }
    /* libpcap reads a packet at a time through stdio: with a large buffer
     * that is a read(2) per READ_BUFFER bytes, not per 4 KiB. */
    setvbuf(fp, NULL, _IOFBF, READ_BUFFER);
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(
        fp, PCAP_TSTAMP_PRECISION_NANO, perr);
    if (!p) {
        fclose(fp); /* still ours when libpcap refuses it */
        snprintf(err, errlen,
                 "cannot read capture file %s: %s (hark reads pcap and "
                 "pcapng)", cfg->read, perr);
        return NULL;
    }
    source_t *s = calloc(1, sizeof(*s));
    if (!s) {
        pcap_close(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->pcap = p;
    s->fd = -1;
    s->link = pcap_datalink(p);
    s->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    s->file_size = (uint64_t)sb.st_size;
    return s;
}

static const char *activate_hint(int rc)
{
    switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
        return " (list interfaces with `ip link`)";
    case PCAP_ERROR_PERM_DENIED:
        return " (capturing needs root, or CAP_NET_RAW and CAP_NET_ADMIN: "
               "setcap cap_net_raw,cap_net_admin=eip hark-capture)";
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        return " (promiscuous mode needs more privileges)";
    case PCAP_ERROR_IFACE_NOT_UP:
        return " (bring the interface up first)";
    default:
        return "";
    }
}

/* The kernel buffer in bytes: pcap takes an int, so 2 GiB and up would
 * wrap negative. */
static int buffer_bytes(int mb)
{
    int64_t b = (int64_t)mb << 20;
    return b > INT_MAX ? INT_MAX : (int)b;
}

/* Each setting before activation; a refused one is named, never
 * ignored. Nanosecond timestamps are asked for but not required: the
 * precision libpcap grants is read back after activation. */
static int configure(pcap_t *p, const struct config_capture *cfg,
                     int timeout_ms, char *err, size_t errlen)
{
    const char *what = NULL;
    int rc;
    if ((rc = pcap_set_snaplen(p, cfg->snaplen)) != 0)
        what = "snaplen";
    else if ((rc = pcap_set_promisc(p, cfg->promiscuous)) != 0)
        what = "promiscuous mode";
    else if ((rc = pcap_set_timeout(p, timeout_ms)) != 0)
        what = "read timeout";
    else if ((rc = pcap_set_buffer_size(p, buffer_bytes(cfg->buffer_mb))) !=
             0)
        what = "buffer size";
    if (rc != 0) {
        snprintf(err, errlen, "cannot set the %s on %s: %s", what,
                 cfg->device, pcap_statustostr(rc));
        return -EINVAL;
    }
    /* Refused by some devices: source_ts_ns() reads the precision back. */
    (void)pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    return 0;
}

static source_t *open_live(const struct config_capture *cfg, char *err,
                           size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(cfg->device, perr);
    if (!p) {
        snprintf(err, errlen, "cannot open device %s: %s", cfg->device, perr);
        return NULL;
    }
    /* The read timeout bounds how long the kernel holds a partial block,
     * so it is the capture's share of the flush latency. */
    int timeout_ms = (int)(cfg->flush_ns / 2000000u);
    if (timeout_ms < 1)
        timeout_ms = 1;
    if (configure(p, cfg, timeout_ms, err, errlen) < 0) {
        pcap_close(p);
        return NULL;
    }
    int rc = pcap_activate(p);
    if (rc < 0) {
        const char *why = rc == PCAP_ERROR ? pcap_geterr(p)
                                           : pcap_statustostr(rc);
        if (rc == PCAP_ERROR_NO_SUCH_DEVICE && !*why)
            why = "no such device";
        snprintf(err, errlen, "cannot capture on %s: %s%s", cfg->device, why,
                 activate_hint(rc));
        pcap_close(p);
        return NULL;
    }
    source_t *s = calloc(1, sizeof(*s));
    if (!s) {
        pcap_close(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->pcap = p;
    s->live = true;
    s->link = pcap_datalink(p);
    s->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    if (pcap_setnonblock(p, 1, perr) != 0 ||
        (s->fd = pcap_get_selectable_fd(p)) < 0) {
        snprintf(err, errlen, "device %s cannot be polled: %s", cfg->device,
                 perr);
        source_close(&s);
        return NULL;
    }
    if (rc > 0)
        snprintf(err, errlen, "warning on %s: %s", cfg->device,
                 pcap_statustostr(rc));
    return s;
}

source_t *source_open(const struct config_capture *cfg, char *err,
                      size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    source_t *s = cfg->read ? open_file(cfg, err, errlen)
                            : open_live(cfg, err, errlen);
    if (!s)
        return NULL;
    if (apply_filter(s, cfg->filter, err, errlen) != 0) {
        source_close(&s);
        return NULL;
    }
    return s;
}

void source_close(source_t **s)
{
    if (!s || !*s)
        return;
    pcap_close((*s)->pcap);
    free(*s);
    *s = NULL;
}

pcap_t *source_pcap(source_t *s) { return s->pcap; }
bool source_live(const source_t *s) { return s->live; }
int source_link(const source_t *s) { return s->link; }
int source_fd(const source_t *s) { return s->fd; }

uint64_t source_ts_ns(const source_t *s, const struct timeval *tv)
{
    uint64_t frac = (uint64_t)tv->tv_usec;
    return (uint64_t)tv->tv_sec * 1000000000u + (s->nano ? frac
                                                         : frac * 1000u);
}

const char *source_link_name(const source_t *s)
{
    const char *n = pcap_datalink_val_to_name(s->link);
    return n ? n : "unknown";
}

void source_drops(source_t *s, uint64_t *dropped, uint64_t *if_dropped)
{
    struct pcap_stat ps;
    if (s->live && pcap_stats(s->pcap, &ps) == 0) {
        s->drop += (uint32_t)(ps.ps_drop - s->last_drop);
        s->ifdrop += (uint32_t)(ps.ps_ifdrop - s->last_ifdrop);
        s->last_drop = ps.ps_drop;
        s->last_ifdrop = ps.ps_ifdrop;
    }
    *dropped = s->drop;
    *if_dropped = s->ifdrop;
}

void source_progress(source_t *s, uint64_t *pos, uint64_t *size)
{
    *pos = 0;
    *size = s->file_size;
    FILE *f = s->live ? NULL : pcap_file(s->pcap);
    if (f) {
        long off = ftell(f);
        if (off > 0)
            *pos = (uint64_t)off;
    }
}
