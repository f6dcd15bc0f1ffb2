/* http.c - incremental HTTP/1.x message framing for one stream direction.
 *
 * Rules a reader must know:
 *   - Every state consumes what it can and returns the count; a state that
 *     consumes nothing changes state, so feed always progresses. Head
 *     bytes are scanned once as they arrive and parsed once when the head
 *     is whole; only the first START_WINDOW bytes of an unfinished start
 *     line are looked at again, once per feed.
 *   - The head (start line + header lines) is parsed in place from the
 *     caller's bytes when it arrives whole in one feed (zero copy), else
 *     from the parser's head buffer. Parsed fields are offsets into the
 *     head, so before feed returns a pending head is copied into the
 *     buffer and nothing points into the caller's bytes afterwards.
 *   - Caps (head bytes, chunk extension and trailer bytes, headers kept,
 *     body kept) trip at a fixed byte position whatever the packet
 *     boundaries, so any split of a stream gives the same messages.
 *   - Buffers grow up to their caps and are reused by the next message:
 *     no allocation per packet once they have grown.
 */
#include "http.h"
#include "cursor.h"
#include "hex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Largest Content-Length or chunk size believed (RFC 9112 allows any;
 * 2^62 keeps every sum below 2^64). */
#define HTTP_LEN_MAX (1ull << 62)
/* Bytes one resync may skip before the stream is declared non-HTTP. */
#define HTTP_RESYNC_MAX (8u << 20)
/* Start-line bytes checked before the line is whole: enough to reject
 * binary or TLS bytes early, small enough to stay cheap per packet. */
#define START_WINDOW 32
/* Head buffer floor: it also holds a resync candidate ("PROPPATCH "). */
#define HBUF_MIN 64
#define HBUF_FIRST 1024
#define BBUF_FIRST 4096
#define HDRS_FIRST 16
/* Bytes one kept header line costs (its spans and its resolved view). */
#define HS_BYTES (sizeof(struct hspan) + sizeof(struct msg_header))

enum state {
    ST_IDLE,        /* between messages: skipping CR and LF */
    ST_LINE,        /* start line not yet whole */
    ST_HEAD,        /* start line valid; header lines until a blank one */
    ST_BODY_LEN,    /* Content-Length body */
    ST_CHUNK_SIZE,  /* hex digits of a chunk size */
    ST_CHUNK_EXT,   /* after the digits: BWS, extensions, line end */
    ST_CHUNK_DATA,
    ST_CHUNK_END,   /* CRLF after chunk data */
    ST_TRAILER,     /* trailer lines until a blank one */
    ST_BODY_CLOSE,  /* body runs to the end of the stream */
    ST_RESYNC,      /* skipping to a line that starts a message */
    ST_STOPPED,     /* tunnel, upgrade or not HTTP: input ignored */
};

/* End-of-head scanner: where the last bytes left us. */
enum eoh { EOH_TEXT, EOH_LF, EOH_LFCR, EOH_DONE };

/* Sub-states of ST_CHUNK_EXT, ST_CHUNK_END and ST_TRAILER. */
enum { EXT_WS, EXT_TEXT, EXT_CR };
enum { END_CR, END_LF };
enum { TR_START, TR_CR, TR_LINE };

struct span {
    uint32_t off, len;
};

struct hspan {
    struct span name, value;
};

/* Framing facts gathered from the header lines. */
struct framing {
    bool cl_seen, cl_bad, te_seen, te_chunked;
    uint64_t cl;               /* valid when cl_seen and not cl_bad */
};

struct http_parser {
    enum http_dir dir;
    const struct http_limits *lim;
    struct http_counters *cnt;
    http_message_cb cb;
    void *ctx;
    enum state state;

    /* head: in hbuf[0, hlen), or in the caller's zc[0, zc_len) during a
     * feed (zero copy); zc is NULL outside feed */
    uint8_t *hbuf;
    size_t hcap, hlen;
    const uint8_t *zc;
    size_t zc_len;
    enum eoh eoh;
    bool fold;                 /* a header line starts with SP or HT */

    /* parsed head */
    struct span method, uri, version, reason;
    uint32_t status;
    struct hspan *hs;          /* kept header lines */
    struct msg_header *hdrs;   /* hs resolved at emission */
    uint32_t hs_cap, n_hs;
    struct framing fr;
    uint32_t flags;

    /* body */
    uint8_t *bbuf;
    size_t bcap, blen;         /* kept bytes */
    const uint8_t *bview;      /* zero-copy body, during a feed */
    uint64_t body_len;         /* every body byte, gaps included */
    uint64_t remaining;        /* of the Content-Length body or chunk */
    uint64_t chunk;            /* chunk size being read */
    uint32_t digits;           /* hex digits read */
    uint32_t sub;              /* sub-state */
    uint64_t side_len;         /* chunk extension or trailer bytes */

    uint64_t ts_first, ts_last;

    /* positions: the stream offset of d[0] in the state being run, the
     * offset after everything fed, and where the current message began */
    uint64_t at, pos;
    uint64_t mark;
    uint64_t pos_first, mark_first;
    http_classify_fn classify;
    void *classify_ctx;
    http_http09_fn http09;
    void *http09_ctx;

    /* resync: candidate start in hbuf[0, hlen) */
    uint64_t resync_run;
    /* the message under way was found by resync: its start line must
     * keep to the grammar */
    bool strict_line;

    /* where the last whole message ended (set once its state returns),
     * and whether the rest of the stream is a tunnel from there */
    bool completed;
    uint64_t done_pos;
    bool tunnel;
};

/* Methods recognised when resynchronising, each with its SP. Any token
 * method is accepted at a message boundary; only these mid-garbage. */
static const char *const methods[] = {
    "GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "CONNECT ", "OPTIONS ",
    "TRACE ", "PATCH ", "PROPFIND ", "PROPPATCH ", "MKCOL ", "COPY ",
    "MOVE ", "LOCK ", "UNLOCK ", "SEARCH ", "REPORT ", "MKCALENDAR ",
    "MKACTIVITY ", "CHECKOUT ", "MERGE ", "ACL ", "BIND ", "UNBIND ",
    "REBIND ", "LINK ", "UNLINK ", "PURGE ", "NOTIFY ", "SUBSCRIBE ",
    "UNSUBSCRIBE ", "M-SEARCH ", "PRI ",
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))
static const char resp_start[] = "HTTP/1.";

/* ---- character classes ---------------------------------------------- */

/* RFC 9110 tchar. */
static bool is_tchar(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static struct span span_of(size_t off, size_t len)
{
    struct span s = { (uint32_t)off, (uint32_t)len };
    return s;
}

static struct bytes bytes_at(const uint8_t *base, struct span s)
{
    struct bytes b = { s.len ? (const char *)base + s.off : NULL, s.len };
    return b;
}

/* ASCII case-insensitive equality of p[0, n) and a lowercase literal;
 * reads exactly n bytes (no C-string function on wire bytes). */
static bool case_eq(const uint8_t *p, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)lit[i])
            return false;
    }
    return true;
}

