/* store_query.h - the trail's query protocol: pages of records over a
 * ZeroMQ REQ/REP socket, served by the logger while it holds the trail.
 *
 * Request: {"v":1, "since":ns, "until":ns, "limit":n, "after":bin?}.
 * Reply:   {"v":1, "records":[stored values...], "next":bin|nil}
 *       or {"v":1, "error":"text"}.
 * "next" is the key to pass as "after" for the following page; nil when
 * the range is done. A reply holds at most STORE_REPLY_MAX_RECORDS and
 * about STORE_REPLY_MAX_BYTES, and at most `limit` when it is not 0.
 * Records travel as frame_add_record() packs them (a body the trail keeps
 * in a segment put back in: store_iter_record), so `hark query` prints
 * the same whether it reads the trail or asks the logger.
 */
#ifndef HARK_STORE_QUERY_H
#define HARK_STORE_QUERY_H

#include "store.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_QUERY_VERSION 1
#define STORE_REPLY_MAX_RECORDS 1000u  /* per query reply */
#define STORE_REPLY_MAX_BYTES (8u << 20)

struct store_query {
    uint64_t since_ns, until_ns;
    uint32_t limit;
    const void *after;
    size_t after_len;
};

int store_query_encode(msgpack_sbuffer *sb, const struct store_query *q);
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

#endif
