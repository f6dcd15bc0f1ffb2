/* ydoc.h - typed values out of a parsed YAML document, with located errors.
 *
 * A schema walks libyaml's document tree and asks for each value as the
 * type it needs: a string, a boolean, an integer, a size ("64KiB"), a
 * duration ("30s"), an endpoint, a list of HTTP tokens. The first value
 * that is not what was asked for fails with one message naming the file,
 * the line and the dotted key, what was expected and what was found:
 *   "hark.yaml:12: capture.snaplen: out of range (expected 64..262144,
 *    found '70000')"
 * and -EINVAL, so every check reads `return ydoc_fail(...)`.
 *
 * Nodes and the text they return are borrowed from the document: they
 * live until yaml_document_delete(). Nothing here allocates except
 * ydoc_tokens(), whose copies the caller owns.
 */
#ifndef HARK_YDOC_H
#define HARK_YDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/* Size units: binary whatever their spelling (KB = KiB = 1024). */
#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)

#define YDOC_KEY_MAX 256            /* dotted keys in messages; cut past */
/* Bounds on a document, checked before it is built: hark's schema nests
 * 7 levels, a large config holds a few thousand values and a handful of
 * anchors. */
#define YDOC_MAX_DEPTH 64
#define YDOC_MAX_NODES 262144
#define YDOC_MAX_ANCHORS 256
#define YDOC_TOP_LEVEL "(top level)" /* the key named when there is none */

/* A document being read and where its first error goes. */
struct ydoc {
    yaml_document_t *doc;
    const char *name;         /* file name for messages */
    char *err;
    size_t errlen;
};

/* Parses text (len bytes; name for messages) into *doc. A second
 * document with content is refused, an empty one ("---" at the end) is
 * not; so is one nested deeper than YDOC_MAX_DEPTH, holding more than
 * YDOC_MAX_NODES values or defining more than YDOC_MAX_ANCHORS anchors,
 * before it is built. Returns 0 (the caller
 * deletes *doc) or -EINVAL / -ENOMEM with "FILE:LINE: YAML syntax error:
 * ..." or "FILE:LINE: (top level): nested too deep ..." in err. */
int ydoc_parse(yaml_document_t *doc, const char *text, size_t len,
               const char *name, char *err, size_t errlen);

/* Writes "FILE:LINE: key: <fmt>" (line of n) and returns -EINVAL. */
int ydoc_fail(const struct ydoc *y, const yaml_node_t *n, const char *key,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- nodes ---- */

unsigned ydoc_line(const yaml_node_t *n);

/* Empty, "~" or null in any spelling YAML allows, unquoted. */
bool ydoc_is_null(const yaml_node_t *n);

/* What a node is, for "found ..." in messages: a short quoted excerpt of
 * a scalar (into buf), or its kind ("a mapping", "a list", "nothing"). */
const char *ydoc_describe(const yaml_node_t *n, char *buf, size_t size);

yaml_node_t *ydoc_node(const struct ydoc *y, int index);
const char *ydoc_key_name(const struct ydoc *y, const yaml_node_pair_t *p);
unsigned ydoc_n_pairs(const yaml_node_t *map);
unsigned ydoc_n_items(const yaml_node_t *seq);
yaml_node_t *ydoc_item(const struct ydoc *y, const yaml_node_t *seq,
                       unsigned i);

/* Value of key in map, or NULL when map is not a mapping or lacks it.
 * Only meaningful after ydoc_check_keys() accepted map. */
yaml_node_t *ydoc_map_get(const struct ydoc *y, const yaml_node_t *map,
                          const char *key);

/* Every key of map a scalar, each once, each in allowed (NULL-terminated;
 * NULL allows any name). 0 or -EINVAL. */
int ydoc_check_keys(const struct ydoc *y, const yaml_node_t *map,
                    const char *key, const char *const *allowed);

/* n is a mapping checked against allowed (what: "a mapping of ..." for
 * the message); null counts as an empty mapping, so a section with
 * everything commented out is valid. */
int ydoc_open_map(const struct ydoc *y, const yaml_node_t *n,
                  const char *key, const char *const *allowed,
                  const char *what);

/* ---- keys in messages: into a YDOC_KEY_MAX buffer, returned ---- */

const char *ydoc_child_key(char *buf, const char *parent, const char *name);
const char *ydoc_item_key(char *buf, const char *parent, unsigned i);

/* "64KiB", "1MiB", or plain bytes: how a size reads back in messages. */
const char *ydoc_format_size(uint64_t v, char *buf, size_t size);

/* ---- values: 0, or -EINVAL after ydoc_fail ---- */

/* The text of a non-null scalar (what: the expected type, for the
 * message), or NULL after reporting. */
const char *ydoc_scalar(const struct ydoc *y, const yaml_node_t *n,
                        const char *key, const char *what);

enum ydoc_str {
    YDOC_STR_REQUIRED,  /* non-empty */
    YDOC_STR_OPTIONAL,  /* non-empty, or null for unset */
    YDOC_STR_ANY,       /* anything; null for unset */
};

/* *out: the text (borrowed), or NULL for null when the rule allows it. */
int ydoc_string(const struct ydoc *y, const yaml_node_t *n, const char *key,
                enum ydoc_str rule, const char **out);

/* true/yes/on, false/no/off, in any case. */
int ydoc_bool(const struct ydoc *y, const yaml_node_t *n, const char *key,
              bool *out);

/* Decimal digits only, in [min, max]. */
int ydoc_uint(const struct ydoc *y, const yaml_node_t *n, const char *key,
              uint64_t min, uint64_t max, uint64_t *out);

/* Bytes: a plain integer, or with B, K/KB/KiB, M/MB/MiB, G/GB/GiB. */
int ydoc_size(const struct ydoc *y, const yaml_node_t *n, const char *key,
              uint64_t min, uint64_t max, uint64_t *out);

/* "<decimal><unit>" (250ms, 30s, 5m, 1h) or bare seconds, as ns. */
int ydoc_duration(const struct ydoc *y, const yaml_node_t *n,
                  const char *key, uint64_t min, uint64_t max,
                  uint64_t *out);

/* An endpoint (endpoint.h); *out borrowed, NULL for null (unset). */
int ydoc_endpoint(const struct ydoc *y, const yaml_node_t *n,
                  const char *key, const char **out);

/* A list of HTTP tokens (RFC 9110), what naming one ("method"); a single
 * scalar too when one_ok; an empty list or null only when empty_ok.
 * *out must be empty on entry; on return, success or not, it holds the
 * copies made so far, which the caller frees (each, then the array). */
int ydoc_tokens(const struct ydoc *y, const yaml_node_t *n, const char *key,
                const char *what, bool one_ok, bool empty_ok, char ***out,
                unsigned *nout);

#endif