static bool span_case_eq(const uint8_t *base, struct span s, const char *lit)
{
    return case_eq(base + s.off, s.len, lit);
}

/* ---- start line ------------------------------------------------------ */

struct start {
    struct span method, uri, version, reason;
    uint32_t status;
};

/* "HTTP/" DIGIT "." DIGIT at the cursor: 1 read, 0 bytes ran out while
 * matching, -1 not a version. */
static int read_version(cursor_t *c, const uint8_t *base, struct span *ver)
{
    static const char pat[] = "HTTP/#.#";
    uint8_t ch;
    for (size_t i = 0; i < sizeof(pat) - 1; i++) {
        if (!cur_peek_u8(c, i, &ch))
            return 0;
        if (pat[i] == '#' ? !is_digit(ch) : ch != (uint8_t)pat[i])
            return -1;
    }
    *ver = span_of((size_t)(c->p - base) + 5, 3);
    cur_skip(c, sizeof(pat) - 1);
    return 1;
}

static void skip_sp(cursor_t *c)
{
    uint8_t ch;
    while (cur_peek_u8(c, 0, &ch) && ch == ' ')
        cur_skip(c, 1);
}

/* request-line = method SP+ request-target SP+ HTTP-version */
static bool request_line(const uint8_t *s, size_t n, bool partial,
                         struct start *out)
{
    cursor_t c = cur_make(s, n);
    uint8_t ch = 0;
    size_t m = 0, u;
    int r;

    while (cur_peek_u8(&c, 0, &ch) && is_tchar(ch)) {
        cur_skip(&c, 1);
        m++;
    }
    if (cur_left(&c) == 0)
        return partial;
    if (m == 0 || ch != ' ')
        return false;
    out->method = span_of(0, m);
    skip_sp(&c);
    u = (size_t)(c.p - s);
    while (cur_peek_u8(&c, 0, &ch) && ch > ' ' && ch != 0x7f)
        cur_skip(&c, 1);
    if (cur_left(&c) == 0)
        return partial;
    if ((size_t)(c.p - s) == u || ch != ' ')
        return false;
    out->uri = span_of(u, (size_t)(c.p - s) - u);
    skip_sp(&c);
    r = read_version(&c, s, &out->version);
    if (r <= 0)
        return r == 0 && partial;
    return cur_left(&c) == 0;
}

/* status-line = HTTP-version SP+ 3DIGIT [ SP reason-phrase ] */
static bool status_line(const uint8_t *s, size_t n, bool partial,
                        struct start *out)
{
    cursor_t c = cur_make(s, n);
    uint8_t ch;
    uint32_t status = 0;
    int r = read_version(&c, s, &out->version);

    if (r <= 0)
        return r == 0 && partial;
    if (!cur_peek_u8(&c, 0, &ch))
        return partial;
    if (ch != ' ')
        return false;
    skip_sp(&c);
    for (int i = 0; i < 3; i++) {
        if (!cur_u8(&c, &ch))
            return partial;
        if (!is_digit(ch))
            return false;
        status = status * 10 + (uint32_t)(ch - '0');
    }
    if (status < 100)
        return false;
    out->status = status;
    out->reason = span_of((size_t)(c.p - s), 0);
    if (cur_left(&c) == 0)
        return true;
    if (!cur_u8(&c, &ch) || ch != ' ')
        return false;
    skip_sp(&c);
    out->reason = span_of((size_t)(c.p - s), cur_left(&c));
    return true;
}

/* ---- lenient start lines ------------------------------------------- */

/* Whitespace a server may take for the separator (RFC 9112 section 3:
 * SP, HTAB, VT, FF, bare CR). */
static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* A method of the list (case-sensitive, as servers match them). */
static bool known_method(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < N_METHODS; i++) {
        size_t len = strlen(methods[i]) - 1;
        if (len == n && memcmp(methods[i], s, n) == 0)
            return true;
    }
    return false;
}

/* A request line servers read although it breaks the grammar: a known
 * method, then whitespace-separated words (tabs, runs of blanks), the
 * target possibly holding blanks or control bytes, the version odd,
 * followed by more words, or absent (HTTP/0.9). The target runs up to
 * the first later word that begins with "HTTP/"; the version is what
 * follows that "HTTP/" to the end of the line, so every byte of the line
 * is in the record. */
static bool request_line_lenient(const uint8_t *s, size_t n, bool partial,
                                 struct start *out)
{
    size_t i = 0, e = n, t, w;
    while (i < n && is_tchar(s[i]))
        i++;
    if (i == n)
        return partial;
    if (i == 0 || !is_ws(s[i]) || !known_method(s, i))
        return false;
    out->method = span_of(0, i);
    while (i < n && is_ws(s[i]))
        i++;
    if (partial)
        return true;
    while (e > i && is_ws(s[e - 1]))
        e--;
    if (e == i)
        return false;
    t = i;
    /* past the first word, each word that starts "HTTP/" ends the target */
    w = i;
    while (w < e && !is_ws(s[w]))
        w++;
    while (w < e) {
        size_t v = w;
        while (v < e && is_ws(s[v]))
            v++;
        if (e - v >= 5 && memcmp(s + v, "HTTP/", 5) == 0) {
            out->uri = span_of(t, w - t);
            out->version = span_of(v + 5, e - v - 5);
            return true;
        }
        w = v;
        while (w < e && !is_ws(s[w]))
            w++;
    }
    out->uri = span_of(t, e - t);
    return true;
}

/* A status line clients read although it breaks the grammar: an odd
 * version ("HTTP/1.", "HTTP/2"), tabs, a status of one or two digits or
 * below 100, or text right after the digits ("2XX OK", whose reason is
 * then "XX OK"). */
static bool status_line_lenient(const uint8_t *s, size_t n, bool partial,
                                struct start *out)
{
    static const char pfx[] = "HTTP/";
    size_t i = 0, v, d;
    uint32_t status = 0;
    for (; i < sizeof(pfx) - 1; i++) {
        if (i == n)
            return partial;
        if (s[i] != (uint8_t)pfx[i])
            return false;
    }
    v = i;
    while (i < n && (is_digit(s[i]) || s[i] == '.'))
        i++;
    if (i == n)
        return partial && (i == v || is_digit(s[v]));
    if (i == v || !is_digit(s[v]) || !is_ws(s[i]))
        return false;
    out->version = span_of(v, i - v);
    while (i < n && is_ws(s[i]))
        i++;
    d = i;
    while (i < n && i - d < 3 && is_digit(s[i]))
        status = status * 10 + (uint32_t)(s[i++] - '0');
    if (i == d)
        return i == n && partial;
    if (i < n && is_digit(s[i]))
        return false;
    out->status = status;
    while (i < n && is_ws(s[i]))
        i++;
    out->reason = span_of(i, n - i);
    return true;
}

