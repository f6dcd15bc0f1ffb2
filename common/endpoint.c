/* endpoint.c - the ZeroMQ endpoint strings hark accepts. */
#include "endpoint.h"

#include <string.h>

/* HOST:PORT, HOST possibly "*" or "[v6]"; zmq resolves the rest. */
static bool tcp_address_ok(const char *a)
{
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a || !colon[1])
        return false;
    return colon[1 + strspn(colon + 1, "0123456789")] == '\0';
}

bool endpoint_valid(const char *s)
{
    if (!strncmp(s, "ipc://", 6))
        return s[6] != '\0';
    if (!strncmp(s, "inproc://", 9))
        return s[9] != '\0';
    if (!strncmp(s, "tcp://", 6))
        return tcp_address_ok(s + 6);
    return false;
}

bool endpoint_fits(const char *s)
{
    return strncmp(s, "ipc://", 6) ||
           strlen(s + 6) <= ENDPOINT_IPC_PATH_MAX;
}
