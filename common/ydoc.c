/* ydoc.c - typed values out of a parsed YAML document, with located errors.
 *
 * Scalars are checked for an embedded NUL (libyaml keeps the length, C
 * strings would stop early), numbers for overflow before they are stored,
 * and every excerpt of the file quoted in a message is cut and cleaned of
 * control bytes.
 */
#include "ydoc.h"

#include "clock.h"
#include "endpoint.h"
#include "errbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NAMES 64        /* entries of a token list */

/* ---- messages ---- */

unsigned ydoc_line(const yaml_node_t *n)
{
    return (unsigned)n->start_mark.line + 1;
}

int ydoc_fail(const struct ydoc *y, const yaml_node_t *n, const char *key,
              const char *fmt, ...)
{
    errbuf_set(y->err, y->errlen, "%s:%u: %s: ", y->name, ydoc_line(n), key);
    va_list ap;
    va_start(ap, fmt);
    errbuf_vappend(y->err, y->errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

bool ydoc_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") ||
           !strcmp(v, "Null") || !strcmp(v, "NULL");
}

const char *ydoc_describe(const yaml_node_t *n, char *buf, size_t size)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (ydoc_is_null(n))
        return "nothing";
    const unsigned char *v = n->data.scalar.value;
    size_t len = n->data.scalar.length, keep = len > 40 ? 40 : len, o = 0;
    buf[o++] = '\'';
    for (size_t i = 0; i < keep && o + 5 < size; i++)
        buf[o++] = v[i] >= 0x20 && v[i] != 0x7f ? (char)v[i] : '?';
    if (keep < len && o + 5 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

/* Keys are only for messages: one too long is cut and ends in "...". */
static const char *mark_cut(char *buf, int n)
{
    if (n < 0 || n >= YDOC_KEY_MAX)
        memcpy(buf + YDOC_KEY_MAX - 4, "...", 4);
    return buf;
}

const char *ydoc_child_key(char *buf, const char *parent, const char *name)
{
    return mark_cut(buf, snprintf(buf, YDOC_KEY_MAX, "%s%s%s", parent,
                                  *parent ? "." : "", name));
}

const char *ydoc_item_key(char *buf, const char *parent, unsigned i)
{
    return mark_cut(buf, snprintf(buf, YDOC_KEY_MAX, "%s[%u]", parent, i));
}

static void join_names(char *buf, size_t size, const char *const *names)
{
    size_t o = 0;
    buf[0] = '\0';
    for (unsigned i = 0; names[i] && o < size; i++) {
        int k = snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
                         names[i]);
        if (k < 0)
            break;
        o += (size_t)k;
    }
}

const char *ydoc_format_size(uint64_t v, char *buf, size_t size)
{
    if (v && v % GIB == 0)
        snprintf(buf, size, "%lluGiB", (unsigned long long)(v / GIB));
    else if (v && v % MIB == 0)
        snprintf(buf, size, "%lluMiB", (unsigned long long)(v / MIB));
    else if (v && v % KIB == 0)
        snprintf(buf, size, "%lluKiB", (unsigned long long)(v / KIB));
    else
        snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

static const char *format_duration(uint64_t ns, char *buf, size_t size)
{
    static const struct {
        uint64_t ns;
        const char *unit;
    } units[] = {
        { 3600 * NS_PER_SEC, "h" }, { 60 * NS_PER_SEC, "m" },
        { NS_PER_SEC, "s" },        { NS_PER_MS, "ms" },
        { 1000, "us" },
    };
    for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (ns && ns % units[i].ns == 0) {
            snprintf(buf, size, "%llu%s",
                     (unsigned long long)(ns / units[i].ns), units[i].unit);
            return buf;
        }
    snprintf(buf, size, "%lluns", (unsigned long long)ns);
    return buf;
}

/* ---- the document ---- */

static int syntax_error(const yaml_parser_t *p, const char *text,
                        size_t len, const char *name, char *err,
                        size_t errlen)
{
    if (p->error == YAML_MEMORY_ERROR) {
        errbuf_set(err, errlen, "%s: out of memory", name);
        return -ENOMEM;
    }
    size_t line = p->problem_mark.line + 1;
    if (p->error == YAML_READER_ERROR) {
        /* bad encoding: libyaml gives a byte offset, not a mark */
        line = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++)
            line += text[i] == '\n';
    }
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->context)
        errbuf_set(err, errlen, "%s:%zu: YAML syntax error: %s (%s at line "
                   "%zu)", name, line, problem, p->context,
                   p->context_mark.line + 1);
    else
        errbuf_set(err, errlen, "%s:%zu: YAML syntax error: %s", name, line,
                   problem);
    return -EINVAL;
}