enum line_verdict {
    LINE_BAD,      /* not a start line: skipped */
    LINE_LENIENT,  /* read as servers (clients) would: flagged malformed */
    LINE_OK,
};

/* Checks a start line: the whole line (without its line end), or with
 * partial set the bytes so far, which pass while they can still begin a
 * line. A prefix that fails makes every longer one fail, so the verdict
 * does not depend on where packets split the line. `strict` admits only
 * the grammar (a line found while resynchronising), else also what
 * servers and clients read leniently. */
static enum line_verdict start_line(enum http_dir dir, const uint8_t *s,
                                    size_t n, bool partial, bool strict,
                                    struct start *out)
{
    struct start scratch;
    bool ok;
    if (!out)
        out = &scratch;
    memset(out, 0, sizeof(*out));
    /* a CR at the end may be the start of the line end */
    if (n > 0 && s[n - 1] == '\r')
        n--;
    ok = dir == HTTP_DIR_REQUEST ? request_line(s, n, partial, out)
                                 : status_line(s, n, partial, out);
    if (ok)
        return LINE_OK;
    if (strict)
        return LINE_BAD;
    memset(out, 0, sizeof(*out));
    ok = dir == HTTP_DIR_REQUEST ? request_line_lenient(s, n, partial, out)
                                 : status_line_lenient(s, n, partial, out);
    return ok ? LINE_LENIENT : LINE_BAD;
}

/* ---- buffers --------------------------------------------------------- */

static size_t head_cap(const http_parser_t *p)
{
    return p->lim->max_header_bytes;
}

static int hbuf_reserve(http_parser_t *p, size_t need)
{
    size_t limit = head_cap(p) > HBUF_MIN ? head_cap(p) : HBUF_MIN;
    size_t ncap = p->hcap * 2;
    uint8_t *nb;
    if (need <= p->hcap)
        return 0;
    if (ncap < need)
        ncap = need;
    if (ncap > limit && need <= limit)
        ncap = limit;
    nb = realloc(p->hbuf, ncap);
    if (!nb)
        return -1;
    p->cnt->mem_used += ncap - p->hcap;
    p->hbuf = nb;
    p->hcap = ncap;
    return 0;
}

static int hbuf_append(http_parser_t *p, const uint8_t *d, size_t n)
{
    if (n == 0)
        return 0;
    if (hbuf_reserve(p, p->hlen + n) < 0)
        return -1;
    memcpy(p->hbuf + p->hlen, d, n);
    p->hlen += n;
    return 0;
}

static size_t head_len(const http_parser_t *p)
{
    return p->zc ? p->zc_len : p->hlen;
}

static const uint8_t *head_base(const http_parser_t *p)
{
    return p->zc ? p->zc : p->hbuf;
}

/* Adds the next n bytes of the head, which start at d. While the head
 * started in this feed, they are already in place after zc. */
static int head_add(http_parser_t *p, const uint8_t *d, size_t n)
{
    if (p->zc) {
        p->zc_len += n;
        return 0;
    }
    if (p->hlen == 0) {
        p->zc = d;
        p->zc_len = n;
        return 0;
    }
    return hbuf_append(p, d, n);
}

/* Moves a zero-copy head into the head buffer; offsets stay valid. */
static int head_own(http_parser_t *p)
{
    if (!p->zc)
        return 0;
    if (hbuf_reserve(p, p->zc_len) < 0)
        return -1;
    memcpy(p->hbuf, p->zc, p->zc_len);
    p->hlen = p->zc_len;
    p->zc = NULL;
    p->zc_len = 0;
    return 0;
}

static int hs_reserve(http_parser_t *p, uint32_t need)
{
    uint32_t ncap;
    struct hspan *nh;
    struct msg_header *nm;
    if (need <= p->hs_cap)
        return 0;
    ncap = p->hs_cap ? p->hs_cap * 2 : HDRS_FIRST;
    if (ncap < p->hs_cap || ncap > p->lim->max_headers)
        ncap = p->lim->max_headers;
    if (ncap < need)
        return -1;
    nh = realloc(p->hs, (size_t)ncap * sizeof(*nh));
    if (!nh)
        return -1;
    p->hs = nh;
    nm = realloc(p->hdrs, (size_t)ncap * sizeof(*nm));
    if (!nm)
        return -1;
    p->hdrs = nm;
    p->cnt->mem_used += (uint64_t)(ncap - p->hs_cap) * HS_BYTES;
    p->hs_cap = ncap;
    return 0;
}

static int bbuf_reserve(http_parser_t *p, size_t need)
{
    size_t ncap;
    uint8_t *nb;
    if (need <= p->bcap)
        return 0;
    ncap = p->bcap ? p->bcap * 2 : BBUF_FIRST;
    if (ncap < need)
        ncap = need;
    if ((uint64_t)ncap > p->lim->body_max)
        ncap = (size_t)p->lim->body_max;
    nb = realloc(p->bbuf, ncap);
    if (!nb)
        return -1;
    p->cnt->mem_used += ncap - p->bcap;
    p->bbuf = nb;
    p->bcap = ncap;
    return 0;
}

static void truncated(http_parser_t *p)
{
    if (!(p->flags & MSG_F_TRUNCATED)) {
        p->flags |= MSG_F_TRUNCATED;
        p->cnt->body_truncated++;
    }
}

/* Counts n body bytes and keeps what fits under body_max. After a gap
 * the body has a hole, so nothing more is kept. */
static void body_take(http_parser_t *p, const uint8_t *d, size_t n)
{
    uint64_t room, k;
    p->body_len += n;
    if (p->flags & MSG_F_GAP)
        return;
    room = p->lim->body_max > p->blen ? p->lim->body_max - p->blen : 0;
    k = n < room ? n : room;
    if (k > 0 && bbuf_reserve(p, p->blen + (size_t)k) == 0) {
        memcpy(p->bbuf + p->blen, d, (size_t)k);
        p->blen += (size_t)k;
    } else {
        k = 0;
    }
    if (k < n)
        truncated(p);
}

/* ---- messages -------------------------------------------------------- */

static void msg_reset(http_parser_t *p)
{
    p->state = ST_IDLE;
    p->hlen = 0;
    p->zc = NULL;
    p->zc_len = 0;
    p->eoh = EOH_TEXT;
    p->fold = false;
    memset(&p->method, 0, sizeof(p->method));
    memset(&p->uri, 0, sizeof(p->uri));
    memset(&p->version, 0, sizeof(p->version));
    memset(&p->reason, 0, sizeof(p->reason));
    memset(&p->fr, 0, sizeof(p->fr));
    p->status = 0;
    p->n_hs = 0;
    p->flags = 0;
    p->blen = 0;
    p->bview = NULL;
    p->body_len = 0;
    p->remaining = 0;
    p->chunk = 0;
    p->digits = 0;
    p->sub = 0;
    p->side_len = 0;
    p->ts_first = 0;
    p->ts_last = 0;
}

