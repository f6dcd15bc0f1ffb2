/* store_index.h - the trail's secondary keys, and scans that use them.
 *
 * Beside the trail, in a LevelDB of its own (<trail>/index), the logger
 * keeps for each record:
 *
 *   "x" tk                    -> [seq, summary]   the record without its
 *                                                 headers and body
 *   "h" status:2 tk           -> ""               responses (status 0:
 *                                                 none came)
 *   "u" path NUL tk           -> ""               url.path (urlsplit.h),
 *                                                 at most
 *                                                 STORE_INDEX_PATH_MAX bytes
 *   "i"                       -> {"v":1, "upto": seq}  the last chain
 *                                                 entry indexed
 *
 * tk is the record key's fields at fixed width, ts:8 uid:8 idx:4 kind:1
 * dup:4 (dup 0 for a key without the suffix), so it sorts as the record
 * keys do and can be read off the end of a key. seq is the record's
 * chain entry. The entries of a batch are written right after the
 * batch's records commit; a database of their own keeps the trail's
 * compactions from rewriting its bodies for the index's sake. A logger
 * opening a trail indexes what the index lacks (the records of an older
 * hark, or of a logger that ended between the two writes). The index is
 * derived data: it is not chained and `hark verify` does not read it, so
 * it says where to look, never what a record holds (a reader that must
 * be sure reads the record and its proof, store_proof.h). Until it holds
 * every record of the trail it is not used: scans read the records.
 *
 * A scan yields, in key order (or reversed), at least the records of its
 * time range that match its narrowing (a kind, read off the keys; a
 * status range or a path prefix, through "h" or "u"), and may yield
 * more: the caller still filters. With `summaries` it yields the "x"
 * values, without headers and bodies, which is what makes a scan over
 * many records fast.
 */
#ifndef HARK_STORE_INDEX_H
#define HARK_STORE_INDEX_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_INDEX_PATH_MAX 200  /* bytes of url.path in a "u" key */
/* Index entries a narrowed scan collects (and sorts) at most; past this
 * it reads the time range instead. 25 bytes each. */
#define STORE_SCAN_GATHER_MAX (1u << 20)

typedef struct store_scan store_scan_t;

struct store_scan_opts {
    uint64_t since_ns, until_ns;  /* [since, until) */
    bool reverse;                 /* newest first */
    bool summaries;               /* "x" values rather than records */
    int kind;                     /* narrow to one enum record_kind (0:
                                     any): read off the key, so the other
                                     kinds cost nothing */
    bool by_status;               /* narrow to status_lo..status_hi */
    uint32_t status_lo, status_hi;
    const char *path;             /* narrow to url.path prefix, or NULL */
    size_t path_len;
    const void *after;            /* go on after this record key (in scan
                                     order), or NULL */
    size_t after_len;
};

/* True when every record of the trail is indexed. */
bool store_indexed(store_t *s);
/* Index writes that failed since the trail was opened (its records were
 * written; the index stopped there). */
uint64_t store_index_failures(const store_t *s);

/* A scan of s (the options are copied). NULL on ENOMEM or when the
 * trail is not open. */
store_scan_t *store_scan_new(store_t *s, const struct store_scan_opts *o);
void store_scan_destroy(store_scan_t **sc);

/* The next record: 1 with *out (borrowed until the next call; a summary
 * has no headers and an empty body), 0 at the end, -EBADMSG when a value
 * does not decode (the next call moves on), -EIO when LevelDB cannot read
 * on (store_scan_error() says why), -ENOMEM. */
int store_scan_next(store_scan_t *sc, struct audit_record *out);
const char *store_scan_error(const store_scan_t *sc);
/* The current record's key ("t" layout, store.h), its chain entry (0
 * when the scan reads records, which do not know it), and its value as
 * a record map (the summary's, for summaries): what store_decode()
 * reads. NULL past the end. */
const void *store_scan_key(const store_scan_t *sc, size_t *len);
uint64_t store_scan_seq(const store_scan_t *sc);
const void *store_scan_item(const store_scan_t *sc, size_t *len);
/* Whether it reads summaries and uses its narrowing (false: it reads
 * records by time, as for a trail that is not indexed). */
bool store_scan_summaries(const store_scan_t *sc);
bool store_scan_narrowed(const store_scan_t *sc);

#endif
