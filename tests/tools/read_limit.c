/* read_limit.c - `read_limit FILE`: the fastest anything built on
 * libpcap can go through a capture file, for `make bench`.
 *
 * One loop reads every packet and every captured byte of it (a sum the
 * compiler cannot drop), and nothing else: no decoding, no copies. Its
 * time is the floor hark's time is compared with. Prints
 * "packets BYTES SECONDS" on one line; exit 1 when the file cannot be
 * read.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct tally {
    uint64_t packets, bytes, sum;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h,
                      const u_char *data)
{
    struct tally *t = (struct tally *)user;
    uint64_t sum = 0, w;
    uint32_t i = 0;
    for (; i + 8 <= h->caplen; i += 8) {
        memcpy(&w, data + i, 8);
        sum += w;
    }
    for (; i < h->caplen; i++)
        sum += data[i];
    t->sum += sum;
    t->packets++;
    t->bytes += h->caplen;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: read_limit FILE\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    double start = now();
    /* read as hark-capture reads: through a 1 MiB stdio buffer */
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) {
        perror("read_limit");
        return 1;
    }
    setvbuf(fp, NULL, _IOFBF, 1u << 20);
    pcap_t *p = pcap_fopen_offline(fp, err);
    if (!p) {
        fprintf(stderr, "read_limit: %s\n", err);
        fclose(fp);
        return 1;
    }
    struct tally t = { 0, 0, 0 };
    int rc = pcap_loop(p, -1, on_packet, (u_char *)&t);
    double secs = now() - start;
    if (rc == PCAP_ERROR)
        fprintf(stderr, "read_limit: %s\n", pcap_geterr(p));
    pcap_close(p);
    printf("%llu %llu %.6f %llu\n", (unsigned long long)t.packets,
           (unsigned long long)t.bytes, secs,
           (unsigned long long)(t.sum & 1));
    return rc == PCAP_ERROR ? 1 : 0;
}