static struct http_start start_of(const http_parser_t *p)
{
    return (struct http_start){ p->pos_first, p->mark_first, p->ts_first };
}

static void emit(http_parser_t *p)
{
    p->completed = true;
    const uint8_t *base = head_base(p);
    struct http_parsed m;
    memset(&m, 0, sizeof(m));
    m.dir = p->dir;
    if (p->dir == HTTP_DIR_REQUEST) {
        m.method = bytes_at(base, p->method);
        m.uri = bytes_at(base, p->uri);
        p->cnt->requests++;
    } else {
        m.status = p->status;
        m.reason = bytes_at(base, p->reason);
        p->cnt->responses++;
    }
    m.version = bytes_at(base, p->version);
    for (uint32_t i = 0; i < p->n_hs; i++) {
        p->hdrs[i].name = bytes_at(base, p->hs[i].name);
        p->hdrs[i].value = bytes_at(base, p->hs[i].value);
    }
    m.headers = p->n_hs ? p->hdrs : NULL;
    m.n_headers = p->n_hs;
    if (p->blen > 0) {
        m.body.p = (const char *)(p->bview ? p->bview : p->bbuf);
        m.body.n = p->blen > UINT32_MAX ? UINT32_MAX : (uint32_t)p->blen;
    }
    m.body_len = p->body_len;
    m.flags = p->flags;
    m.ts_first_ns = p->ts_first;
    m.ts_last_ns = p->ts_last;
    m.start = start_of(p);
    if (p->flags & MSG_F_MALFORMED)
        p->cnt->malformed++;
    if (p->flags & MSG_F_INCOMPLETE)
        p->cnt->incomplete++;
    p->cb(p->ctx, &m);
}

/* Emits the message and gets ready for the next. */
static void complete(http_parser_t *p)
{
    emit(p);
    msg_reset(p);
}

static void enter_resync(http_parser_t *p)
{
    msg_reset(p);
    p->state = ST_RESYNC;
    p->resync_run = 0;
}

static void stop(http_parser_t *p)
{
    msg_reset(p);
    p->state = ST_STOPPED;
}

/* A message's first byte is d[i] of the state being run. */
static void begin(http_parser_t *p, size_t i, uint64_t ts)
{
    p->ts_first = ts;
    p->pos_first = p->at + i;
    p->mark_first = p->mark;
}

/* The class of the request a final response answers. */
static enum http_req_class classify(http_parser_t *p)
{
    if (!p->classify)
        return HTTP_REQ_NORMAL;
    struct http_start s = start_of(p);
    return p->classify(p->classify_ctx, &s);
}

static bool interim(const http_parser_t *p)
{
    return p->dir == HTTP_DIR_RESPONSE && p->status >= 100 &&
           p->status < 200 && p->status != 101;
}

/* ---- header lines ---------------------------------------------------- */

/* Content-Length = 1*DIGIT, possibly a list of equal values ("5, 5")
 * or repeated fields; different values or non-digits make it invalid. */
static void content_length(struct framing *fr, const uint8_t *v, size_t n)
{
    size_t i = 0;
    for (;;) {
        uint64_t x = 0;
        size_t digits = 0;
        while (i < n && is_ows(v[i]))
            i++;
        while (i < n && is_digit(v[i])) {
            uint64_t d = (uint64_t)(v[i] - '0');
            if (x > (HTTP_LEN_MAX - d) / 10) {
                fr->cl_seen = true;
                fr->cl_bad = true;
                return;
            }
            x = x * 10 + d;
            digits++;
            i++;
        }
        while (i < n && is_ows(v[i]))
            i++;
        if (digits == 0 || (i < n && v[i] != ',') ||
            (fr->cl_seen && fr->cl != x)) {
            fr->cl_seen = true;
            fr->cl_bad = true;
            return;
        }
        fr->cl_seen = true;
        fr->cl = x;
        if (i >= n)
            return;
        i++; /* ',' */
    }
}

/* Transfer-Encoding: the message is chunked when the last coding of the
 * last field is "chunked" (parameters after ';' ignored). */
static void transfer_encoding(struct framing *fr, const uint8_t *v, size_t n)
{
    size_t end = n, start, stop;
    fr->te_seen = true;
    while (end > 0 && (is_ows(v[end - 1]) || v[end - 1] == ','))
        end--;
    if (end == 0) {
        fr->te_chunked = false;
        return;
    }
    start = end;
    while (start > 0 && v[start - 1] != ',')
        start--;
    stop = start;
    while (stop < end && v[stop] != ';')
        stop++;
    while (start < stop && is_ows(v[start]))
        start++;
    while (stop > start && is_ows(v[stop - 1]))
        stop--;
    fr->te_chunked = case_eq(v + start, stop - start, "chunked");
}

static void header_done(http_parser_t *p, const uint8_t *base,
                        const struct hspan *h, bool valid_name)
{
    if (valid_name) {
        const uint8_t *v = base + h->value.off;
        if (span_case_eq(base, h->name, "content-length"))
            content_length(&p->fr, v, h->value.len);
        else if (span_case_eq(base, h->name, "transfer-encoding"))
            transfer_encoding(&p->fr, v, h->value.len);
    }
    if (p->n_hs < p->lim->max_headers && hs_reserve(p, p->n_hs + 1) == 0) {
        p->hs[p->n_hs++] = *h;
        return;
    }
    p->cnt->headers_dropped++;
    p->flags |= MSG_F_HEADERS_TRUNCATED;
}

/* Appends an obs-fold line [s, e) to the value of h, joined by one SP
 * (RFC 9112 section 5.2). Needs the head in a writable buffer. */
static void unfold(uint8_t *buf, struct hspan *h, size_t s, size_t e)
{
    size_t n, end;
    while (s < e && is_ows(buf[s]))
        s++;
    while (e > s && is_ows(buf[e - 1]))
        e--;
    n = e - s;
    if (n == 0)
        return;
    if (h->value.len == 0) {
        h->value = span_of(s, n);
        return;
    }
    /* the fold's line end lies between: the move goes backwards */
    end = (size_t)h->value.off + h->value.len;
    buf[end] = ' ';
    memmove(buf + end + 1, buf + s, n);
    h->value.len += (uint32_t)(n + 1);
}

/* Parses the header lines of head[pos, n) up to the blank line, or up to
 * the last whole line of a head cut short. mut is the head when it may
 * be written (obs-fold), else NULL. */
