/* pipeline.c - a chain of processes joined by pipes, each one a stage.

   Usage: pipeline [-n COUNT] [-f|--codec len32|varint|cobs] [--stages K]
                   [--pipe-size BYTES] [-v]

   The shell's `a | b | c`, built by hand: the parent makes K+1 pipes
   (ipc_pipe: close-on-exec, which a fork keeps and an exec would drop) and
   forks K stage processes. The parent writes COUNT framed messages into
   pipe 0; stage s reads them from pipe s-1 with an ipc_reader, transforms
   each and forwards it into pipe s with ipc_send_frame; the last stage's
   pipe leads back to the parent, which checks every result:

       parent -> pipe 0 -> stage 1 -> pipe 1 -> ... -> stage K -> pipe K -> parent

       pipeline --stages 3 -n 1000          prints
       pipeline: 3 stages, 1000 messages, all checked

   Each message is a sequence number, an accumulator and a payload of
   pseudo-random bytes (zeros included, so COBS has work to do; 0 to 256
   bytes). Stage s checks the sequence number is the next one (nothing lost,
   repeated or reordered upstream), folds the whole payload as it arrived
   into the accumulator (FNV-1a, seeded with its own stage number) and
   appends one byte, s. The parent replays the K transformations on the
   original message and compares byte for byte, so a stage that skipped,
   damaged, cut or reordered a message, or ran out of turn, is caught.

   The one trap of a pipeline that loops back to its source is deadlock: the
   parent blocked writing into a full pipe 0 while the results it is not
   reading fill pipe K and stall every stage. The parent avoids it by
   keeping at most WINDOW messages in flight, so few that pipe 0 always has
   room for the next one: then its writes never block. The window comes
   from the pipes' real capacity (ipc_pipe_size), which --pipe-size sets
   first (ipc_pipe_set_size; the kernel rounds up to a power-of-two number
   of pages, and caps it at /proc/sys/fs/pipe-max-size without
   CAP_SYS_RESOURCE). -v prints each pipe's capacity and the window.

   Capacity is counted in pages as well as bytes: a pipe is a ring of
   page-sized slots, and poll() -- which ipc_send_frame consults before
   writing to a blocking pipe under a timeout -- calls a pipe writable only
   while a slot is free. Small writes share a slot, so a 64 KiB pipe holds
   a great many small frames, but a one-page pipe (--pipe-size 4096)
   holding a single 9-byte frame already counts as full to poll. So the
   window is also at most one frame per page (each frame here is smaller
   than a page, so it lies in one slot): a one-page pipe gets a window of
   one message.

   The end of the stream travels down the chain on its own: the parent
   closes pipe 0 after the last message, stage 1 reads IPC_EOF and closes
   pipe 1, and so on. It does so only because every process closed the pipe
   ends that are not its own right after the fork (a stray write end held
   anywhere keeps a reader waiting for ever): the one chore of pipes.

   Every wait is bounded (WAIT_MS), so a stuck stage shows up as an error,
   not a hang; on any failure the parent kills the stages it forked.

   Exit status: 0 every result arrived and checked, 1 a failure (one line on
   stderr naming the stage or pipe), 2 a usage error. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define MAX_STAGES 32
#define HEADER 8        /* seq, accumulator: two big-endian uint32 */
#define MAX_PAYLOAD 256 /* payload bytes of the message as the parent sends it */
#define MAX_MSG (HEADER + MAX_PAYLOAD + MAX_STAGES)
#define WAIT_MS 10000 /* the longest any single wait may take */

/* ---- the messages and what each stage does to them ----------------------- */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Message seq as the parent sends it into pipe 0: header, then a payload
   whose size and bytes follow from seq. Returns its length. */
static size_t make_message(uint8_t *m, uint32_t seq) {
    size_t size = (size_t)(seq * 37u % (MAX_PAYLOAD + 1));
    uint32_t x = seq * 2654435761u + 1; /* xorshift32: any non-zero seed */
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        m[HEADER + i] = (uint8_t)(x >> 24) & 0xF3; /* some zeros for COBS */
    }
    put_be32(m, seq);
    put_be32(m + 4, 0);
    return HEADER + size;
}

/* Stage s's transformation of message m (n bytes, room for one more):
   the accumulator takes an FNV-1a of the payload, seeded with s; then the
   byte s is appended. Returns the new length. */
