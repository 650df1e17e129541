/* pipe_demo.c - a parent and a child exchange framed messages over two pipes.

   Usage: pipe_demo [-n COUNT] [-s SIZE]

   For each wire format in turn (LEN32, VARINT, COBS; see WIRE FORMATS in
   ipc.h) the parent forks a child and connects the two with two pipes:
   requests flow parent -> child, replies child -> parent. The parent sends
   COUNT requests of SIZE payload bytes each; the child checks every request
   and echoes it back as its reply; the parent checks every reply. Each
   message checks itself: it starts with a 12-byte big-endian header
   (sequence number, payload length, CRC-32 of the payload), so a lost,
   repeated, reordered, cut or damaged message is caught on either side.
   At the end a table says, for each format, how many messages made the
   round trip, how many bytes went each way, how long it took, and "ok" or
   the first error. The exit status is 0 only if every message arrived
   exactly once, in order and intact, in both directions, for every format.

   The parent does not wait for each reply before sending the next request:
   it keeps many requests in flight. That invites the classic deadlock of
   two pipes used both ways (TLPI, chapter 44): each side blocks writing to
   a full pipe while the other does the same. It is avoided here as ipc.h
   suggests: the parent writes through an ipc_sender, which never blocks
   and queues at most a bounded amount (backpressure answers -EAGAIN), and
   waits with poll() for either pipe to be ready. The child is plain blocking code: ipc_reader_next for requests,
   ipc_send_frame for replies. Every wait is bounded (WAIT_MS), so a stuck
   peer shows up as an error, not a hang.

   Exit status: 0 all ok, 1 a failure, 2 a usage error. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEADER 12          /* seq, length, CRC-32: three big-endian uint32 */
#define WAIT_MS 10000      /* the longest any single wait may take */
#define QUEUE (256u << 10) /* the parent's outgoing queue: backpressure above this */

/* ---- self-checking messages ---------------------------------------------- */

static uint32_t crc_table[256];

/* CRC-32 (IEEE 802.3, reflected, as zlib and Ethernet compute it). */
static void crc32_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Message seq: the header, then size pseudo-random bytes (zeros included,
   so COBS has work to do). */
static void make_message(uint8_t *m, uint32_t seq, size_t size) {
    uint32_t x = seq * 2654435761u + 1; /* xorshift32: any non-zero seed */
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        m[HEADER + i] = (uint8_t)(x >> 24);
    }
    put_be32(m, seq);
    put_be32(m + 4, (uint32_t)size);
    put_be32(m + 8, crc32(m + HEADER, size));
}

/* Checks that m (n bytes) is message seq, whole. Returns 0, or -1 with
   what is wrong in why. */
static int check_message(const uint8_t *m, size_t n, uint32_t seq, char *why, size_t whylen) {
    if (n < HEADER) {
        snprintf(why, whylen, "message %" PRIu32 ": %zu bytes, shorter than its header", seq, n);
        return -1;
    }
    if (get_be32(m) != seq) {
        snprintf(why, whylen, "message %" PRIu32 ": got sequence number %" PRIu32 " (lost, repeated or reordered)", seq,
                 get_be32(m));
        return -1;
    }
    if (get_be32(m + 4) != n - HEADER) {
        snprintf(why, whylen, "message %" PRIu32 ": %zu payload bytes, header says %" PRIu32, seq, n - HEADER,
                 get_be32(m + 4));
        return -1;
    }
    if (crc32(m + HEADER, n - HEADER) != get_be32(m + 8)) {
        snprintf(why, whylen, "message %" PRIu32 ": CRC-32 mismatch (payload damaged)", seq);
        return -1;
    }
    return 0;
}

/* ---- the child: check each request, echo it back ------------------------ */

/* Runs in the child; returns its exit status. Blocking code throughout:
   every wait is bounded by WAIT_MS. */
static int child_echo(int in, int out, ipc_codec codec, size_t size) {
    ipc_reader r;
    char why[160];
    int rc = ipc_reader_init(&r, in, codec, HEADER + size, 0);
    if (rc < 0) {
        fprintf(stderr, "pipe_demo: child: %s\n", ipc_strerror(rc));
        return 1;
    }
    for (uint32_t seq = 0;; seq++) {
        const uint8_t *m;
        ssize_t n = ipc_reader_next(&r, &m, WAIT_MS);
        if (n == IPC_EOF) break; /* the parent closed: all requests are in */
        if (n < 0) {
            fprintf(stderr, "pipe_demo: child: request %" PRIu32 ": %s\n", seq, ipc_strerror((int)n));
            rc = -1;
            break;
        }
        if (check_message(m, (size_t)n, seq, why, sizeof why) < 0) {
            fprintf(stderr, "pipe_demo: child: request %s\n", why);
            rc = -1;
            break;
        }
        /* The frame lies in the reader's buffer; it stays valid until the
           next ipc_reader_next, so it can go straight back out. */
        if ((rc = ipc_send_frame(out, codec, m, (size_t)n, WAIT_MS)) < 0) {
            fprintf(stderr, "pipe_demo: child: reply %" PRIu32 ": %s\n", seq, ipc_strerror(rc));
            break;
        }
    }
    ipc_reader_free(&r);
    return rc < 0 ? 1 : 0;
}

