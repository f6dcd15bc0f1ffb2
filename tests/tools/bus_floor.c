/* bus_floor.c - `bus_floor FILE HOPS DIR`: what carrying a capture's
 * bytes over hark's bus costs by itself, for `make bench`.
 *
 * hark's stages are processes that pass their frames over ZeroMQ ipc
 * sockets (PUSH/PULL, a high-water mark of 8 frames), so every byte that
 * goes from capture to the logger crosses the kernel once per hop, twice
 * copied. This forks a source, HOPS - 1 relays and a sink, connected the
 * same way, and sends the file through in frames of hark's batch size:
 * the source reads the file, each relay forwards every frame as it came
 * (no decoding, no copy of its own), the sink drops it. Its time is a
 * floor under any pipeline of HOPS stages on this machine, whatever they
 * do with the bytes. Prints "BYTES HOPS WALL_SECONDS CPU_SECONDS" (CPU of
 * all its processes and ZeroMQ threads); exit 1 on an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define FRAME_BYTES (256u * 1024)  /* common/frame.h FRAME_BATCH_BYTES */
#define HWM 8                      /* bus.md: pipeline links block at 8 */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *socket_at(void *ctx, int type, const char *dir, int hop)
{
    char ep[4200];
    int hwm = HWM, linger = -1;
    void *s = zmq_socket(ctx, type);
    if (!s)
        return NULL;
    snprintf(ep, sizeof(ep), "ipc://%s/hop-%d", dir, hop);
    zmq_setsockopt(s, type == ZMQ_PUSH ? ZMQ_SNDHWM : ZMQ_RCVHWM, &hwm,
                   sizeof(hwm));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    int rc = type == ZMQ_PULL ? zmq_bind(s, ep) : zmq_connect(s, ep);
    if (rc != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Stage i of 0..hops: 0 reads the file, hops is the sink. An empty
 * frame ends the stream. */
static int stage(const char *file, const char *dir, int i, int hops)
{
    void *ctx = zmq_ctx_new();
    void *in = i > 0 ? socket_at(ctx, ZMQ_PULL, dir, i) : NULL;
    void *out = i < hops ? socket_at(ctx, ZMQ_PUSH, dir, i + 1) : NULL;
    int fd = i == 0 ? open(file, O_RDONLY) : -1;
    if (!ctx || (i > 0 && !in) || (i < hops && !out) || (i == 0 && fd < 0))
        return 1;
    for (;;) {
        zmq_msg_t m;
        if (in) {
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, in, 0) < 0)
                return 1;
        } else {
            zmq_msg_init_size(&m, FRAME_BYTES);
            ssize_t n = read(fd, zmq_msg_data(&m), FRAME_BYTES);
            if (n < 0)
                return 1;
            if ((size_t)n < FRAME_BYTES) { /* the last frame, or the end */
                zmq_msg_t last;
                zmq_msg_init_size(&last, (size_t)n);
                memcpy(zmq_msg_data(&last), zmq_msg_data(&m), (size_t)n);
                zmq_msg_close(&m);
                zmq_msg_init(&m);
                zmq_msg_move(&m, &last);
            }
        }
        size_t n = zmq_msg_size(&m);
        if (out ? zmq_msg_send(&m, out, 0) < 0 : zmq_msg_close(&m) != 0)
            return 1;
        if (n == 0)
            break;
    }
    if (fd >= 0)
        close(fd);
    if (in)
        zmq_close(in);
    if (out)
        zmq_close(out);
    zmq_ctx_term(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: bus_floor FILE HOPS DIR\n");
        return 2;
    }
    int hops = atoi(argv[2]);
    double start = now();
    for (int i = hops; i >= 0; i--) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("bus_floor: fork");
            return 1;
        }
        if (pid == 0)
            _exit(stage(argv[1], argv[3], i, hops));
    }
    int failed = 0, status;
    while (wait(&status) > 0)
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    double wall = now() - start;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    if (failed) {
        fprintf(stderr, "bus_floor: a stage failed\n");
        return 1;
    }
    int fd = open(argv[1], O_RDONLY);
    off_t bytes = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (fd >= 0)
        close(fd);
    printf("%lld %d %.4f %.4f\n", (long long)bytes, hops, wall, cpu);
    return 0;
}