static void parse_fields(http_parser_t *p, uint8_t *mut, const uint8_t *head,
                         size_t n, size_t pos)
{
    struct hspan cur = { { 0, 0 }, { 0, 0 } };
    bool have = false, valid = false;

    while (pos < n) {
        const uint8_t *lf = memchr(head + pos, '\n', n - pos);
        size_t end, next, colon, vs, ve;
        if (!lf)
            break;
        end = (size_t)(lf - head);
        next = end + 1;
        if (end > pos && head[end - 1] == '\r')
            end--;
        if (end == pos)
            break;
        if (is_ows(head[pos])) {
            if (have && mut)
                unfold(mut, &cur, pos, end);
            else
                p->flags |= MSG_F_MALFORMED;
            pos = next;
            continue;
        }
        if (have)
            header_done(p, head, &cur, valid);
        have = false;
        colon = pos;
        while (colon < end && head[colon] != ':')
            colon++;
        if (colon == end || colon == pos) {
            p->flags |= MSG_F_MALFORMED;
            pos = next;
            continue;
        }
        /* a name that is not a token ("Transfer-Encoding :") is kept as
         * sent, for the audit, but never used for framing */
        valid = true;
        for (size_t i = pos; i < colon && valid; i++)
            valid = is_tchar(head[i]);
        if (!valid)
            p->flags |= MSG_F_MALFORMED;
        vs = colon + 1;
        while (vs < end && is_ows(head[vs]))
            vs++;
        ve = end;
        while (ve > vs && is_ows(head[ve - 1]))
            ve--;
        cur.name = span_of(pos, colon - pos);
        cur.value = span_of(vs, ve - vs);
        have = true;
        pos = next;
    }
    if (have)
        header_done(p, head, &cur, valid);
}

/* Parses the head as it stands: whole, or cut short (then up to its last
 * whole line). The start line was checked when its line end arrived. */
static void parse_head(http_parser_t *p)
{
    const uint8_t *head, *lf;
    uint8_t *mut = NULL;
    size_t n, line;
    struct start st;

    if (p->fold && head_own(p) == 0)
        mut = p->hbuf;
    head = head_base(p);
    n = head_len(p);
    lf = n ? memchr(head, '\n', n) : NULL;
    if (!lf)
        return;
    line = (size_t)(lf - head);
    if (start_line(p->dir, head, line, false, p->strict_line, &st) !=
        LINE_OK)
        p->flags |= MSG_F_MALFORMED;
    p->method = st.method;
    p->uri = st.uri;
    p->version = st.version;
    p->reason = st.reason;
    p->status = st.status;
    parse_fields(p, mut, head, n, line + 1);
}

/* Ends the message in progress here: emits it flagged `why` when at
 * least its start line is whole, else counts its bytes as skipped. */
static void cut(http_parser_t *p, uint32_t why)
{
    switch (p->state) {
    case ST_LINE:
        p->cnt->resync_bytes += head_len(p);
        break;
    case ST_HEAD:
        parse_head(p);
        if (interim(p)) {
            p->cnt->interim++;
            break;
        }
        if (p->dir == HTTP_DIR_RESPONSE)
            classify(p);
        p->flags |= why;
        emit(p);
        break;
    case ST_BODY_LEN:
    case ST_CHUNK_SIZE:
    case ST_CHUNK_EXT:
    case ST_CHUNK_DATA:
    case ST_CHUNK_END:
    case ST_TRAILER:
    case ST_BODY_CLOSE:
        p->flags |= why;
        emit(p);
        break;
    case ST_RESYNC:
        p->cnt->resync_bytes += p->hlen;
        break;
    case ST_IDLE:
    case ST_STOPPED:
        break;
    }
    msg_reset(p);
}

/* ---- framing (RFC 9112 section 6.3) ---------------------------------- */

static void start_chunked(http_parser_t *p)
{
    p->flags |= MSG_F_CHUNKED;
    p->state = ST_CHUNK_SIZE;
}

static void start_length(http_parser_t *p)
{
    if (p->fr.cl == 0) {
        complete(p);
        return;
    }
    p->remaining = p->fr.cl;
    p->state = ST_BODY_LEN;
}

/* The message has no body we can delimit: emit it and look for the next
 * start line. */
static void unframed(http_parser_t *p)
{
    p->flags |= MSG_F_MALFORMED;
    emit(p);
    enter_resync(p);
}

static void request_framing(http_parser_t *p)
{
    if (p->fr.te_seen) {
        /* CL with TE, or TE in HTTP/1.0: a smuggling indicator */
        if (p->fr.cl_seen || span_case_eq(head_base(p), p->version, "1.0"))
            p->flags |= MSG_F_MALFORMED;
        if (p->fr.te_chunked)
            start_chunked(p);
        else
            unframed(p);
    } else if (p->fr.cl_seen) {
        if (p->fr.cl_bad)
            unframed(p);
        else
            start_length(p);
    } else {
        complete(p);
    }
}

static void response_framing(http_parser_t *p)
{
    enum http_req_class c;
    if (interim(p)) {
        p->cnt->interim++;
        msg_reset(p);
        return;
    }
    c = classify(p);
    if (p->status == 101 ||
        (c == HTTP_REQ_CONNECT && p->status >= 200 && p->status < 300)) {
        p->flags |= MSG_F_UPGRADE;
        p->cnt->upgrades++;
        emit(p);
        stop(p);
        p->tunnel = true;
        return;
    }
    if (c == HTTP_REQ_HEAD || p->status == 204 || p->status == 304) {
        complete(p);
        return;
    }
    if (p->fr.te_seen) {
        if (p->fr.cl_seen || span_case_eq(head_base(p), p->version, "1.0"))
            p->flags |= MSG_F_MALFORMED;
        if (p->fr.te_chunked)
            start_chunked(p);
        else
            p->state = ST_BODY_CLOSE;
    } else if (p->fr.cl_seen) {
        if (p->fr.cl_bad)
            unframed(p);
        else
            start_length(p);
    } else {
        p->state = ST_BODY_CLOSE;
    }
}

/* ---- states ---------------------------------------------------------- */

/* Each takes the unconsumed input d[0, n) and returns what it used. */

/* Notes that n bytes of the message arrived at ts; returns n. */
static size_t took(http_parser_t *p, size_t n, uint64_t ts)
{
    if (n > 0)
        p->ts_last = ts;
    return n;
}

static size_t on_idle(http_parser_t *p, const uint8_t *d, size_t n,
                      uint64_t ts)
{
    size_t i = 0;
    while (i < n && (d[i] == '\r' || d[i] == '\n'))
        i++;
    if (i < n) {
        msg_reset(p);
        p->state = ST_LINE;
        p->strict_line = false;
        begin(p, i, ts);
        p->ts_last = ts;
    }
    return i;
}

static void overflow(http_parser_t *p)
{
    p->cnt->header_overflow++;
    cut(p, MSG_F_MALFORMED | MSG_F_INCOMPLETE);
    enter_resync(p);
}

/* The length of the shortest prefix of the head's first `len` bytes that
 * cannot begin a start line (those before `from` are known to pass), or
 * 0 when every one can. */