static size_t transform(uint8_t *m, size_t n, unsigned stage) {
    uint32_t h = get_be32(m + 4) ^ 2166136261u ^ stage;
    for (size_t i = HEADER; i < n; i++)
        h = (h ^ m[i]) * 16777619u;
    put_be32(m + 4, h);
    m[n] = (uint8_t)stage;
    return n + 1;
}

/* ---- a stage ----------------------------------------------------------------- */

/* Runs in stage process `stage`: in is its pipe from upstream, out the one
   downstream. Returns its exit status. */
static int run_stage(unsigned stage, int in, int out, ipc_codec codec) {
    static uint8_t msg[MAX_MSG];
    ipc_reader r;
    int rc = ipc_reader_init(&r, in, codec, MAX_MSG - 1, 0), status = EXIT_FAIL;
    if (rc < 0) {
        fprintf(stderr, "pipeline: stage %u: reader: %s\n", stage, ipc_strerror(rc));
        return EXIT_FAIL;
    }
    for (uint32_t seq = 0;; seq++) {
        const uint8_t *frame;
        ssize_t n = ipc_reader_next(&r, &frame, WAIT_MS);
        if (n == IPC_EOF) { /* upstream closed: pass the end on by exiting (closing out) */
            status = 0;
            break;
        }
        if (n < 0) {
            fprintf(stderr, "pipeline: stage %u: pipe %u, message %" PRIu32 ": %s\n", stage, stage - 1, seq,
                    ipc_strerror((int)n));
            break;
        }
        if (n < HEADER || get_be32(frame) != seq) {
            fprintf(stderr, "pipeline: stage %u: pipe %u: expected message %" PRIu32 ", got %s %" PRIu32 "\n", stage,
                    stage - 1, seq, n < HEADER ? "a frame of" : "message", n < HEADER ? (uint32_t)n : get_be32(frame));
            break;
        }
        /* The frame is the reader's until the next call: transform a copy. */
        memcpy(msg, frame, (size_t)n);
        size_t len = transform(msg, (size_t)n, stage);
        if ((rc = ipc_send_frame(out, codec, msg, len, WAIT_MS)) < 0) {
            fprintf(stderr, "pipeline: stage %u: pipe %u, message %" PRIu32 ": %s\n", stage, stage, seq,
                    ipc_strerror(rc));
            break;
        }
    }
    ipc_reader_free(&r);
    return status;
}

/* ---- the parent --------------------------------------------------------------- */

static int pipes[MAX_STAGES + 1][2];
static pid_t pids[MAX_STAGES];
static unsigned nstages;

