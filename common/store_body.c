/* store_body.c - segment files of bodies (store_body.h).
 *
 * Pending bytes wait in one buffer, as runs (a segment and the offset
 * they go to), and are written with pwrite at those offsets: a retry
 * after a failure writes the same bytes to the same place. A body of a
 * buffer or more is written straight from the caller's memory when
 * nothing waits before it. The writer keeps one segment open; the reader
 * keeps the last segment it read open.
 */
#include "store_body.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAGIC "HKB1"
#define DIR_NAME "bodies"
#define SEG_SUFFIX ".seg"
#define PATH_MAX_LEN 4200

/* Pending bytes for one segment, from `off` on, at buf[at..at+len). */
struct run {
    uint32_t seg;
    uint64_t off;
    size_t at, len;
};

struct store_body {
    char dir[PATH_MAX_LEN];
    /* writer */
    int wfd;
    uint32_t wseg;
    struct store_body_pos committed, head;
    uint8_t *buf;
    size_t len, cap;
    struct run *runs;
    unsigned n_runs, cap_runs;
    uint64_t pending;             /* entry bytes since the last commit */
    uint32_t sync_from;           /* first segment written since a sync */
    uint32_t kick_seg;            /* writeback started up to here */
    uint64_t kick_off;
    bool dir_dirty;               /* a segment was made since a sync */
    bool writing;                 /* store_body_recover() done */
    /* reader */
    int rfd;
    uint32_t rseg;
    uint8_t *rbuf;                /* verify's entry buffer */
    size_t rcap;
};

static void put_be(uint8_t *dst, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        dst[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, int width)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++)
        v = (v << 8) | p[i];
    return v;
}