/* Documents after the first would be silently ignored, so one with
 * content is refused; an empty one (a trailing "---") is harmless. */
static int extra_documents(yaml_parser_t *parser, const char *text,
                           size_t len, const char *name, char *err,
                           size_t errlen)
{
    for (;;) {
        yaml_document_t extra;
        if (!yaml_parser_load(parser, &extra))
            return syntax_error(parser, text, len, name, err, errlen);
        yaml_node_t *root = yaml_document_get_root_node(&extra);
        size_t line = extra.start_mark.line + 1;
        bool empty = !root || ydoc_is_null(root), end = !root;
        yaml_document_delete(&extra);
        if (!empty) {
            errbuf_set(err, errlen, "%s:%zu: " YDOC_TOP_LEVEL ": more than "
                       "one YAML document (expected one, found another "
                       "after '---')", name, line);
            return -EINVAL;
        }
        if (end)
            return 0;
    }
}

/* The anchor an event defines, or NULL. */
static const yaml_char_t *event_anchor(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT: return ev->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT: return ev->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT: return ev->data.mapping_start.anchor;
    default: return NULL;
    }
}

/* Walks the events before anything is built: libyaml has no bound on
 * nesting (100k levels cost it minutes), on nodes (each costs a hundred
 * bytes and more) or on anchors (it keeps them in a list it searches for
 * every anchor and alias: 200k anchors cost it minutes), so all three are
 * checked here, and the walk stops at the first one too many. */
static int check_shape(yaml_parser_t *parser, const char *text, size_t len,
                       const char *name, char *err, size_t errlen)
{
    unsigned depth = 0;
    size_t nodes = 0, anchors = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(parser, &ev))
            return syntax_error(parser, text, len, name, err, errlen);
        yaml_event_type_t type = ev.type;
        size_t line = ev.start_mark.line + 1;
        bool anchor = event_anchor(&ev) != NULL;
        yaml_event_delete(&ev);
        if (anchor && ++anchors > YDOC_MAX_ANCHORS) {
            errbuf_set(err, errlen, "%s:%zu: " YDOC_TOP_LEVEL ": too many "
                       "anchors (expected at most %d &names, found more)",
                       name, line, YDOC_MAX_ANCHORS);
            return -EINVAL;
        }
        if (type == YAML_STREAM_END_EVENT)
            return 0;
        if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT)
            depth--;
        if (type != YAML_SEQUENCE_START_EVENT &&
            type != YAML_MAPPING_START_EVENT && type != YAML_SCALAR_EVENT &&
            type != YAML_ALIAS_EVENT)
            continue;
        if (++nodes > YDOC_MAX_NODES) {
            errbuf_set(err, errlen, "%s:%zu: " YDOC_TOP_LEVEL ": too many "
                       "values (expected at most %d keys, values and list "
                       "entries, found more)", name, line, YDOC_MAX_NODES);
            return -EINVAL;
        }
        if (type != YAML_SCALAR_EVENT && type != YAML_ALIAS_EVENT &&
            ++depth > YDOC_MAX_DEPTH) {
            errbuf_set(err, errlen, "%s:%zu: " YDOC_TOP_LEVEL ": nested too "
                       "deep (expected at most %d levels of lists and "
                       "mappings, found more)", name, line, YDOC_MAX_DEPTH);
            return -EINVAL;
        }
    }
}