/* ---- the parent: many requests in flight, replies checked --------------- */

typedef struct result {
    uint32_t done;   /* replies received intact */
    int64_t elapsed; /* ns */
    char error[200]; /* "" when all went well */
} result;

/* Records the first error of a run; returns -1. */
static int fail(result *res, const char *fmt, ...) {
    va_list ap;
    if (res->error[0]) return -1;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
    return -1;
}

/* The parent's side of one run: sends count requests through s, reads and
   checks the replies with r until the child closes its end. Closes *req_fd
   (and sets it to -1) once every request is written. Returns 0 or -1. */
static int parent_loop(ipc_sender *s, int *req_fd, ipc_reader *r, uint32_t count, size_t size, uint8_t *msg,
                       result *res) {
    uint32_t sent = 0, made = UINT32_MAX;
    char why[160];
    for (;;) {
        /* Queue requests until backpressure says stop (then msg keeps the
           refused request for the next try). */
        while (sent < count) {
            int rc;
            if (made != sent) make_message(msg, made = sent, size);
            if ((rc = ipc_sender_send(s, msg, HEADER + size)) == -EAGAIN) break;
            if (rc < 0) return fail(res, "request %" PRIu32 ": %s", sent, ipc_strerror(rc));
            sent++;
        }
        /* Everything written: closing the pipe is the child's end of stream. */
        if (sent == count && ipc_sender_pending(s) == 0 && *req_fd >= 0) {
            int rc = close(*req_fd);
            *req_fd = -1;
            if (rc < 0) return fail(res, "close: %s", strerror(errno));
        }
        /* Take every reply that is there without waiting. */
        for (;;) {
            const uint8_t *m;
            ssize_t n = ipc_reader_next(r, &m, 0);
            if (n == -EAGAIN) break;
            if (n == IPC_EOF) {
                if (res->done < count) return fail(res, "the child closed after %" PRIu32 " replies", res->done);
                return 0;
            }
            if (n < 0) return fail(res, "reply %" PRIu32 ": %s", res->done, ipc_strerror((int)n));
            if (res->done == count) return fail(res, "a reply after the last one (a duplicate)");
            if (check_message(m, (size_t)n, res->done, why, sizeof why) < 0) return fail(res, "reply %s", why);
            res->done++;
        }
        /* Wait for room to write or a reply to read. */
        struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = *req_fd, .events = POLLOUT}};
        int np = *req_fd < 0 || ipc_sender_pending(s) == 0 ? 1 : 2;
        int k = poll(p, (nfds_t)np, WAIT_MS);
        if (k < 0 && errno != EINTR) return fail(res, "poll: %s", strerror(errno));
        if (k == 0) return fail(res, "no progress for %d ms", WAIT_MS);
        if (np == 2 && p[1].revents) {
            int rc = ipc_sender_flush(s, 0);
            if (rc < 0 && rc != -EAGAIN)
                return fail(res, "writing requests (%" PRIu32 " queued): %s", sent, ipc_strerror(rc));
        }
    }
}

/* close() for the parent: a failure is recorded in res like any other. */
static void close_fd(int fd, result *res) {
    if (fd >= 0 && close(fd) < 0) fail(res, "close: %s", strerror(errno));
}

