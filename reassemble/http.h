/* http.h - incremental HTTP/1.x message framing for one stream direction.
 *
 * The TCP layer feeds in-order bytes as they become available, in pieces
 * of any size; the parser resumes where it stopped and calls back once
 * per complete message (request or final response), with the body
 * de-chunked and kept up to a cap. Missing bytes (gaps) and the end of
 * the stream are reported too, so a message cut short is still emitted,
 * flagged, and parsing resynchronises on the next start line, wherever
 * it begins (after a line end or not: a lost body's tail or a SOCKS
 * handshake runs straight into it); one found so must keep to the
 * grammar.
 *
 * Start lines are read as servers read them: at a message boundary a
 * request line with a known method whose other parts break the grammar
 * (HTTP/0.9 "GET /", an odd or missing version, tabs, extra words, blanks
 * or control bytes in the target) is a request, and a status line with
 * an odd version or a status of one to three digits ("HTTP/1.0 2XX OK")
 * a response; both are kept byte for byte and flagged MSG_F_MALFORMED.
 * An HTTP/0.9 request's answer has no status line at all: the bytes up
 * to the close are its message (http_parser_set_http09).
 *
 * Framing follows RFC 9112 section 6: requests carry a body only with
 * Content-Length or chunked Transfer-Encoding; responses to HEAD, 1xx,
 * 204 and 304 have none; a 2xx to CONNECT and a 101 end HTTP on the
 * connection; otherwise a response without length runs to the close.
 * Interim 1xx responses (100 Continue) are counted, not emitted. Which
 * request a response answers is not the parser's to decide: it asks its
 * classifier (conn.c, pairing.h) when a response's head is parsed.
 *
 * All input is hostile: every length is checked, header bytes, header
 * count and body bytes kept are capped, and each cap has a counter in
 * struct http_counters.
 */
#ifndef HARK_REASSEMBLE_HTTP_H
#define HARK_REASSEMBLE_HTTP_H

#include "frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_dir { HTTP_DIR_REQUEST, HTTP_DIR_RESPONSE };

struct http_limits {
    uint32_t max_header_bytes; /* start line + headers; beyond: malformed */
    uint32_t max_headers;      /* header lines kept; beyond: flagged */
    uint64_t body_max;         /* body bytes kept; beyond: truncated */
};

/* Shared by all parsers of a shard; the parser only increments. */
struct http_counters {
    uint64_t requests, responses;   /* messages emitted */
    uint64_t interim;               /* 1xx other than 101, not emitted */
    uint64_t malformed;             /* messages with MSG_F_MALFORMED */
    uint64_t incomplete;            /* cut short by close or gap */
    uint64_t header_overflow;       /* start line + headers over the cap */
    uint64_t headers_dropped;       /* header lines over max_headers */
    uint64_t body_truncated;        /* bodies longer than body_max */
    uint64_t resync_bytes;          /* skipped looking for a start line */
    uint64_t gap_bytes;             /* reported missing */
    uint64_t upgrades;              /* CONNECT / 101: stopped parsing */
    uint64_t mem_used;              /* gauge: bytes the parsers hold */
};

/* What a response parser must know about the request it answers. */
enum http_req_class {
    HTTP_REQ_NORMAL,
    HTTP_REQ_HEAD,     /* response has no body */
    HTTP_REQ_CONNECT,  /* 2xx response opens a tunnel */
};

/* Where a message began: the offset of its first byte in the stream
 * (bytes fed plus gaps reported since the parser started), the mark in
 * force when that byte was fed, and its packet time. */
struct http_start {
    uint64_t pos;
    uint64_t mark;
    uint64_t ts_ns;
};

/* A parsed message, borrowed for the duration of the callback. */
struct http_parsed {
    enum http_dir dir;
    struct bytes method, uri;      /* request */
    uint32_t status;               /* response */
    struct bytes reason;           /* response */
    struct bytes version;          /* "1.1", "1.0" */
    const struct msg_header *headers;
    uint32_t n_headers;
    struct bytes body;             /* kept prefix of the de-chunked body */
    uint64_t body_len;             /* whole body length */
    uint32_t flags;                /* enum msg_flag */
    uint64_t ts_first_ns, ts_last_ns;
    struct http_start start;
};