static int new_parser(yaml_parser_t *parser, const char *text, size_t len,
                      const char *name, char *err, size_t errlen)
{
    if (!yaml_parser_initialize(parser)) {
        errbuf_set(err, errlen, "%s: out of memory", name);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(parser, (const unsigned char *)text, len);
    return 0;
}

int ydoc_parse(yaml_document_t *doc, const char *text, size_t len,
               const char *name, char *err, size_t errlen)
{
    yaml_parser_t parser;
    int rc = new_parser(&parser, text, len, name, err, errlen);
    if (rc < 0)
        return rc;
    rc = check_shape(&parser, text, len, name, err, errlen);
    yaml_parser_delete(&parser);
    if (rc < 0)
        return rc;
    if ((rc = new_parser(&parser, text, len, name, err, errlen)) < 0)
        return rc;
    if (!yaml_parser_load(&parser, doc)) {
        rc = syntax_error(&parser, text, len, name, err, errlen);
    } else {
        rc = extra_documents(&parser, text, len, name, err, errlen);
        if (rc < 0)
            yaml_document_delete(doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* ---- nodes ---- */

yaml_node_t *ydoc_node(const struct ydoc *y, int index)
{
    return yaml_document_get_node(y->doc, index);
}

const char *ydoc_key_name(const struct ydoc *y, const yaml_node_pair_t *p)
{
    return (const char *)ydoc_node(y, p->key)->data.scalar.value;
}

unsigned ydoc_n_pairs(const yaml_node_t *map)
{
    return (unsigned)(map->data.mapping.pairs.top -
                      map->data.mapping.pairs.start);
}

unsigned ydoc_n_items(const yaml_node_t *seq)
{
    return (unsigned)(seq->data.sequence.items.top -
                      seq->data.sequence.items.start);
}

yaml_node_t *ydoc_item(const struct ydoc *y, const yaml_node_t *seq,
                       unsigned i)
{
    return ydoc_node(y, seq->data.sequence.items.start[i]);
}

yaml_node_t *ydoc_map_get(const struct ydoc *y, const yaml_node_t *map,
                          const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++)
        if (!strcmp(ydoc_key_name(y, p), key))
            return ydoc_node(y, p->value);
    return NULL;
}

/* A key of map: a plain name, once, and one of allowed (NULL: any). */
static int check_key(const struct ydoc *y, const yaml_node_t *map,
                     const yaml_node_pair_t *p, const char *key,
                     const char *const *allowed)
{
    char sub[YDOC_KEY_MAX], found[64];
    yaml_node_t *k = ydoc_node(y, p->key);
    if (k->type != YAML_SCALAR_NODE)
        return ydoc_fail(y, k, *key ? key : YDOC_TOP_LEVEL, "not a key name "
                         "(expected a plain name, found %s)",
                         ydoc_describe(k, found, sizeof(found)));
    const char *name = (const char *)k->data.scalar.value;
    ydoc_child_key(sub, key, name);
    if (strlen(name) != k->data.scalar.length)
        return ydoc_fail(y, k, sub, "key contains a NUL byte (expected a "
                         "plain name)");
    if (allowed) {
        unsigned i = 0;
        while (allowed[i] && strcmp(allowed[i], name))
            i++;
        if (!allowed[i]) {
            char list[512];
            join_names(list, sizeof(list), allowed);
            return ydoc_fail(y, k, sub, "unknown key (expected one of %s)",
                             list);
        }
    }
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++)
        if (!strcmp(ydoc_key_name(y, q), name))
            return ydoc_fail(y, k, sub, "duplicate key (expected each key "
                             "once, found it again after line %u)",
                             ydoc_line(ydoc_node(y, q->key)));
    return 0;
}

int ydoc_check_keys(const struct ydoc *y, const yaml_node_t *map,
                    const char *key, const char *const *allowed)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        int rc = check_key(y, map, p, key, allowed);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int ydoc_open_map(const struct ydoc *y, const yaml_node_t *n,
                  const char *key, const char *const *allowed,
                  const char *what)
{
    char found[64];
    if (ydoc_is_null(n))
        return 0;
    if (n->type != YAML_MAPPING_NODE)
        return ydoc_fail(y, n, key, "wrong type (expected %s, found %s)",
                         what, ydoc_describe(n, found, sizeof(found)));
    return ydoc_check_keys(y, n, key, allowed);
}

/* ---- scalars ---- */

const char *ydoc_scalar(const struct ydoc *y, const yaml_node_t *n,
                        const char *key, const char *what)
{
    char found[64];
    if (n->type != YAML_SCALAR_NODE || ydoc_is_null(n)) {
        ydoc_fail(y, n, key, "wrong type (expected %s, found %s)", what,
                  ydoc_describe(n, found, sizeof(found)));
        return NULL;
    }
    const char *v = (const char *)n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length) {
        ydoc_fail(y, n, key, "contains a NUL byte (expected %s)", what);
        return NULL;
    }
    return v;
}

int ydoc_string(const struct ydoc *y, const yaml_node_t *n, const char *key,
                enum ydoc_str rule, const char **out)
{
    if (rule != YDOC_STR_REQUIRED && ydoc_is_null(n)) {
        *out = NULL;
        return 0;
    }
    const char *v = ydoc_scalar(y, n, key, "a string");
    if (!v)
        return -EINVAL;
    if (!*v && rule != YDOC_STR_ANY)
        return ydoc_fail(y, n, key, "empty string (expected a non-empty "
                         "string)");
    *out = v;
    return 0;
}

int ydoc_bool(const struct ydoc *y, const yaml_node_t *n, const char *key,
              bool *out)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };
    char found[64];
    const char *v = ydoc_scalar(y, n, key, "a boolean (true or false)");
    if (!v)
        return -EINVAL;
    for (unsigned i = 0; i < 3; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return 0;
        }
    }
    return ydoc_fail(y, n, key, "wrong type (expected a boolean (true or "
                     "false), found %s)",
                     ydoc_describe(n, found, sizeof(found)));
}