static size_t first_bad_prefix(const http_parser_t *p, size_t from,
                               size_t len)
{
    const uint8_t *h = head_base(p);
    if (len > START_WINDOW)
        len = START_WINDOW;
    if (start_line(p->dir, h, len, true, p->strict_line, NULL) != LINE_BAD)
        return 0;
    for (size_t k = from + 1; k < len; k++)
        if (start_line(p->dir, h, k, true, p->strict_line, NULL) == LINE_BAD)
            return k;
    return len;
}

/* The start line is not one: resynchronise. A line refused within its
 * first START_WINDOW bytes is given up at the byte that refused it, which
 * is looked at again (binary bytes may run straight into a request: a
 * SOCKS handshake, a lost body's tail); one refused later, at its end.
 * Either way the point depends on the bytes alone, not on the packets. */
static size_t refuse_line(http_parser_t *p, size_t have, size_t used,
                          size_t line_len)
{
    size_t k = first_bad_prefix(p, have, line_len);
    if (k > have) {
        /* bytes [have, k - 1) of the head came in this feed */
        p->cnt->resync_bytes += k - 1;
        enter_resync(p);
        return k - 1 - have;
    }
    p->cnt->resync_bytes += head_len(p);
    enter_resync(p);
    return used;
}

/* A response parser at a message boundary whose bytes cannot begin a
 * status line: true when they answer an HTTP/0.9 request. */
static bool bare_answer(const http_parser_t *p)
{
    return p->dir == HTTP_DIR_RESPONSE && !p->strict_line && p->http09 &&
           p->http09(p->http09_ctx);
}

/* An HTTP/0.9 request is answered by the bytes up to the close, without
 * a status line or headers (nginx and Python's http.server still do):
 * the message is those bytes, status 0, flagged malformed. */
static size_t answer_http09(http_parser_t *p, size_t used)
{
    p->flags |= MSG_F_MALFORMED;
    classify(p);
    body_take(p, head_base(p), head_len(p));
    p->hlen = 0;
    p->zc = NULL;
    p->zc_len = 0;
    p->state = ST_BODY_CLOSE;
    return used;
}

static size_t on_line(http_parser_t *p, const uint8_t *d, size_t n,
                      uint64_t ts)
{
    size_t have = head_len(p), cap = head_cap(p);
    size_t room = cap > have ? cap - have : 0;
    size_t take = n < room ? n : room, used, len;
    const uint8_t *lf = take ? memchr(d, '\n', take) : NULL;

    used = lf ? (size_t)(lf - d) + 1 : take;
    if (head_add(p, d, used) < 0) {
        p->cnt->resync_bytes += have + used;
        enter_resync(p);
        return used;
    }
    took(p, used, ts);
    len = head_len(p);
    if (lf) {
        if (start_line(p->dir, head_base(p), len - 1, false, p->strict_line,
                       NULL) == LINE_BAD)
            return bare_answer(p) ? answer_http09(p, used)
                                  : refuse_line(p, have, used, len - 1);
        p->state = ST_HEAD;
        p->eoh = EOH_LF;
        return used;
    }
    if (first_bad_prefix(p, have, len))
        return bare_answer(p) ? answer_http09(p, used)
                              : refuse_line(p, have, used, len);
    if (len >= cap)
        overflow(p);
    return used;
}

/* Scans for the blank line that ends the head; returns the bytes that
 * belong to the head. */
static size_t scan_head_end(http_parser_t *p, const uint8_t *d, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c;
        if (p->eoh == EOH_TEXT) {
            const uint8_t *lf = memchr(d + i, '\n', n - i);
            if (!lf)
                return n;
            i = (size_t)(lf - d) + 1;
            p->eoh = EOH_LF;
            continue;
        }
        c = d[i++];
        if (c == '\n') {
            p->eoh = EOH_DONE;
            return i;
        }
        if (p->eoh == EOH_LF && c == '\r') {
            p->eoh = EOH_LFCR;
            continue;
        }
        if (p->eoh == EOH_LF && is_ows(c))
            p->fold = true;
        p->eoh = EOH_TEXT;
    }
    return n;
}

static size_t on_head(http_parser_t *p, const uint8_t *d, size_t n,
                      uint64_t ts)
{
    size_t have = head_len(p), cap = head_cap(p);
    size_t room = cap > have ? cap - have : 0;
    size_t take = n < room ? n : room;
    size_t used = scan_head_end(p, d, take);

    if (head_add(p, d, used) < 0) {
        p->cnt->header_overflow++;
        cut(p, MSG_F_MALFORMED | MSG_F_INCOMPLETE);
        enter_resync(p);
        return used;
    }
    took(p, used, ts);
    if (p->eoh == EOH_DONE) {
        parse_head(p);
        if (p->dir == HTTP_DIR_REQUEST)
            request_framing(p);
        else
            response_framing(p);
        return used;
    }
    if (head_len(p) >= cap)
        overflow(p);
    return used;
}

static size_t on_body_len(http_parser_t *p, const uint8_t *d, size_t n,
                          uint64_t ts)
{
    size_t take = p->remaining < n ? (size_t)p->remaining : n;
    took(p, take, ts);
    if (take == p->remaining && p->body_len == 0 && p->blen == 0 &&
        p->remaining <= p->lim->body_max && !(p->flags & MSG_F_GAP)) {
        /* whole body in this feed: lend it */
        p->bview = d;
        p->blen = take;
        p->body_len = take;
    } else {
        body_take(p, d, take);
    }
    p->remaining -= take;
    if (p->remaining == 0)
        complete(p);
    return take;
}

/* Bad chunked framing at d[used] (not consumed): emit the message as it
 * stands and resynchronise from that byte. */
static size_t bad_chunk(http_parser_t *p, size_t used, uint64_t ts)
{
    took(p, used, ts);
    cut(p, MSG_F_MALFORMED | MSG_F_INCOMPLETE);
    enter_resync(p);
    return used;
}

static size_t on_chunk_size(http_parser_t *p, const uint8_t *d, size_t n,
                            uint64_t ts)
{
    size_t i = 0;
    while (i < n) {
        int v = hex_digit(d[i]);
        if (v < 0) {
            if (p->digits == 0)
                return bad_chunk(p, i, ts);
            p->state = ST_CHUNK_EXT;
            p->sub = EXT_WS;
            p->side_len = 0;
            return took(p, i, ts);
        }
        if (p->chunk > (HTTP_LEN_MAX - (uint64_t)v) / 16)
            return bad_chunk(p, i, ts);
        p->chunk = p->chunk * 16 + (uint64_t)v;
        p->digits++;
        i++;
    }
    return took(p, i, ts);
}

static void chunk_line_done(http_parser_t *p)
{
    if (p->chunk == 0) {
        p->state = ST_TRAILER;
        p->sub = TR_START;
        p->side_len = 0;
    } else {
        p->state = ST_CHUNK_DATA;
        p->remaining = p->chunk;
    }
}

