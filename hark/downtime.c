/* downtime.c - counting packets and connections while a capture is down. */
#include "downtime.h"
#include "packet.h"

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SNAPLEN 256               /* enough for the headers */
#define BURST 512

struct downtime {
    pcap_t *pcap;
    int link;
    uint64_t packets, connections;
    uint32_t *flows;              /* open addressing; 0 is empty */
};

static int fail(downtime_t *d, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, pcap_geterr(d->pcap));
    return -1;
}

/* The default filter "tcp" is hark's own decoder's (packet.h), as in the
 * capture; any other is compiled as written. */
static int open_live(downtime_t *d, const struct config_capture *cfg,
                     char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    d->pcap = pcap_create(cfg->device, perr);
    if (!d->pcap) {
        snprintf(err, errlen, "%s: %s", cfg->device, perr);
        return -1;
    }
    if (pcap_set_snaplen(d->pcap, SNAPLEN) != 0 ||
        pcap_set_promisc(d->pcap, cfg->promiscuous) != 0 ||
        pcap_set_immediate_mode(d->pcap, 1) != 0 ||
        pcap_activate(d->pcap) < 0)
        return fail(d, err, errlen, cfg->device);
    if (pcap_setnonblock(d->pcap, 1, perr) != 0) {
        snprintf(err, errlen, "%s: %s", cfg->device, perr);
        return -1;
    }
    d->link = pcap_datalink(d->pcap);
    if (!cfg->filter || !*cfg->filter || !strcmp(cfg->filter, "tcp"))
        return 0;
    struct bpf_program prog;
    if (pcap_compile(d->pcap, &prog, cfg->filter, 1,
                     PCAP_NETMASK_UNKNOWN) != 0)
        return fail(d, err, errlen, cfg->filter);
    int rc = pcap_setfilter(d->pcap, &prog);
    pcap_freecode(&prog);
    return rc == 0 ? 0 : fail(d, err, errlen, cfg->filter);
}

downtime_t *downtime_start(const struct config_capture *cfg, char *err,
                           size_t errlen)
{
    downtime_t *d = calloc(1, sizeof(*d));
    if (d)
        d->flows = calloc(DOWNTIME_MAX_FLOWS, sizeof(*d->flows));
    if (!d || !d->flows) {
        snprintf(err, errlen, "out of memory");
        free(d);
        return NULL;
    }
    if (open_live(d, cfg, err, errlen) < 0) {
        uint64_t p, c;
        downtime_stop(&d, &p, &c);
        return NULL;
    }
    return d;
}

int downtime_fd(const downtime_t *d)
{
    return pcap_get_selectable_fd(d->pcap);
}

/* Counts the connection of hash h once; past DOWNTIME_MAX_FLOWS - 1
 * distinct ones the table is full and every new one counts. */
static void count_flow(downtime_t *d, uint32_t h)
{
    if (!h)
        h = 1;
    if (d->connections >= DOWNTIME_MAX_FLOWS - 1) {
        d->connections++;
        return;
    }
    uint32_t i = h & (DOWNTIME_MAX_FLOWS - 1);
    while (d->flows[i] && d->flows[i] != h)
        i = (i + 1) & (DOWNTIME_MAX_FLOWS - 1);
    if (!d->flows[i]) {
        d->flows[i] = h;
        d->connections++;
    }
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h,
                      const u_char *data)
{
    downtime_t *d = (downtime_t *)user;
    struct packet_info pi;
    if (packet_decode(d->link, data, h->caplen, &pi) != PACKET_OK)
        return;
    d->packets++;
    count_flow(d, packet_flow_hash(&pi));
}

void downtime_read(downtime_t *d)
{
    while (pcap_dispatch(d->pcap, BURST, on_packet, (u_char *)d) == BURST)
        ;
}

void downtime_stop(downtime_t **dp, uint64_t *packets,
                   uint64_t *connections)
{
    *packets = *connections = 0;
    if (!dp || !*dp)
        return;
    downtime_t *d = *dp;
    if (d->pcap) {
        downtime_read(d);
        pcap_close(d->pcap);
    }
    *packets = d->packets;
    *connections = d->connections;
    free(d->flows);
    free(d);
    *dp = NULL;
}