/* Digits only. -EINVAL when not a number, -ERANGE when negative or past
 * 64 bits. */
static int parse_u64(const char *s, const char **end, uint64_t *out)
{
    const char *p = s;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    uint64_t v = 0;
    bool over = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    *end = p;
    *out = v;
    return neg && v ? -ERANGE : over ? -ERANGE : 0;
}

int ydoc_uint(const struct ydoc *y, const yaml_node_t *n, const char *key,
              uint64_t min, uint64_t max, uint64_t *out)
{
    char found[64];
    const char *v = ydoc_scalar(y, n, key, "an integer");
    if (!v)
        return -EINVAL;
    const char *end;
    uint64_t x;
    int rc = parse_u64(v, &end, &x);
    if (rc == -EINVAL || (rc == 0 && *end))
        return ydoc_fail(y, n, key, "wrong type (expected an integer, "
                         "found %s)", ydoc_describe(n, found, sizeof(found)));
    if (rc < 0 || x < min || x > max)
        return ydoc_fail(y, n, key, "out of range (expected %llu..%llu, "
                         "found %s)", (unsigned long long)min,
                         (unsigned long long)max,
                         ydoc_describe(n, found, sizeof(found)));
    *out = x;
    return 0;
}

/* A plain integer is bytes; suffixes are binary whatever their spelling
 * (KB = KiB = 1024), as buffer sizes are always meant that way. */
static int parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        { "", 1 },     { "b", 1 },      { "k", KIB },   { "kb", KIB },
        { "kib", KIB }, { "m", MIB },   { "mb", MIB },  { "mib", MIB },
        { "g", GIB },  { "gb", GIB },   { "gib", GIB },
    };
    const char *end;
    uint64_t v;
    int rc = parse_u64(s, &end, &v);
    if (rc == -EINVAL)
        return rc;
    while (*end == ' ')
        end++;
    for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix))
            continue;
        if (rc < 0 || v > UINT64_MAX / units[i].mult)
            return -ERANGE;
        *out = v * units[i].mult;
        return 0;
    }
    return -EINVAL;
}

int ydoc_size(const struct ydoc *y, const yaml_node_t *n, const char *key,
              uint64_t min, uint64_t max, uint64_t *out)
{
    char found[64], lo[32], hi[32];
    const char *v = ydoc_scalar(y, n, key, "a size");
    if (!v)
        return -EINVAL;
    uint64_t x;
    int rc = parse_size(v, &x);
    if (rc == -EINVAL)
        return ydoc_fail(y, n, key, "wrong type (expected a size such as "
                         "65536, 64KiB, 1MiB or 1GiB, found %s)",
                         ydoc_describe(n, found, sizeof(found)));
    if (rc < 0 || x < min || x > max)
        return ydoc_fail(y, n, key, "out of range (expected %s..%s, found "
                         "%s)", ydoc_format_size(min, lo, sizeof(lo)),
                         ydoc_format_size(max, hi, sizeof(hi)),
                         ydoc_describe(n, found, sizeof(found)));
    *out = x;
    return 0;
}