static size_t on_chunk_ext(http_parser_t *p, const uint8_t *d, size_t n,
                           uint64_t ts)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = d[i];
        if (p->sub == EXT_TEXT) {
            /* chunk-ext up to the line end, at most max_header_bytes */
            uint64_t room = head_cap(p) > p->side_len ?
                            head_cap(p) - p->side_len : 0;
            size_t k = (uint64_t)(n - i) < room ? n - i : (size_t)room;
            const uint8_t *lf = k ? memchr(d + i, '\n', k) : NULL;
            if (lf) {
                chunk_line_done(p);
                return took(p, (size_t)(lf - d) + 1, ts);
            }
            if (k == 0)
                return bad_chunk(p, i, ts);
            p->side_len += k;
            i += k;
            continue;
        }
        if (c == '\n') {
            chunk_line_done(p);
            return took(p, i + 1, ts);
        }
        if (p->sub == EXT_CR)
            return bad_chunk(p, i, ts);
        if (c == '\r')
            p->sub = EXT_CR;
        else if (c == ';')
            p->sub = EXT_TEXT;
        else if (!is_ows(c))
            return bad_chunk(p, i, ts);
        i++;
    }
    return took(p, i, ts);
}

static size_t on_chunk_data(http_parser_t *p, const uint8_t *d, size_t n,
                            uint64_t ts)
{
    size_t take = p->remaining < n ? (size_t)p->remaining : n;
    took(p, take, ts);
    body_take(p, d, take);
    p->remaining -= take;
    if (p->remaining == 0) {
        p->state = ST_CHUNK_END;
        p->sub = END_CR;
    }
    return take;
}

static size_t on_chunk_end(http_parser_t *p, const uint8_t *d, size_t n,
                           uint64_t ts)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = d[i];
        if (c == '\n') {
            p->state = ST_CHUNK_SIZE;
            p->chunk = 0;
            p->digits = 0;
            return took(p, i + 1, ts);
        }
        if (c != '\r' || p->sub == END_LF)
            return bad_chunk(p, i, ts);
        p->sub = END_LF;
        i++;
    }
    return took(p, i, ts);
}

static size_t on_trailer(http_parser_t *p, const uint8_t *d, size_t n,
                         uint64_t ts)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = d[i];
        if (p->sub == TR_LINE) {
            /* trailer fields are skipped, at most max_header_bytes */
            uint64_t room = head_cap(p) > p->side_len ?
                            head_cap(p) - p->side_len : 0;
            size_t k = (uint64_t)(n - i) < room ? n - i : (size_t)room;
            const uint8_t *lf = k ? memchr(d + i, '\n', k) : NULL;
            size_t stop = lf ? (size_t)(lf - d) + 1 : i + k;
            if (stop == i)
                return bad_chunk(p, i, ts);
            p->side_len += stop - i;
            i = stop;
            if (lf)
                p->sub = TR_START;
            continue;
        }
        if (c == '\n') {
            took(p, i + 1, ts);
            complete(p);
            return i + 1;
        }
        if (p->sub == TR_START && c == '\r') {
            p->sub = TR_CR;
            i++;
            continue;
        }
        p->sub = TR_LINE;
    }
    return took(p, i, ts);
}

static size_t on_body_close(http_parser_t *p, const uint8_t *d, size_t n,
                            uint64_t ts)
{
    took(p, n, ts);
    body_take(p, d, n);
    return n;
}

/* Does hbuf[0, hlen) + c begin a start line? 1 whole prefix matched,
 * 0 could still match, -1 no. */
static int candidate(const http_parser_t *p, uint8_t c)
{
    size_t n = p->hlen;
    if (p->dir == HTTP_DIR_RESPONSE) {
        if (n >= sizeof(resp_start) - 1 || (uint8_t)resp_start[n] != c ||
            memcmp(resp_start, p->hbuf, n) != 0)
            return -1;
        return n + 1 == sizeof(resp_start) - 1;
    }
    for (size_t i = 0; i < N_METHODS; i++) {
        const char *m = methods[i];
        size_t len = strlen(m);
        if (len > n && (uint8_t)m[n] == c && memcmp(m, p->hbuf, n) == 0)
            return n + 1 == len;
    }
    return -1;
}

static void skipped(http_parser_t *p, size_t n)
{
    p->cnt->resync_bytes += n;
    p->resync_run += n;
    if (p->resync_run > HTTP_RESYNC_MAX)
        stop(p);
}

/* Can byte c begin a start line found by resync? */
static bool may_start(enum http_dir dir, uint8_t c)
{
    static const char firsts[] = "ABCDGHLMNOPRSTU"; /* of `methods` */
    if (dir == HTTP_DIR_RESPONSE)
        return c == (uint8_t)resp_start[0];
    return memchr(firsts, c, sizeof(firsts) - 1) != NULL;
}

/* Looks at every byte for the start of a message, in a line or not
 * (binary bytes may run straight into one); what is found there must
 * keep to the grammar. */
static size_t on_resync(http_parser_t *p, const uint8_t *d, size_t n,
                        uint64_t ts)
{
    size_t i = 0;
    while (i < n) {
        size_t span, j;
        if (p->hlen > 0 || may_start(p->dir, d[i])) {
            int m = candidate(p, d[i]);
            if (m >= 0) {
                if (p->hlen == 0)
                    begin(p, i, ts);
                p->hbuf[p->hlen++] = d[i++];
                if (m == 1) {
                    /* keep hlen and ts_first: the message starts there */
                    p->state = ST_LINE;
                    p->strict_line = true;
                    p->ts_last = ts;
                    return i;
                }
                continue;
            }
            if (p->hlen > 0) {
                skipped(p, p->hlen);
                p->hlen = 0;
                if (p->state == ST_STOPPED)
                    return n;
                continue; /* d[i] may begin another candidate */
            }
        }
        /* up to the next byte that may begin one, or to the byte that
         * crosses the cap */
        span = n - i;
        if (span > HTTP_RESYNC_MAX - p->resync_run + 1)
            span = (size_t)(HTTP_RESYNC_MAX - p->resync_run + 1);
        j = i + 1;
        while (j < i + span && !may_start(p->dir, d[j]))
            j++;
        skipped(p, j - i);
        i = j;
        if (p->state == ST_STOPPED)
            return n;
    }
    return i;
}

/* ---- API ------------------------------------------------------------- */

