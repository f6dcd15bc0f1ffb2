/* json_out.c - a JSON text writer that escapes every string it is given.
 *
 * Every byte written through it came off the wire, so nothing here
 * trusts it to be text: strings go through one escaper (json_out_str).
 */
#include "json_out.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_out_init(struct json_out *j)
{
    memset(j, 0, sizeof(*j));
}

void json_out_free(struct json_out *j)
{
    free(j->p);
    memset(j, 0, sizeof(*j));
}

void json_out_reset(struct json_out *j)
{
    j->len = 0;
    j->comma = false;
    j->failed = false;
    if (j->p)
        j->p[0] = '\0';
}

/* Makes room for n more bytes and the NUL. */
static bool reserve(struct json_out *j, size_t n)
{
    if (j->failed)
        return false;
    if (j->cap - j->len > n)
        return true;
    size_t cap = j->cap ? j->cap : 256;
    while (cap - j->len <= n) {
        if (cap > SIZE_MAX / 2) {
            j->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(j->p, cap);
    if (!p) {
        j->failed = true;
        return false;
    }
    j->p = p;
    j->cap = cap;
    return true;
}

void json_out_raw(struct json_out *j, const char *s, size_t n)
{
    if (!reserve(j, n))
        return;
    memcpy(j->p + j->len, s, n);
    j->len += n;
    j->p[j->len] = '\0';
}

static void put_c(struct json_out *j, char c)
{
    json_out_raw(j, &c, 1);
}

/* Before a value: the comma when one is due. */
static void value_start(struct json_out *j)
{
    if (j->comma)
        put_c(j, ',');
    j->comma = true;
}

void json_out_obj(struct json_out *j)
{
    value_start(j);
    put_c(j, '{');
    j->comma = false;
}

void json_out_obj_end(struct json_out *j)
{
    put_c(j, '}');
    j->comma = true;
}

void json_out_arr(struct json_out *j)
{
    value_start(j);
    put_c(j, '[');
    j->comma = false;
}

void json_out_arr_end(struct json_out *j)
{
    put_c(j, ']');
    j->comma = true;
}

void json_out_key(struct json_out *j, const char *key)
{
    json_out_cstr(j, key);
    put_c(j, ':');
    j->comma = false;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

bool json_out_is_text(const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(s + i, n - i);
        if (!l || !s[i])
            return false;
        i += l;
    }
    return true;
}

void json_out_str(struct json_out *j, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = p ? p : (const uint8_t *)"";
    value_start(j);
    put_c(j, '"');
    size_t run = 0; /* bytes copied as they are, flushed in one go */
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t l = 1;
        const char *esc = NULL;
        char u[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20 || c == 0x7f) {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 0xf];
            u[6] = '\0';
            esc = u;
        } else if (c >= 0x80 && !(l = utf8_len(s + i, n - i))) {
            esc = "\\ufffd";
            l = 1;
        }
        if (esc) {
            json_out_raw(j, (const char *)s + i - run, run);
            run = 0;
            json_out_raw(j, esc, strlen(esc));
        } else {
            run += l;
        }
        i += l;
    }
    json_out_raw(j, (const char *)s + n - run, run);
    put_c(j, '"');
}

void json_out_bytes(struct json_out *j, struct bytes b)
{
    json_out_str(j, b.p, b.n);
}

void json_out_cstr(struct json_out *j, const char *s)
{
    json_out_str(j, s, strlen(s));
}

void json_out_base64(struct json_out *j, const void *p, size_t n)
{
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    value_start(j);
    put_c(j, '"');
    if (reserve(j, need)) {
        sodium_bin2base64(j->p + j->len, need, p, n,
                          sodium_base64_VARIANT_ORIGINAL);
        j->len += need - 1; /* need counts the NUL */
    }
    put_c(j, '"');
}

void json_out_u64(struct json_out *j, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRIu64, v);
    value_start(j);
    json_out_raw(j, b, (size_t)n);
}

void json_out_i64(struct json_out *j, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, v);
    value_start(j);
    json_out_raw(j, b, (size_t)n);
}

void json_out_ms(struct json_out *j, uint64_t ns)
{
    char b[32];
    int n = snprintf(b, sizeof(b), "%" PRIu64 ".%03" PRIu64, ns / 1000000,
                     ns / 1000 % 1000);
    value_start(j);
    json_out_raw(j, b, (size_t)n);
}

void json_out_json(struct json_out *j, const char *text, size_t n)
{
    value_start(j);
    json_out_raw(j, text, n);
}

void json_out_bool(struct json_out *j, bool v)
{
    value_start(j);
    json_out_raw(j, v ? "true" : "false", v ? 4 : 5);
}