/* One codec: two pipes, a child, count round trips. The outcome is in res. */
static void run(ipc_codec codec, uint32_t count, size_t size, uint8_t *msg, result *res) {
    int req[2] = {-1, -1}, rep[2] = {-1, -1}, status, rc;
    memset(res, 0, sizeof *res);
    if (pipe(req) < 0 || pipe(rep) < 0) {
        fail(res, "pipe: %s", strerror(errno));
        close_fd(req[0], res), close_fd(req[1], res);
        return;
    }
    if (fflush(stdout) == EOF) /* or the child would inherit unwritten output */
        fail(res, "stdout: %s", strerror(errno));
    pid_t pid = res->error[0] ? -1 : fork();
    if (pid < 0) {
        fail(res, "fork: %s", strerror(errno));
        close_fd(req[0], res), close_fd(req[1], res), close_fd(rep[0], res), close_fd(rep[1], res);
        return;
    }
    if (pid == 0) { /* the child reads requests, writes replies */
        if (close(req[1]) < 0 || close(rep[0]) < 0) {
            fprintf(stderr, "pipe_demo: child: close: %s\n", strerror(errno));
            _exit(1);
        }
        _exit(child_echo(req[0], rep[1], codec, size));
    }
    close_fd(req[0], res), close_fd(rep[1], res);

    ipc_sender s;
    ipc_reader r;
    int have_reader = 0;
    int64_t t0 = ipc_now_ns();
    if ((rc = ipc_sender_init(&s, req[1], codec, QUEUE)) < 0)
        fail(res, "sender: %s", ipc_strerror(rc));
    else if ((rc = ipc_reader_init(&r, rep[0], codec, HEADER + size, 0)) < 0)
        fail(res, "reader: %s", ipc_strerror(rc));
    else {
        have_reader = 1;
        if (!res->error[0]) parent_loop(&s, &req[1], &r, count, size, msg, res);
    }
    res->elapsed = ipc_now_ns() - t0;

    /* On failure the child may be blocked on us: don't wait for it politely. */
    if (res->error[0] && kill(pid, SIGKILL) < 0) fail(res, "kill: %s", strerror(errno));
    close_fd(req[1], res); /* parent_loop closed it (-1) if every request went out */
    close_fd(rep[0], res);
    ipc_sender_free(&s); /* safe after a failed init: init zeroes s first */
    if (have_reader) ipc_reader_free(&r);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fail(res, "waitpid: %s", strerror(errno));
            return;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fail(res, "the child failed (exit status %d)", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fail(res, "the child died of signal %d", WTERMSIG(status)); /* kept only if first */
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f, "usage: pipe_demo [-n COUNT] [-s SIZE]\n"
               "A parent and a child exchange COUNT self-checking messages of SIZE\n"
               "payload bytes each way over two pipes, with each wire format.\n"
               "  -n COUNT  messages per format (default 20000)\n"
               "  -s SIZE   payload bytes per message (default 100, at most 1048576)\n"
               "Exit status: 0 every message arrived intact, 1 failure, 2 usage error.\n");
}

/* A decimal number in [lo, hi], or -1 when s is not one. */
static int parse_number(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
    char *end;
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char *argv[]) {
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    unsigned long count = 20000, size = 100;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "n:s:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (parse_number(optarg, 1, UINT32_MAX, &count) < 0) {
                fprintf(stderr, "pipe_demo: -n wants a count (1..%" PRIu32 "), not '%s'\n", UINT32_MAX, optarg);
                return 2;
            }
            break;
        case 's':
            if (parse_number(optarg, 0, 1u << 20, &size) < 0) {
                fprintf(stderr, "pipe_demo: -s wants a size (0..1048576), not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default:
            if (optopt == 'n' || optopt == 's')
                fprintf(stderr, "pipe_demo: -%c needs an argument (try --help)\n", optopt);
            else
                fprintf(stderr, "pipe_demo: unknown option '%s' (try --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pipe_demo: unexpected argument '%s' (try --help)\n", argv[optind]);
        return 2;
    }

    uint8_t *msg = malloc(HEADER + size);
    if (!msg) {
        fprintf(stderr, "pipe_demo: %s\n", strerror(errno));
        return 1;
    }
    crc32_init();

    printf("%lu messages of %lu bytes (%d header + %lu payload), parent -> child -> parent over two pipes\n\n", count,
           HEADER + size, HEADER, size);
    printf("%-7s %10s %12s %9s %12s  %s\n", "codec", "messages", "bytes", "ms", "messages/s", "result");
    const ipc_codec codecs[] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    int failures = 0;
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        result res;
        run(codecs[i], (uint32_t)count, size, msg, &res);
        double ms = (double)res.elapsed / 1e6;
        printf("%-7s %10" PRIu32 " %12llu %9.1f %12.0f  %s\n", ipc_codec_name(codecs[i]), res.done,
               (unsigned long long)res.done * (HEADER + size), ms, ms > 0 ? res.done / (ms / 1000) : 0.0,
               res.error[0] ? res.error : "ok");
        failures += res.error[0] != 0;
    }
    free(msg);
    if (fflush(stdout) == EOF) {
        fprintf(stderr, "pipe_demo: stdout: %s\n", strerror(errno));
        return 1;
    }
    return failures ? 1 : 0;
}