http_parser_t *http_parser_new(enum http_dir dir,
                               const struct http_limits *limits,
                               struct http_counters *counters,
                               http_message_cb cb, void *ctx)
{
    http_parser_t *p;
    size_t first;
    if ((dir != HTTP_DIR_REQUEST && dir != HTTP_DIR_RESPONSE) || !limits ||
        !counters || !cb)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->dir = dir;
    p->lim = limits;
    p->cnt = counters;
    p->cb = cb;
    p->ctx = ctx;
    first = limits->max_header_bytes < HBUF_FIRST ?
            limits->max_header_bytes : HBUF_FIRST;
    p->hcap = first > HBUF_MIN ? first : HBUF_MIN;
    p->hbuf = malloc(p->hcap);
    if (!p->hbuf) {
        free(p);
        return NULL;
    }
    counters->mem_used += sizeof(*p) + p->hcap;
    msg_reset(p);
    return p;
}

void http_parser_destroy(http_parser_t **pp)
{
    http_parser_t *p;
    if (!pp || !*pp)
        return;
    p = *pp;
    p->cnt->mem_used -= sizeof(*p) + p->hcap + p->bcap +
                        (uint64_t)p->hs_cap * HS_BYTES;
    free(p->hbuf);
    free(p->bbuf);
    free(p->hs);
    free(p->hdrs);
    free(p);
    *pp = NULL;
}

void http_parser_feed(http_parser_t *p, const uint8_t *data, size_t len,
                      uint64_t ts_ns)
{
    size_t off = 0;
    if (!p || !data)
        return;
    uint64_t base = p->pos;
    p->pos += len;
    while (off < len && p->state != ST_STOPPED) {
        const uint8_t *d = data + off;
        size_t n = len - off, used = 0;
        p->at = base + off;
        switch (p->state) {
        case ST_IDLE:
            used = on_idle(p, d, n, ts_ns);
            break;
        case ST_LINE:
            used = on_line(p, d, n, ts_ns);
            break;
        case ST_HEAD:
            used = on_head(p, d, n, ts_ns);
            break;
        case ST_BODY_LEN:
            used = on_body_len(p, d, n, ts_ns);
            break;
        case ST_CHUNK_SIZE:
            used = on_chunk_size(p, d, n, ts_ns);
            break;
        case ST_CHUNK_EXT:
            used = on_chunk_ext(p, d, n, ts_ns);
            break;
        case ST_CHUNK_DATA:
            used = on_chunk_data(p, d, n, ts_ns);
            break;
        case ST_CHUNK_END:
            used = on_chunk_end(p, d, n, ts_ns);
            break;
        case ST_TRAILER:
            used = on_trailer(p, d, n, ts_ns);
            break;
        case ST_BODY_CLOSE:
            used = on_body_close(p, d, n, ts_ns);
            break;
        case ST_RESYNC:
            used = on_resync(p, d, n, ts_ns);
            break;
        case ST_STOPPED:
            break;
        }
        off += used;
        if (p->completed) {
            p->completed = false;
            p->done_pos = base + off;
        }
    }
    /* nothing may point into data once we return */
    p->bview = NULL;
    if (p->zc && head_own(p) < 0) {
        cut(p, MSG_F_INCOMPLETE);
        enter_resync(p);
    }
}

bool http_parser_gap(http_parser_t *p, uint64_t len, uint64_t ts_ns)
{
    if (!p || len == 0)
        return false;
    p->pos += len;
    p->cnt->gap_bytes += len;
    switch (p->state) {
    case ST_STOPPED:
        return false;
    case ST_BODY_LEN:
        if (len <= p->remaining) {
            /* counted through: the body keeps its length, not its bytes */
            p->flags |= MSG_F_GAP;
            p->body_len += len;
            p->remaining -= len;
            p->ts_last = ts_ns;
            if (p->remaining == 0)
                complete(p);
            return true;
        }
        break;
    default:
        break;
    }
    cut(p, MSG_F_GAP | MSG_F_INCOMPLETE);
    enter_resync(p);
    p->completed = false;
    return false;
}

void http_parser_close(http_parser_t *p, uint64_t ts_ns)
{
    if (!p)
        return;
    switch (p->state) {
    case ST_STOPPED:
        return;
    case ST_BODY_CLOSE:
        p->flags |= MSG_F_CLOSE_DELIMITED;
        complete(p);
        break;
    default:
        cut(p, MSG_F_INCOMPLETE);
        break;
    }
    p->completed = false;
    p->done_pos = p->pos;
    p->resync_run = 0;
}

void http_parser_set_classifier(http_parser_t *p, http_classify_fn fn,
                                void *ctx)
{
    p->classify = fn;
    p->classify_ctx = ctx;
}

void http_parser_set_http09(http_parser_t *p, http_http09_fn fn, void *ctx)
{
    p->http09 = fn;
    p->http09_ctx = ctx;
}

bool http_parser_current_http09(const http_parser_t *p)
{
    if (!p || p->dir != HTTP_DIR_REQUEST || p->state != ST_HEAD)
        return false;
    const uint8_t *h = head_base(p);
    size_t n = head_len(p);
    const uint8_t *lf = n ? memchr(h, '\n', n) : NULL;
    struct start st;
    return lf &&
           start_line(p->dir, h, (size_t)(lf - h), false, p->strict_line,
                      &st) != LINE_BAD &&
           st.version.len == 0;
}

void http_parser_set_mark(http_parser_t *p, uint64_t mark)
{
    if (p)
        p->mark = mark;
}

bool http_parser_current(const http_parser_t *p, struct http_start *s,
                         struct bytes *method)
{
    /* a resync candidate ("GE" in binary bytes) is not yet a message */
    bool under_way = p->state != ST_IDLE && p->state != ST_STOPPED &&
                     p->state != ST_RESYNC;
    *method = (struct bytes){ NULL, 0 };
    if (!under_way)
        return false;
    *s = start_of(p);
    if (p->state != ST_LINE && p->state != ST_RESYNC)
        *method = bytes_at(head_base(p), p->method);
    return true;
}

bool http_parser_stopped(const http_parser_t *p)
{
    return p && p->state == ST_STOPPED;
}

void http_parser_tunnel(http_parser_t *p)
{
    if (!p || p->tunnel)
        return;
    /* a message under way after the last one is tunnel bytes: dropped */
    msg_reset(p);
    p->state = ST_STOPPED;
    p->tunnel = true;
}

bool http_parser_in_tunnel(const http_parser_t *p)
{
    return p && p->tunnel;
}

uint64_t http_parser_tunnel_bytes(const http_parser_t *p)
{
    return p && p->tunnel ? p->pos - p->done_pos : 0;
}

bool http_looks_like_request(const uint8_t *data, size_t len)
{
    if (!data)
        return false;
    for (size_t i = 0; i < N_METHODS; i++) {
        size_t n = strlen(methods[i]);
        if (len > n && memcmp(data, methods[i], n) == 0 && data[n] > ' ')
            return true;
    }
    return false;
}

bool http_looks_like_response(const uint8_t *data, size_t len)
{
    struct start st;
    /* "HTTP/1.1 200" and more */
    return data && len >= 12 && start_line(HTTP_DIR_RESPONSE, data, 12,
                                           true, true, &st) == LINE_OK;
}