/* clock_parse_duration() takes what strtod() takes (hex, exponents, nan);
 * a config only needs "<decimal><unit>", so the shape is checked first. */
static bool duration_shaped(const char *s)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s)
        return false;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    for (; *p; p++)
        if (*p < 'a' || *p > 'z')
            return false;
    return true;
}

int ydoc_duration(const struct ydoc *y, const yaml_node_t *n,
                  const char *key, uint64_t min, uint64_t max,
                  uint64_t *out)
{
    char found[64], lo[32], hi[32];
    const char *v = ydoc_scalar(y, n, key, "a duration");
    if (!v)
        return -EINVAL;
    uint64_t ns;
    if (!duration_shaped(v) || clock_parse_duration(v, &ns) < 0)
        return ydoc_fail(y, n, key, "wrong type (expected a duration such "
                         "as 250ms, 30s, 5m or 1h, found %s)",
                         ydoc_describe(n, found, sizeof(found)));
    if (ns < min || ns > max)
        return ydoc_fail(y, n, key, "out of range (expected %s..%s, found "
                         "%s)", format_duration(min, lo, sizeof(lo)),
                         format_duration(max, hi, sizeof(hi)),
                         ydoc_describe(n, found, sizeof(found)));
    *out = ns;
    return 0;
}

int ydoc_endpoint(const struct ydoc *y, const yaml_node_t *n,
                  const char *key, const char **out)
{
    char found[64];
    *out = NULL;
    if (ydoc_is_null(n))
        return 0;
    const char *v = ydoc_scalar(y, n, key, "an endpoint");
    if (!v)
        return -EINVAL;
    if (!endpoint_valid(v))
        return ydoc_fail(y, n, key, "not an endpoint (expected ipc://PATH, "
                         "tcp://HOST:PORT or inproc://NAME, found %s)",
                         ydoc_describe(n, found, sizeof(found)));
    if (!endpoint_fits(v))
        return ydoc_fail(y, n, key, "ipc path too long (expected at most "
                         "%d bytes, found %zu)", ENDPOINT_IPC_PATH_MAX,
                         strlen(v + 6));
    *out = v;
    return 0;
}

/* ---- token lists ---- */

/* RFC 9110 token: what a method or a header name may be made of. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

/* One token of a list: a copy into *out, or -EINVAL / -ENOMEM. */
static int copy_token(const struct ydoc *y, const yaml_node_t *n,
                      const char *key, const char *what, char **out)
{
    char found[64];
    const char *v = ydoc_scalar(y, n, key, what);
    if (!v)
        return -EINVAL;
    if (!is_token(v))
        return ydoc_fail(y, n, key, "not an HTTP token (expected letters, "
                         "digits or !#$%%&'*+-.^_`|~, found %s)",
                         ydoc_describe(n, found, sizeof(found)));
    return (*out = strdup(v)) ? 0 : -ENOMEM;
}

int ydoc_tokens(const struct ydoc *y, const yaml_node_t *n, const char *key,
                const char *what, bool one_ok, bool empty_ok, char ***out,
                unsigned *nout)
{
    char found[64], sub[YDOC_KEY_MAX];
    if (one_ok && n->type == YAML_SCALAR_NODE && !ydoc_is_null(n)) {
        if (!(*out = calloc(1, sizeof(**out))))
            return -ENOMEM;
        *nout = 1;
        return copy_token(y, n, key, what, &(*out)[0]);
    }
    if (empty_ok && ydoc_is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return ydoc_fail(y, n, key, "wrong type (expected a list of %ss, "
                         "found %s)", what,
                         ydoc_describe(n, found, sizeof(found)));
    unsigned count = ydoc_n_items(n);
    if (!count && !empty_ok)
        return ydoc_fail(y, n, key, "empty list (expected at least one %s, "
                         "or no key for any)", what);
    if (count > MAX_NAMES)
        return ydoc_fail(y, n, key, "too many entries (expected at most %d, "
                         "found %u)", MAX_NAMES, count);
    if (count && !(*out = calloc(count, sizeof(**out))))
        return -ENOMEM;
    *nout = count;
    for (unsigned i = 0; i < count; i++) {
        int rc = copy_token(y, ydoc_item(y, n, i), ydoc_item_key(sub, key, i),
                            what, &(*out)[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