static void say(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void store_body_ref_pack(const struct store_body_ref *r,
                         uint8_t out[STORE_BODY_REF_BYTES])
{
    put_be(out, r->seg, 4);
    put_be(out + 4, r->off, 8);
    put_be(out + 12, r->len, 4);
    memcpy(out + 16, r->digest, STORE_SHA256_BYTES);
}

bool store_body_ref_unpack(const void *p, size_t n, struct store_body_ref *r)
{
    const uint8_t *b = p;
    if (n != STORE_BODY_REF_BYTES)
        return false;
    r->seg = (uint32_t)get_be(b, 4);
    r->off = get_be(b + 4, 8);
    r->len = (uint32_t)get_be(b + 12, 4);
    memcpy(r->digest, b + 16, STORE_SHA256_BYTES);
    return r->len <= STORE_BODY_MAX;
}

static int seg_path(const store_body_t *b, uint32_t seg, char *out,
                    size_t size)
{
    int n = snprintf(out, size, "%s/%08u" SEG_SUFFIX, b->dir, seg);
    return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

store_body_t *store_body_new(const char *db_path)
{
    store_body_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    int n = snprintf(b->dir, sizeof(b->dir), "%s/" DIR_NAME, db_path);
    if (n < 0 || (size_t)n >= sizeof(b->dir) - 16) {
        free(b);
        return NULL;
    }
    b->wfd = b->rfd = -1;
    return b;
}

void store_body_destroy(store_body_t **bp)
{
    if (!bp || !*bp)
        return;
    store_body_t *b = *bp;
    if (b->wfd >= 0)
        close(b->wfd);
    if (b->rfd >= 0)
        close(b->rfd);
    free(b->buf);
    free(b->runs);
    free(b->rbuf);
    free(b);
    *bp = NULL;
}

/* ---- writer --------------------------------------------------------- */

/* The fd of segment seg, opened with flags unless *fd already is that
 * segment's (the one kept open: *fd and *which). */
static int seg_fd(const store_body_t *b, int *fd, uint32_t *which,
                  uint32_t seg, int flags)
{
    if (*fd >= 0 && *which == seg)
        return *fd;
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    char path[PATH_MAX_LEN + 32];
    if (seg_path(b, seg, path, sizeof(path)) < 0)
        return -ENAMETOOLONG;
    int f = open(path, flags | O_CLOEXEC, 0600);
    if (f < 0)
        return -errno;
    *fd = f;
    *which = seg;
    return f;
}

/* The writable fd of segment seg (made when missing). */
static int write_fd(store_body_t *b, uint32_t seg)
{
    return seg_fd(b, &b->wfd, &b->wseg, seg, O_WRONLY | O_CREAT);
}

/* The highest segment number in the directory, or -1 when none. */
static long last_segment(const store_body_t *b)
{
    DIR *d = opendir(b->dir);
    if (!d)
        return -1;
    long last = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        unsigned long n = strtoul(e->d_name, &end, 10);
        if (end != e->d_name + 8 || strcmp(end, SEG_SUFFIX) ||
            n > UINT32_MAX)
            continue;
        if ((long)n > last)
            last = (long)n;
    }
    closedir(d);
    return last;
}

/* Removes segments first..last (those not committed). */
static void remove_segments(store_body_t *b, uint32_t first, long last)
{
    char path[PATH_MAX_LEN + 32];
    for (long s = first; s <= last; s++) {
        if (b->wfd >= 0 && b->wseg == (uint32_t)s) {
            close(b->wfd);
            b->wfd = -1;
        }
        if (seg_path(b, (uint32_t)s, path, sizeof(path)) == 0)
            unlink(path);
    }
}

static int segment_size(const store_body_t *b, uint32_t seg, uint64_t *size)
{
    char path[PATH_MAX_LEN + 32];
    struct stat st;
    if (seg_path(b, seg, path, sizeof(path)) < 0)
        return -ENAMETOOLONG;
    if (stat(path, &st) != 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

int store_body_recover(store_body_t *b, const struct store_body_pos *committed,
                       uint64_t *dropped, uint64_t *missing, char *err,
                       size_t errlen)
{
    *dropped = *missing = 0;
    if (mkdir(b->dir, 0700) != 0 && errno != EEXIST) {
        int e = errno;
        say(err, errlen, "cannot make %s: %s", b->dir, strerror(e));
        return -e;
    }
    long last = last_segment(b);
    struct store_body_pos at = { 0, 0, { 0 } };
    if (committed) {
        at = *committed;
        uint64_t size = 0;
        int rc = segment_size(b, at.seg, &size);
        if (rc < 0 && rc != -ENOENT) {
            say(err, errlen, "segment %u of %s: %s", at.seg, b->dir,
                strerror(-rc));
            return rc;
        }
        for (long s = (long)at.seg + 1; s <= last; s++) {
            uint64_t more = 0;
            if (segment_size(b, (uint32_t)s, &more) == 0)
                *dropped += more;
        }
        remove_segments(b, at.seg + 1, last);
        if (size > at.off) {
            char path[PATH_MAX_LEN + 32];
            if (seg_path(b, at.seg, path, sizeof(path)) < 0 ||
                truncate(path, (off_t)at.off) != 0) {
                int e = errno ? errno : ENAMETOOLONG;
                say(err, errlen, "cannot cut segment %u of %s back to "
                    "%llu bytes: %s", at.seg, b->dir,
                    (unsigned long long)at.off, strerror(e));
                return -e;
            }
            *dropped += size - at.off;
        } else if (size < at.off) {
            /* Never write where a record may point: go on in a new
             * segment, leaving the gap for verify to name. */
            *missing = at.off - size;
            at.seg++;
            at.off = 0;
        }
    } else if (last >= 0) {
        at.seg = (uint32_t)last + 1;
    }
    b->committed = b->head = at;
    b->sync_from = at.seg;
    b->dir_dirty = true;
    b->writing = true;
    return 0;
}

static int reserve(store_body_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : STORE_BODY_BUFFER;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = realloc(b->buf, cap);
    if (!p)
        return -ENOMEM;
    b->buf = p;
    b->cap = cap;
    return 0;
}

/* Adds n bytes that go to (seg, off) to the pending buffer, in the
 * room store_body_prepare() made. */
static void buffer_add(store_body_t *b, uint32_t seg, uint64_t off,
                       const void *p, size_t n)
{
    struct run *last = b->n_runs ? &b->runs[b->n_runs - 1] : NULL;
    if (!last || last->seg != seg || last->off + last->len != off ||
        last->at + last->len != b->len) {
        last = &b->runs[b->n_runs++];
        *last = (struct run){ seg, off, b->len, 0 };
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    last->len += n;
}

/* pwrite of all n bytes at off. 0 or -errno. */
static int write_at(int fd, const uint8_t *p, size_t n, uint64_t off,
                    size_t *done)
{
    *done = 0;
    while (*done < n) {
        ssize_t w = pwrite(fd, p + *done, n - *done, (off_t)(off + *done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -ENOSPC;
        *done += (size_t)w;
    }
    return 0;
}

/* Bytes of segment seg up to `end` reached the page cache: once enough
 * has piled up, the kernel is told to start writing it out, so a sync
 * (the logger's last commit, or every one with logger.sync) finds little
 * left to wait for. */
static void written(store_body_t *b, int fd, uint32_t seg, uint64_t end)
{
    if (seg != b->kick_seg) {
        b->kick_seg = seg;
        b->kick_off = 0;
    }
    if (end < b->kick_off + STORE_BODY_WRITEBACK)
        return;
    sync_file_range(fd, (off_t)b->kick_off, (off_t)(end - b->kick_off),
                    SYNC_FILE_RANGE_WRITE);
    b->kick_off = end;
}

/* Writes the buffered runs, oldest first; what fails stays buffered. */
static int drain(store_body_t *b)
{
    unsigned i = 0;
    int rc = 0;
    for (; i < b->n_runs; i++) {
        struct run *r = &b->runs[i];
        int fd = write_fd(b, r->seg);
        size_t done = 0;
        rc = fd < 0 ? fd : write_at(fd, b->buf + r->at, r->len, r->off,
                                    &done);
        r->at += done;
        r->off += done;
        r->len -= done;
        if (rc < 0)
            break;
        written(b, fd, r->seg, r->off);
    }
    if (i == b->n_runs) {
        b->n_runs = 0;
        b->len = 0;
        return 0;
    }
    /* keep runs i.. and their bytes, moved to the front */
    size_t from = b->runs[i].at;
    memmove(b->buf, b->buf + from, b->len - from);
    b->len -= from;
    memmove(b->runs, b->runs + i, (b->n_runs - i) * sizeof(*b->runs));
    b->n_runs -= i;
    for (unsigned j = 0; j < b->n_runs; j++)
        b->runs[j].at -= from;
    return rc;
}

/* Where an entry of `entry` bytes goes after the head. */
static void place(const store_body_t *b, size_t entry, uint32_t *seg,
                  uint64_t *off)
{
    *seg = b->head.seg;
    *off = b->head.off;
    if (*off && *off + entry > STORE_BODY_SEGMENT_BYTES) {
        (*seg)++;
        *off = 0;
    }
}

int store_body_prepare(store_body_t *b, const void *body, size_t n,
                       struct store_body_ref *ref)
{
    if (!b->writing || !n || n > STORE_BODY_MAX)
        return -EINVAL;
    size_t entry = STORE_BODY_HEADER_BYTES + n;
    place(b, entry, &ref->seg, &ref->off);
    ref->len = (uint32_t)n;
    const struct store_sha256_part part = { body, n };
    if (store_sha256(&part, 1, ref->digest) < 0 || reserve(b, entry) < 0)
        return -ENOMEM;
    if (b->n_runs + 2 > b->cap_runs) {
        unsigned cap = b->cap_runs ? b->cap_runs * 2 : 8;
        struct run *r = realloc(b->runs, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        b->runs = r;
        b->cap_runs = cap;
    }
    return 0;
}

void store_body_append(store_body_t *b, const void *body,
                       const struct store_body_ref *ref)
{
    size_t n = ref->len, entry = STORE_BODY_HEADER_BYTES + n;
    struct store_body_pos *h = &b->head;
    if (ref->seg != h->seg)
        b->dir_dirty = true;
    uint8_t hdr[STORE_BODY_HEADER_BYTES], chain[STORE_SHA256_BYTES];
    const struct store_sha256_part link[] = {
        { h->chain, STORE_SHA256_BYTES }, { ref->digest, STORE_SHA256_BYTES },
    };
    /* set up by the digest of prepare: cannot fail now */
    store_sha256(link, 2, chain);
    memcpy(hdr, MAGIC, 4);
    put_be(hdr + 4, n, 4);
    memcpy(hdr + 8, ref->digest, STORE_SHA256_BYTES);
    memcpy(hdr + 40, chain, STORE_SHA256_BYTES);

    bool direct = false;
    if (n >= STORE_BODY_BUFFER && drain(b) == 0) {
        /* nothing waits before it: straight from the caller's bytes */
        int fd = write_fd(b, ref->seg);
        struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)body, n } };
        direct = fd >= 0 &&
                 pwritev(fd, iov, 2, (off_t)ref->off) == (ssize_t)entry;
        if (direct)
            written(b, fd, ref->seg, ref->off + entry);
        /* a short or failed write is written again from the buffer */
    }
    if (!direct) {
        /* room was made by prepare (drain only shrinks the buffer) */
        buffer_add(b, ref->seg, ref->off, hdr, sizeof(hdr));
        buffer_add(b, ref->seg, ref->off + sizeof(hdr), body, n);
    }
    h->seg = ref->seg;
    h->off = ref->off + entry;
    memcpy(h->chain, chain, STORE_SHA256_BYTES);
    b->pending += entry;
    if (b->len >= STORE_BODY_BUFFER)
        drain(b); /* a failure is flush's to report */
}

bool store_body_writing(const store_body_t *b)
{
    return b->writing;
}

static int sync_dir(const store_body_t *b)
{
    int fd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* fdatasync of every segment written since the last sync. */
static int sync_segments(store_body_t *b)
{
    for (uint32_t s = b->sync_from; s <= b->head.seg; s++) {
        int fd = write_fd(b, s);
        if (fd < 0)
            return fd == -ENOENT ? 0 : fd;
        if (fdatasync(fd) != 0)
            return -errno;
    }
    if (b->dir_dirty) {
        int rc = sync_dir(b);
        if (rc < 0)
            return rc;
        b->dir_dirty = false;
    }
    b->sync_from = b->head.seg;
    return 0;
}

int store_body_flush(store_body_t *b, bool sync, char *err, size_t errlen)
{
    if (!b->writing)
        return 0;
    int rc = drain(b);
    if (rc == 0 && sync && (b->pending || b->dir_dirty))
        rc = sync_segments(b);
    if (rc == 0)
        return 0;
    say(err, errlen, "writing bodies to %s: %s", b->dir, strerror(-rc));
    return rc == -ENOSPC || rc == -EDQUOT ? -ENOSPC : -EIO;
}

void store_body_commit(store_body_t *b)
{
    b->committed = b->head;
    b->pending = 0;
}

void store_body_discard(store_body_t *b)
{
    if (!b->writing)
        return;
    b->len = 0;
    b->n_runs = 0;
    if (b->head.seg != b->committed.seg || b->head.off != b->committed.off) {
        remove_segments(b, b->committed.seg + 1, (long)b->head.seg);
        char path[PATH_MAX_LEN + 32];
        /* best effort: a tail left here is cut at the next open */
        if (seg_path(b, b->committed.seg, path, sizeof(path)) == 0 &&
            truncate(path, (off_t)b->committed.off) != 0)
            errno = 0;
    }
    b->head = b->committed;
    b->pending = 0;
}

void store_body_end(const store_body_t *b, bool pending,
                    struct store_body_pos *out)
{
    *out = pending ? b->head : b->committed;
}

uint64_t store_body_pending(const store_body_t *b)
{
    return b->pending;
}

/* ---- reader --------------------------------------------------------- */

static int read_fd(store_body_t *b, uint32_t seg)
{
    return seg_fd(b, &b->rfd, &b->rseg, seg, O_RDONLY);
}

/* Reads n bytes at off of segment seg: 0, -EBADMSG (short: no such
 * bytes), -EIO. */
static int read_at(store_body_t *b, uint32_t seg, uint64_t off, void *p,
                   size_t n)
{
    int fd = read_fd(b, seg);
    if (fd < 0)
        return fd == -ENOENT ? -EBADMSG : -EIO;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)p + done, n - done,
                          (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -EIO;
        if (r == 0)
            return -EBADMSG;
        done += (size_t)r;
    }
    return 0;
}

/* The entry header at ref's place holds ref's length and digest. */
static bool header_matches(const uint8_t *hdr, const struct store_body_ref *r)
{
    return !memcmp(hdr, MAGIC, 4) && get_be(hdr + 4, 4) == r->len &&
           !memcmp(hdr + 8, r->digest, STORE_SHA256_BYTES);
}

int store_body_read(store_body_t *b, const struct store_body_ref *ref,
                    void *buf)
{
    uint8_t hdr[STORE_BODY_HEADER_BYTES];
    if (ref->len > STORE_BODY_MAX)
        return -EBADMSG;
    int rc = read_at(b, ref->seg, ref->off, hdr, sizeof(hdr));
    if (rc == 0 && !header_matches(hdr, ref))
        rc = -EBADMSG;
    if (rc == 0)
        rc = read_at(b, ref->seg, ref->off + sizeof(hdr), buf, ref->len);
    return rc;
}

/* ---- verify --------------------------------------------------------- */

static int grow_rbuf(store_body_t *b, size_t n)
{
    if (n <= b->rcap)
        return 0;
    uint8_t *p = realloc(b->rbuf, n);
    if (!p)
        return -ENOMEM;
    b->rbuf = p;
    b->rcap = n;
    return 0;
}

int store_body_check(store_body_t *b, struct store_body_walk *w,
                     const struct store_body_ref *ref, char *why,
                     size_t whylen)
{
    struct store_body_pos *at = &w->at;
    if (ref->seg != at->seg) {
        uint64_t size = 0;
        /* the next segment begins where this one has no room */
        if (ref->seg != at->seg + 1 || ref->off != 0 ||
            (at->off && (segment_size(b, at->seg, &size) < 0 ||
                         size != at->off))) {
            say(why, whylen, "its body is not the next one (segment %u "
                "offset %llu, expected %u offset %llu): bodies were "
                "removed, added or moved", ref->seg,
                (unsigned long long)ref->off, at->seg,
                (unsigned long long)at->off);
            return -EBADMSG;
        }
        at->seg = ref->seg;
        at->off = 0;
    }
    if (ref->off != at->off) {
        say(why, whylen, "its body is not the next one (offset %llu, "
            "expected %llu in segment %u): bodies were removed, added or "
            "moved", (unsigned long long)ref->off,
            (unsigned long long)at->off, at->seg);
        return -EBADMSG;
    }
    size_t n = STORE_BODY_HEADER_BYTES + (size_t)ref->len;
    if (grow_rbuf(b, n) < 0)
        return -ENOMEM;
    int rc = read_at(b, ref->seg, ref->off, b->rbuf, n);
    if (rc == -EIO) {
        say(why, whylen, "reading segment %u: %s", ref->seg,
            strerror(errno));
        return -EIO;
    }
    if (rc < 0) {
        say(why, whylen, "its body is missing (segment %u offset %llu, "
            "%u bytes): segment cut or deleted", ref->seg,
            (unsigned long long)ref->off, ref->len);
        return -EBADMSG;
    }
    uint8_t digest[STORE_SHA256_BYTES], chain[STORE_SHA256_BYTES];
    const struct store_sha256_part part = {
        b->rbuf + STORE_BODY_HEADER_BYTES, ref->len
    };
    const struct store_sha256_part link[] = {
        { at->chain, STORE_SHA256_BYTES }, { ref->digest, STORE_SHA256_BYTES },
    };
    if (store_sha256(&part, 1, digest) < 0 || store_sha256(link, 2, chain))
        return -ENOMEM;
    if (!header_matches(b->rbuf, ref) ||
        memcmp(digest, ref->digest, sizeof(digest))) {
        say(why, whylen, "its body differs from its digest (segment %u "
            "offset %llu): the body was edited", ref->seg,
            (unsigned long long)ref->off);
        return -EBADMSG;
    }
    if (memcmp(b->rbuf + 40, chain, sizeof(chain))) {
        say(why, whylen, "the body chain breaks at segment %u offset %llu "
            "(edited)", ref->seg, (unsigned long long)ref->off);
        return -EBADMSG;
    }
    at->off += n;
    memcpy(at->chain, chain, sizeof(chain));
    w->entries++;
    w->bytes += ref->len;
    return 0;
}

int store_body_check_end(const struct store_body_walk *w,
                         const struct store_body_pos *end, char *why,
                         size_t whylen)
{
    /* An empty log may end in a segment after a run that wrote none. */
    bool empty = !w->entries && !end->off;
    if (!empty && (w->at.seg != end->seg || w->at.off != end->off)) {
        say(why, whylen, "the bodies end at segment %u offset %llu, the "
            "meta says segment %u offset %llu: bodies were removed or "
            "added", w->at.seg, (unsigned long long)w->at.off, end->seg,
            (unsigned long long)end->off);
        return -EBADMSG;
    }
    if (memcmp(w->at.chain, end->chain, STORE_SHA256_BYTES)) {
        say(why, whylen, "the body chain's end differs from the meta's "
            "(edited)");
        return -EBADMSG;
    }
    return 0;
}
