/* metrics_http.c - the supervisor's /metrics, for a Prometheus server.
 *
 * Bytes from a client are hostile: the head is read into a fixed buffer
 * and only its first line is looked at; nothing is answered before the
 * head has ended, and a client that is slow, or sends too much, is
 * closed.
 */
#include "metrics_http.h"
#include "clock.h"
#include "errbuf.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct client {
    int fd;                       /* -1: free */
    uint64_t deadline_ns;
    char head[METRICS_HTTP_HEAD];
    size_t head_len;
    char *out;                    /* the response, once the head ended */
    size_t out_len, out_off;
};

struct metrics_server {
    int listen_fd;
    metrics_render_fn *render;
    void *ctx;
    struct client clients[METRICS_HTTP_CLIENTS];
    uint64_t refused, dropped;
};

/* Splits HOST:PORT ([V6]:PORT) into host and port. */
static int split_addr(const char *addr, char *host, size_t hsize,
                      const char **port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return -EINVAL;
    const char *h = addr;
    size_t n = (size_t)(colon - addr);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n >= hsize)
        return -EINVAL;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = colon + 1;
    return 0;
}

static int listen_on(const char *addr, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    if (split_addr(addr, host, sizeof(host), &port) < 0) {
        errbuf_set(err, errlen, "supervisor.metrics: '%s' is not HOST:PORT",
                   addr);
        return -EINVAL;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        errbuf_set(err, errlen, "supervisor.metrics %s: %s", addr,
                   gai_strerror(rc));
        return -EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    int one = 1;
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
        int e = errno;
        errbuf_set(err, errlen, "supervisor.metrics: cannot listen on %s: "
                   "%s", addr, strerror(e));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -e;
    }
    freeaddrinfo(ai);
    return fd;
}

