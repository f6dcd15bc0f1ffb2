/* endpoint.h - the ZeroMQ endpoint strings hark accepts.
 *
 * Three transports: ipc://PATH (the default, under bus.run_dir),
 * tcp://HOST:PORT (stages on other machines, taps) and inproc://NAME
 * (tests). An ipc path must fit a socket address, or zmq_bind() fails
 * with a message nobody connects to the config.
 */
#ifndef HARK_ENDPOINT_H
#define HARK_ENDPOINT_H

#include <stdbool.h>

#define ENDPOINT_IPC_PATH_MAX 107 /* sizeof(sun_path) minus its NUL */

/* Whether s names a transport hark uses, with a non-empty address and,
 * for tcp, HOST:PORT (zmq resolves the host). The ipc length is apart. */
bool endpoint_valid(const char *s);

/* False when s is an ipc:// endpoint whose path is longer than
 * ENDPOINT_IPC_PATH_MAX; true for anything else. */
bool endpoint_fits(const char *s);

#endif
