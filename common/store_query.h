/* store_query.h - the trail's query protocol: pages of records over a
 * ZeroMQ REQ/REP socket, served by the logger while it holds the trail.
 *
 * Request: {"v":1, "since":ns, "until":ns, "limit":n, "after":bin?}.
 * Reply:   {"v":1, "records":[records, bodies in...], "next":bin|nil}
 *       or {"v":1, "error":"text"}.
 * "next" is the key to pass as "after" for the following page; nil when
 * the range is done. A reply holds at most STORE_REPLY_MAX_RECORDS and
 * about STORE_REPLY_MAX_BYTES, and at most `limit` when it is not 0.
 * Records travel as frame_add_record() packs them (a body the trail keeps
 * in a segment put back in: store_iter_record), so `hark query` prints
 * the same whether it reads the trail or asks the logger.
 *
 * A request may also ask for a scan of the trail's secondary keys
 * (store_index.h): "reverse":true (newest first), "summaries":true
 * (records without headers and body, up to STORE_REPLY_MAX_SUMMARIES a
 * page), "kind":n (enum record_kind), "status":[lo, hi] or "path":bin
 * (the index narrows; the client still filters), "keys":true (the reply
 * adds "keys":[bin...] and "seqs":[chain entry...], one per record).
 * Proof:   {"v":1, "proof":KEY, "seq":hint} -> {"v":1, "proof":{"seq",
 *          "last_seq", "verifies", "why", "hash", "cp_seq", "cp_matches",
 *          "cp_signed", "cp_final"}}, or {"v":1, "missing":true} when no
 *          record has that key (store_proof.h).
 */
#ifndef HARK_STORE_QUERY_H
#define HARK_STORE_QUERY_H

#include "store.h"
#include "store_proof.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_QUERY_VERSION 1
#define STORE_REPLY_MAX_RECORDS 1000u  /* per query reply */
#define STORE_REPLY_MAX_SUMMARIES 10000u
#define STORE_REPLY_MAX_BYTES (8u << 20)

struct store_query {
    uint64_t since_ns, until_ns;
    uint32_t limit;
    const void *after;
    size_t after_len;
};

/* What a scan request adds to a query (store_index.h). */
struct store_query_scan {
    bool reverse, summaries, keys, by_status;
    int kind;                     /* enum record_kind, 0: any */
    uint32_t status_lo, status_hi;
    const char *path;             /* or NULL */
    size_t path_len;
};

int store_query_encode(msgpack_sbuffer *sb, const struct store_query *q);
/* The same with a scan's fields (scan NULL: store_query_encode()). */
int store_query_encode_scan(msgpack_sbuffer *sb, const struct store_query *q,
                            const struct store_query_scan *scan);
/* Answers one request into reply (cleared first); always produces a
 * reply, an error reply when the request is bad. 0 or -ENOMEM. */
int store_query_serve(store_t *s, const void *req, size_t len,
                      msgpack_sbuffer *reply);
/* Parses a reply into d: 0 with the record count and the next key (NULL
 * when done), -EBADMSG, or -EREMOTEIO with the logger's error text in
 * err. Valid until the next call on d. */
int store_reply_read(store_decoder_t *d, const void *reply, size_t len,
                     uint32_t *n, const void **next, size_t *next_len,
                     char *err, size_t errlen);
/* Record i of the last reply read: 0 or -EBADMSG. */
int store_reply_record(store_decoder_t *d, uint32_t i,
                       struct audit_record *out);
/* Record i's key and chain entry, when the request asked for "keys":
 * 0, or -ENOENT (the reply has none for it). */
int store_reply_key(const store_decoder_t *d, uint32_t i, const void **key,
                    size_t *len, uint64_t *seq);

/* A proof request for key (seq: a hint, or 0). 0 or -ENOMEM. */
int store_query_encode_proof(msgpack_sbuffer *sb, const void *key,
                             size_t len, uint64_t seq);
/* Reads a proof reply: 0 with *out, -ENOENT (no such record), -EBADMSG,
 * or -EREMOTEIO with the logger's error text in err. */
int store_reply_proof(store_decoder_t *d, const void *reply, size_t len,
                      struct store_proof *out, char *err, size_t errlen);

#endif