typedef void (*http_message_cb)(void *ctx, const struct http_parsed *m);

typedef struct http_parser http_parser_t;

/* limits and counters are borrowed and must outlive the parser. */
http_parser_t *http_parser_new(enum http_dir dir,
                               const struct http_limits *limits,
                               struct http_counters *counters,
                               http_message_cb cb, void *ctx);
void http_parser_destroy(http_parser_t **p);

/* Feeds in-order stream bytes that arrived at packet time ts_ns. Calls
 * the callback for every message completed by these bytes. */
void http_parser_feed(http_parser_t *p, const uint8_t *data, size_t len,
                      uint64_t ts_ns);

/* len bytes of the stream are missing at this point. The current message
 * is emitted flagged MSG_F_GAP (and MSG_F_INCOMPLETE unless the gap fell
 * inside a body of known length, which is then counted through: then it
 * returns true, the missing bytes being accounted for by the message). */
bool http_parser_gap(http_parser_t *p, uint64_t len, uint64_t ts_ns);

/* The direction ended (FIN, RST, idle expiry, end of input): completes a
 * close-delimited body, emits a partial message flagged incomplete. */
void http_parser_close(http_parser_t *p, uint64_t ts_ns);

/* Response parsers: asked once per final response, when its head is
 * parsed and before its body is framed, for the class of the request it
 * answers. Without a classifier every response answers a normal
 * request. */
typedef enum http_req_class (*http_classify_fn)(void *ctx,
                                                const struct http_start *s);
void http_parser_set_classifier(http_parser_t *p, http_classify_fn fn,
                                void *ctx);

/* Response parsers: asked when the bytes at a message boundary cannot
 * begin a status line, whether the request they would answer is an
 * HTTP/0.9 one (a request line without a version). Then they are its
 * answer, to the end of the stream: emitted with status 0 and no
 * version, flagged MSG_F_MALFORMED. Otherwise (and without this
 * function) they are skipped, looking for a status line. */
typedef bool (*http_http09_fn)(void *ctx);
void http_parser_set_http09(http_parser_t *p, http_http09_fn fn, void *ctx);

/* Request parsers: true when the message under way has a whole request
 * line without a version (HTTP/0.9), its headers not yet ended. */
bool http_parser_current_http09(const http_parser_t *p);

/* Tags the bytes fed from now on (conn.c: how much of the other direction
 * their packet acknowledged); each message keeps the tag of its first
 * byte in http_parsed.start.mark. */
void http_parser_set_mark(http_parser_t *p, uint64_t mark);

/* True when a message is under way (its first byte seen, not yet
 * emitted; while resynchronising, once a whole method or "HTTP/1." was
 * found): *s says where it began and *method is its method once the
 * start line is whole (else empty; borrowed until the next feed). */
bool http_parser_current(const http_parser_t *p, struct http_start *s,
                         struct bytes *method);

/* True once the stream left HTTP (CONNECT tunnel, 101 upgrade, or bytes
 * that never resynchronised); further input is ignored. */
bool http_parser_stopped(const http_parser_t *p);

/* The connection became a tunnel (the other direction's 2xx to CONNECT or
 * 101): from the end of the last whole message on, nothing more is
 * parsed; what is under way is dropped unemitted. A response parser does
 * this itself after such a response. */
void http_parser_tunnel(http_parser_t *p);
bool http_parser_in_tunnel(const http_parser_t *p);
/* Bytes of the direction after the tunnel began (gaps included). */
uint64_t http_parser_tunnel_bytes(const http_parser_t *p);

/* True when the first bytes of a direction look like a request line
 * ("GET /..."), for telling client from server on midstream pickup. */
bool http_looks_like_request(const uint8_t *data, size_t len);
/* True when they look like a status line ("HTTP/1.1 200"). */
bool http_looks_like_response(const uint8_t *data, size_t len);

#endif