metrics_server_t *metrics_server_new(const char *addr, metrics_render_fn *fn,
                                     void *ctx, char *err, size_t errlen)
{
    metrics_server_t *m = calloc(1, sizeof(*m));
    if (!m) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < METRICS_HTTP_CLIENTS; i++)
        m->clients[i].fd = -1;
    m->render = fn;
    m->ctx = ctx;
    m->listen_fd = listen_on(addr, err, errlen);
    if (m->listen_fd < 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void drop(struct client *c);

void metrics_server_counts(const metrics_server_t *m, uint64_t *refused,
                           uint64_t *dropped)
{
    *refused = m->refused;
    *dropped = m->dropped;
}

/* Closes c: answered, or (cut) dropped without an answer. */
static void finish_client(metrics_server_t *m, struct client *c, bool cut)
{
    m->dropped += cut;
    drop(c);
}

static void drop(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

void metrics_server_destroy(metrics_server_t **pm)
{
    metrics_server_t *m = pm ? *pm : NULL;
    if (!m)
        return;
    for (unsigned i = 0; i < METRICS_HTTP_CLIENTS; i++)
        drop(&m->clients[i]);
    close(m->listen_fd);
    free(m);
    *pm = NULL;
}

unsigned metrics_server_poll_items(const metrics_server_t *m,
                                   zmq_pollitem_t *items)
{
    unsigned n = 0;
    items[n++] = (zmq_pollitem_t){ NULL, m->listen_fd, ZMQ_POLLIN, 0 };
    for (unsigned i = 0; i < METRICS_HTTP_CLIENTS; i++) {
        const struct client *c = &m->clients[i];
        if (c->fd >= 0)
            items[n++] = (zmq_pollitem_t){ NULL, c->fd,
                                           c->out ? ZMQ_POLLOUT : ZMQ_POLLIN,
                                           0 };
    }
    return n;
}

/* The response to the request line of c's head, into c->out. */
static void respond(metrics_server_t *m, struct client *c)
{
    const char *status = "400 Bad Request", *type = "text/plain";
    char *body = NULL;
    size_t body_len = 0;
    size_t line = strcspn(c->head, "\r\n");
    c->head[line] = '\0';
    char *sp1 = strchr(c->head, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    bool head_only = false;
    if (sp1 && sp2 && !strncmp(sp2 + 1, "HTTP/1.", 7)) {
        *sp1 = *sp2 = '\0';
        const char *target = sp1 + 1;
        size_t path_len = strcspn(target, "?");
        head_only = !strcmp(c->head, "HEAD");
        if (strcmp(c->head, "GET") && !head_only)
            status = "405 Method Not Allowed";
        else if (path_len != 8 || strncmp(target, "/metrics", 8))
            status = "404 Not Found";
        else
            status = NULL;
    }
    FILE *f = open_memstream(&body, &body_len);
    if (!f) {
        finish_client(m, c, true);
        return;
    }
    if (status) {
        fprintf(f, "%s\n", status);
    } else {
        status = "200 OK";
        type = "text/plain; version=0.0.4; charset=utf-8";
        m->render(f, m->ctx);
    }
    if (fclose(f) != 0) {
        free(body);
        finish_client(m, c, true);
        return;
    }
    char hdr[256];
    int h = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, type, body_len);
    size_t total = (size_t)h + (head_only ? 0 : body_len);
    c->out = malloc(total);
    if (c->out) {
        memcpy(c->out, hdr, (size_t)h);
        if (!head_only)
            memcpy(c->out + h, body, body_len);
        c->out_len = total;
    }
    free(body);
    if (!c->out)
        finish_client(m, c, true);
}

static bool head_ended(const struct client *c)
{
    return memmem(c->head, c->head_len, "\r\n\r\n", 4) ||
           memmem(c->head, c->head_len, "\n\n", 2);
}

static void on_readable(metrics_server_t *m, struct client *c)
{
    size_t room = sizeof(c->head) - 1 - c->head_len;
    ssize_t r = read(c->fd, c->head + c->head_len, room);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        finish_client(m, c, true);
        return;
    }
    c->head_len += (size_t)r;
    c->head[c->head_len] = '\0';
    if (head_ended(c))
        respond(m, c);
    else if (c->head_len == sizeof(c->head) - 1)
        finish_client(m, c, true); /* a head this long is no scraper's */
}

static void on_writable(metrics_server_t *m, struct client *c)
{
    ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                     MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (w < 0) {
        finish_client(m, c, true);
        return;
    }
    c->out_off += (size_t)w;
    if (c->out_off == c->out_len)
        finish_client(m, c, false);
}

static void accept_clients(metrics_server_t *m)
{
    for (;;) {
        int fd = accept4(m->listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct client *c = NULL;
        for (unsigned i = 0; i < METRICS_HTTP_CLIENTS && !c; i++)
            if (m->clients[i].fd < 0)
                c = &m->clients[i];
        if (!c) {
            close(fd); /* busy: the scraper tries again */
            m->refused++;
            continue;
        }
        c->fd = fd;
        c->deadline_ns = clock_mono_ns() +
                         (uint64_t)METRICS_HTTP_DEADLINE_MS * NS_PER_MS;
    }
}

void metrics_server_handle(metrics_server_t *m, const zmq_pollitem_t *items,
                           unsigned n)
{
    uint64_t now = clock_mono_ns();
    for (unsigned i = 1; i < n; i++) {
        if (!items[i].revents)
            continue;
        for (unsigned k = 0; k < METRICS_HTTP_CLIENTS; k++) {
            struct client *c = &m->clients[k];
            if (c->fd != items[i].fd)
                continue;
            if (items[i].revents & ZMQ_POLLERR)
                finish_client(m, c, true);
            else if (c->out)
                on_writable(m, c);
            else
                on_readable(m, c);
            break;
        }
    }
    for (unsigned k = 0; k < METRICS_HTTP_CLIENTS; k++)
        if (m->clients[k].fd >= 0 && now > m->clients[k].deadline_ns)
            finish_client(m, &m->clients[k], true);
    if (n && (items[0].revents & ZMQ_POLLIN))
        accept_clients(m);
}