/* Prints one line on stderr; returns EXIT_FAIL. */
static int fail(const char *fmt, ...) {
    va_list ap;
    fputs("pipeline: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAIL;
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Reaps every stage forked; with kill_them, first kills those still
   running (a stage blocked on a failed parent would wait out its timeout).
   Returns 0 when every stage exited 0 of its own accord, else EXIT_FAIL. A
   stage that exited 1 has said why on stderr; one that died of a signal
   -- often the cause of everyone else's failure -- is reported here. */
static int reap_stages(int kill_them) {
    int status = 0;
    for (unsigned s = 0; s < nstages; s++) {
        int ws = 0;
        pid_t r;
        if (pids[s] <= 0) continue; /* never kill() 0 or -1: that is a process group */
        while ((r = waitpid(pids[s], &ws, kill_them ? WNOHANG : 0)) < 0 && errno == EINTR) {
        }
        if (r == 0) { /* still running: ours to kill, not to report */
            kill(pids[s], SIGKILL);
            while (waitpid(pids[s], &ws, 0) < 0 && errno == EINTR) {
            }
            ws = 0;
        }
        pids[s] = 0;
        if (r < 0) {
            status = fail("waitpid for stage %u: %s", s + 1, strerror(errno));
        } else if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0) {
            status = EXIT_FAIL;
        } else if (WIFSIGNALED(ws)) {
            status = fail("stage %u died of signal %d", s + 1, WTERMSIG(ws));
        }
    }
    return status;
}

/* Checks result r (n bytes) against message seq replayed through every
   stage. Returns 0, or -1 with why. */
static int check_result(const uint8_t *r, size_t n, uint32_t seq, char *why, size_t whylen) {
    uint8_t want[MAX_MSG];
    size_t len = make_message(want, seq);
    for (unsigned s = 1; s <= nstages; s++)
        len = transform(want, len, s);
    if (n >= HEADER && get_be32(r) != seq)
        snprintf(why, whylen, "result %" PRIu32 ": got the result of message %" PRIu32, seq, get_be32(r));
    else if (n != len)
        snprintf(why, whylen, "result %" PRIu32 ": %zu bytes, expected %zu", seq, n, len);
    else if (memcmp(r, want, n) != 0)
        snprintf(why, whylen, "result %" PRIu32 ": wrong bytes (a stage skipped, damaged or reordered it)", seq);
    else
        return 0;
    return -1;
}

/* Feeds count messages into `in` with at most window in flight, reads and
   checks every result from `out`. Closes `in` (sets it to -1) after the
   last message. Returns 0 or EXIT_FAIL (reported). */
static int feed_and_check(int *in, int out, ipc_codec codec, uint32_t count, uint32_t window) {
    uint8_t msg[MAX_MSG];
    char why[160];
    uint32_t sent = 0, got = 0;
    ipc_reader r;
    int rc = ipc_reader_init(&r, out, codec, MAX_MSG, 0), status = 0;
    if (rc < 0) return fail("reader: %s", ipc_strerror(rc));
    while (status == 0) {
        while (sent < count && sent - got < window) {
            size_t len = make_message(msg, sent);
            if ((rc = ipc_send_frame(*in, codec, msg, len, WAIT_MS)) < 0) {
                status = fail("pipe 0, message %" PRIu32 ": %s", sent, ipc_strerror(rc));
                break;
            }
            sent++;
        }
        if (status) break;
        if (sent == count && *in >= 0) close_fd(in); /* the end of the stream, down the chain */
        const uint8_t *frame;
        ssize_t n = ipc_reader_next(&r, &frame, WAIT_MS);
        if (n == IPC_EOF) {
            if (got < count)
                status = fail("pipe %u ended after %" PRIu32 " of %" PRIu32 " results", nstages, got, count);
            break;
        }
        if (n < 0)
            status = fail("pipe %u, result %" PRIu32 ": %s", nstages, got, ipc_strerror((int)n));
        else if (got == count)
            status = fail("pipe %u: a result after the last one (a duplicate)", nstages);
        else if (check_result(frame, (size_t)n, got, why, sizeof why) < 0)
            status = fail("pipe %u: %s", nstages, why);
        else
            got++;
    }
    ipc_reader_free(&r);
    return status;
}

/* ---- main -------------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: pipeline [-n COUNT] [-f|--codec len32|varint|cobs] [--stages K] [--pipe-size BYTES] [-v]\n"
            "Forks K stages joined by pipes; the parent sends COUNT framed messages\n"
            "through them and checks what comes back from the last stage.\n"
            "  -n, --count COUNT      messages (default 1000)\n"
            "  -f, --codec CODEC      the wire format on every pipe (default len32)\n"
            "  -k, --stages K         stage processes, 1..%d (default 3)\n"
            "  -p, --pipe-size BYTES  set every pipe's capacity first (F_SETPIPE_SZ)\n"
            "  -v, --verbose          print each pipe's capacity and the window\n"
            "Exit status: 0 all checked, 1 failure, 2 usage error.\n",
            MAX_STAGES);
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
    static const struct option longopts[] = {{"count", required_argument, NULL, 'n'},
                                             {"codec", required_argument, NULL, 'f'},
                                             {"stages", required_argument, NULL, 'k'},
                                             {"pipe-size", required_argument, NULL, 'p'},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    unsigned long count = 1000, stages = 3, pipe_size = 0;
    ipc_codec codec = IPC_LEN32;
    int opt, verbose = 0, rc, status;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "n:f:k:p:vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (parse_number(optarg, 1, UINT32_MAX, &count) < 0) {
                fprintf(stderr, "pipeline: -n wants a count (1..%" PRIu32 "), not '%s'\n", UINT32_MAX, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'f':
            if (!(codec = ipc_codec_parse(optarg))) {
                fprintf(stderr, "pipeline: unknown codec '%s' (len32, varint or cobs)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'k':
            if (parse_number(optarg, 1, MAX_STAGES, &stages) < 0) {
                fprintf(stderr, "pipeline: --stages wants 1..%d, not '%s'\n", MAX_STAGES, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'p':
            if (parse_number(optarg, 1, INT32_MAX, &pipe_size) < 0) {
                fprintf(stderr, "pipeline: --pipe-size wants a byte count, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            if (optopt)
                fprintf(stderr, "pipeline: option -%c needs an argument or is unknown (try --help)\n", optopt);
            else
                fprintf(stderr, "pipeline: unknown option '%s' (try --help)\n", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pipeline: unexpected argument '%s' (try --help)\n", argv[optind]);
        return EXIT_USAGE;
    }

    /* K+1 pipes: pipe s feeds stage s+1; pipe K comes back to the parent. */
    for (unsigned i = 0; i <= stages; i++)
        pipes[i][0] = pipes[i][1] = -1;
    for (unsigned i = 0; i <= stages; i++) {
        if ((rc = ipc_pipe(pipes[i], 0)) < 0) {
            status = fail("pipe %u: %s", i, ipc_strerror(rc));
            goto out;
        }
    }

    /* Capacities: set (optionally), then read back; the window follows
       from the smallest. */
    int smallest = 0;
    for (unsigned i = 0; i <= stages; i++) {
        if (pipe_size && (rc = ipc_pipe_set_size(pipes[i][1], pipe_size)) < 0) {
            status = fail("pipe %u: setting its capacity to %lu bytes: %s", i, pipe_size, ipc_strerror(rc));
            goto out;
        }
        if ((rc = ipc_pipe_size(pipes[i][0])) < 0) {
            status = fail("pipe %u: %s", i, ipc_strerror(rc));
            goto out;
        }
        if (smallest == 0 || rc < smallest) smallest = rc;
        if (verbose) {
            char from[32] = "parent", to[32] = "parent";
            if (i > 0) snprintf(from, sizeof from, "stage %u", i);
            if (i < stages) snprintf(to, sizeof to, "stage %u", i + 1);
            printf("pipe %u (%s -> %s): capacity %d bytes\n", i, from, to, rc);
        }
    }
    /* Before a send, window - 1 frames are in flight at most, each inside
       one page-sized slot of pipe 0: a slot stays free for poll, and bytes
       for the frame, when window <= slots and window * frame_max <= capacity. */
    size_t frame_max = ipc_frame_bound(codec, HEADER + MAX_PAYLOAD + stages);
    long page = sysconf(_SC_PAGESIZE);
    size_t slots = (size_t)smallest / (size_t)(page > 0 ? page : 4096);
    uint32_t window = (uint32_t)((size_t)smallest / frame_max);
    if (window > slots) window = (uint32_t)slots;
    if (window == 0) window = 1; /* one in flight: every pipe is empty when the parent writes */
    if (verbose) printf("window: %" PRIu32 " messages in flight (frames of at most %zu bytes)\n", window, frame_max);
    if (fflush(stdout) == EOF) { /* or each child would inherit unwritten output */
        status = fail("stdout: %s", strerror(errno));
        goto out;
    }

    /* The stages. Each keeps only its two ends: any other write end left
       open would keep its reader from ever seeing the end of the stream. */
    for (nstages = 0; nstages < stages; nstages++) { /* bounded: stages <= MAX_STAGES */
        pid_t pid = fork();
        if (pid < 0) {
            status = fail("fork of stage %u: %s", nstages + 1, strerror(errno));
            goto out;
        }
        if (pid == 0) {
            unsigned me = nstages + 1;
            for (unsigned i = 0; i <= stages; i++) {
                if (i != me - 1) close(pipes[i][0]);
                if (i != me) close(pipes[i][1]);
            }
            _exit(run_stage(me, pipes[me - 1][0], pipes[me][1], codec));
        }
        pids[nstages] = pid;
    }
    /* The parent keeps the write end of pipe 0 and the read end of pipe K. */
    for (unsigned i = 0; i <= stages; i++) {
        if (i != 0) close_fd(&pipes[i][1]);
        if (i != stages) close_fd(&pipes[i][0]);
    }

    status = feed_and_check(&pipes[0][1], pipes[stages][0], codec, (uint32_t)count, window);
out:
    for (unsigned i = 0; i <= stages; i++)
        close_fd(&pipes[i][0]), close_fd(&pipes[i][1]);
    /* On failure a stage may be blocked on us: kill rather than wait. */
    rc = reap_stages(status != 0);
    if (status == 0) status = rc;
    if (status == 0) {
        printf("pipeline: %lu stage%s, %lu messages, all checked\n", stages, stages == 1 ? "" : "s", count);
        if (fflush(stdout) == EOF) status = fail("stdout: %s", strerror(errno));
    }
    return status;
}
