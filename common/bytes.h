/* bytes.h - borrowed byte strings: a pointer and a length, no NUL.
 *
 * Views of wire bytes (a field of a frame, a header of a message) are
 * passed around as struct bytes; they never own what they point to, so
 * their lifetime is the lifetime of the buffer they came from.
 */
#ifndef HARK_BYTES_H
#define HARK_BYTES_H

#include <stdbool.h>
#include <stdint.h>

/* Borrowed bytes; not NUL-terminated. p may be NULL when n is 0. */
struct bytes {
    const char *p;
    uint32_t n;
};

#define BYTES_LIT(s) ((struct bytes){ (s), (uint32_t)(sizeof(s) - 1) })

/* A view of the C string s (NULL gives the empty view). */
struct bytes bytes_of(const char *s);
/* True when a holds exactly the characters of s. */
bool bytes_eq(struct bytes a, const char *s);
/* The same, ignoring ASCII case (header names). */
bool bytes_case_eq(struct bytes a, const char *s);

#endif
