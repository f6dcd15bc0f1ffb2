/* record_table.c - an audit record as one fixed-width table row.
 *
 * Every byte of a record came off the wire, so table fields go through
 * one sanitizer (table_field): printable ASCII as it is, the rest as
 * \xHH, so a record cannot drive the terminal.
 */
#include "record_table.h"
#include "clock.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define W_TIME 23
#define W_UID 22
#define W_KIND 4
#define W_ADDR 21
#define W_METHOD 7
#define W_URI 40
#define W_STATUS 6
#define W_BYTES 9

/* Renders b as printable ASCII (others as \xHH) into dst, stopping
 * before the first character that does not fit in max. Returns the
 * length; *all says whether every byte fit. */
static size_t render(char *dst, struct bytes b, size_t max, bool *all)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    *all = false;
    for (uint32_t i = 0; i < b.n; i++) {
        uint8_t c = (uint8_t)b.p[i];
        bool plain = c >= 0x20 && c < 0x7f;
        if (o + (plain ? 1 : 4) > max)
            return o;
        if (plain) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 0xf];
        }
    }
    *all = true;
    return o;
}

/* b as a table field of at most max characters; cut with "..." at the
 * end when longer. */
static void table_field(char *dst, size_t cap, struct bytes b, size_t max)
{
    bool all;
    if (max > cap - 1)
        max = cap - 1;
    size_t o = render(dst, b, max, &all);
    if (!all && max >= 3) {
        o = render(dst, b, max - 3, &all);
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static void table_addr(char *dst, size_t cap, struct bytes ip, uint16_t port)
{
    char s[64];
    table_field(s, sizeof(s), ip, sizeof(s) - 1);
    bool v6 = memchr(s, ':', strlen(s)) != NULL;
    snprintf(dst, cap, v6 ? "[%s]:%u" : "%s:%u", s, (unsigned)port);
}

int record_table_header(char *buf, size_t size)
{
    return snprintf(buf, size,
                    "%-*s  %-*s  %-*s  %-*s    %-*s  %-*s %-*s  %*s  %*s  %s\n",
                    W_TIME, "TIME (UTC)", W_UID, "UID:IDX", W_KIND, "KIND",
                    W_ADDR, "CLIENT", W_ADDR, "SERVER", W_METHOD, "METHOD",
                    W_URI, "URI", W_STATUS, "STATUS", W_BYTES, "BYTES",
                    "OUTCOME");
}

static void table_time(char *when, size_t size, uint64_t ns)
{
    time_t sec = (time_t)(ns / NS_PER_SEC);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(when, size, "%04d-%02d-%02d %02d:%02d:%02d.%03u",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (unsigned)(ns % NS_PER_SEC / 1000000));
}

/* An outage: the stage in the UID column, then until when, how it died
 * and what it lost. */
static int outage_row(char *buf, size_t size, const struct audit_record *r)
{
    char when[40], until[40], who[40], reason[64], lost[256] = "";
    table_time(when, sizeof(when), r->ts_ns);
    table_time(until, sizeof(until), r->until_ns);
    table_field(who, sizeof(who), r->who, W_UID);
    table_field(reason, sizeof(reason), r->reason, 48);
    size_t at = 0;
    for (uint32_t i = 0; i < r->n_lost && at < sizeof(lost); i++) {
        char name[40];
        table_field(name, sizeof(name), r->lost[i].name, 32);
        int n = snprintf(lost + at, sizeof(lost) - at, "%s%s %" PRIu64,
                         i ? ", " : "; lost: ", name, r->lost[i].n);
        at += n > 0 ? (size_t)n : 0;
    }
    return snprintf(buf, size, "%-*s  %-*s  %-*s  until %s: %s%s\n",
                    W_TIME, when, W_UID, who, W_KIND, "outage", until + 11,
                    reason, lost);
}

int record_table_row(char *buf, size_t size, const struct audit_record *r)
{
    if (r->kind == RECORD_OUTAGE)
        return outage_row(buf, size, r);
    bool resp = r->kind == RECORD_RESPONSE;
    char when[40];
    table_time(when, sizeof(when), r->ts_ns);
    char uid[40], conn[64], cli[80], srv[80], method[40], uri[W_URI + 1];
    char status[16] = "-", outcome[40] = "-";
    table_field(uid, sizeof(uid), r->uid, 16);
    snprintf(conn, sizeof(conn), "%s:%u", uid, (unsigned)r->idx);
    table_addr(cli, sizeof(cli), r->addr.src_ip, r->addr.src_port);
    table_addr(srv, sizeof(srv), r->addr.dst_ip, r->addr.dst_port);
    table_field(method, sizeof(method), r->method, 16);
    table_field(uri, sizeof(uri), r->uri, W_URI);
    if (resp && r->status)
        snprintf(status, sizeof(status), "%u", (unsigned)r->status);
    if (resp && r->outcome.n)
        table_field(outcome, sizeof(outcome), r->outcome, 16);
    return snprintf(buf, size,
                    "%-*s  %-*s  %-*s  %-*s -> %-*s  %-*s %-*s  %*s  %*" PRIu64
                    "  %s\n",
                    W_TIME, when, W_UID, conn, W_KIND, resp ? "resp" : "req",
                    W_ADDR, cli, W_ADDR, srv, W_METHOD, method, W_URI, uri,
                    W_STATUS, status, W_BYTES, r->body_len, outcome);
}
