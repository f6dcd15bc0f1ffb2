/* tapcopy.h - what a tap may publish of a frame.
 *
 * A tap is readable by whoever reaches its socket (a tcp tap listens on
 * every interface) and knows nothing of routes, so it cannot apply a
 * policy's redaction. It therefore carries no more than any policy
 * could keep: `msg` frames with every header value replaced by
 * "[redacted]" and bodies emptied (body_len stays), `pkt` frames with
 * each packet cut after its TCP header (wire_length stays). Header names,
 * request lines, statuses, flags and connection events are kept; the
 * headers and bodies a policy keeps reach taps in `log` frames, already
 * redacted by that policy. Other frames are published unchanged.
 */
#ifndef HARK_TAPCOPY_H
#define HARK_TAPCOPY_H

#include "frame.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct tapcopy tapcopy_t;

tapcopy_t *tapcopy_new(void);
void tapcopy_destroy(tapcopy_t **t);

/* True when a frame of this type must be copied before a tap takes it. */
bool tapcopy_needed(enum frame_type type);

/* The tap's copy of body (a frame of type `type`) into t's buffer:
 * 0 with *out and *outlen (valid until the next call on t), or -EBADMSG
 * when body is not a frame (nothing may be published then), -ENOMEM. */
int tapcopy_make(tapcopy_t *t, enum frame_type type, const void *body,
                 size_t len, const void **out, size_t *outlen);

#endif
