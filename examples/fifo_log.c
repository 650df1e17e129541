/* fifo_log.c - a log collector on a named pipe: many writers, one reader.

   Usage: fifo_log serve PATH [-n COUNT] [--timeout MS] [-f CODEC]
          fifo_log write PATH [--timeout MS] [-f CODEC] [MSG...]

   serve makes the FIFO at PATH (mode 0600 whatever the umask, owned by the
   caller), reads framed messages from it and prints each on its own line;
   write sends each MSG -- or each line of stdin, without its newline -- as
   one frame. Any number of writers may write at once:

       fifo_log serve /tmp/log.fifo &
       fifo_log write /tmp/log.fifo "job 1 started" &
       fifo_log write /tmp/log.fifo "job 2 started" "job 2 done"

   Why frames from many writers do not mix: each one goes out in a single
   write(2) of at most PIPE_BUF (4096) bytes (ipc_pipe_send_frame), and the
   kernel makes such a write atomic -- it never interleaves with another
   writer's bytes. So the reader sees whole frames, one after another, in
   one stream, and needs no per-writer state. A message too long for one
   atomic write (about 4 KiB less the header) is refused before anything
   is written.

   serve opens the FIFO for reading and writing both (ipc_fifo_open with
   neither IPC_O_RDONLY nor IPC_O_WRONLY). A reader alone would read end of
   file each time the last writer closes; holding a write end itself, the
   server sees the stream go on across writers coming and going. It stops
   after COUNT messages (-n), on SIGTERM or SIGINT, or once no message has
   come for --timeout MS (exit status 3), and removes the FIFO -- if the
   name still refers to the FIFO it opened.

   ipc_fifo_open never clobbers: anything at PATH that is not a FIFO (a
   regular file, a symlink, a directory) is refused and left as it is, and
   an existing FIFO is used only if it is the caller's and no more open
   than 0600. Either side may come first: write makes the FIFO too when it
   is missing, then waits for a reader up to --timeout MS (default 10000;
   exit status 3 when none came, and the FIFO it made is removed again).

   The wire format is LEN32 unless -f says otherwise (see WIRE FORMATS in
   ipc.h); both sides must agree. With COBS a malformed frame (someone
   wrote junk into the FIFO) is reported on stderr and skipped: COBS finds
   the next frame at the next 0x00. LEN32 and VARINT have lost the frame
   boundaries by then, so serve stops.

   Exit status: 0 success; 1 a failure (one line on stderr naming PATH);
   2 a usage error; 3 a wait ran out. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

#define WRITE_TIMEOUT 10000 /* write's default --timeout */

static const char *path;

/* One line for a failed call on PATH; returns its exit status. */
static int failed(long rc, const char *what) {
    if (rc == -EEXIST)
        fprintf(stderr, "fifo_log: %s: %s (it is not a FIFO: left as it is)\n", path, ipc_strerror((int)rc));
    else if (rc == -EACCES)
        fprintf(stderr, "fifo_log: %s: %s (a FIFO of another user, or open to more than 0600)\n", path,
                ipc_strerror((int)rc));
    else
        fprintf(stderr, "fifo_log: %s: %s%s%s\n", path, what ? what : "", what ? ": " : "", ipc_strerror((int)rc));
    return rc == -ETIMEDOUT || rc == -EAGAIN ? EXIT_TIMEOUT : EXIT_FAIL;
}

/* ---- serve -------------------------------------------------------------------- */

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

/* Removes PATH if it is still the FIFO open on fd. */
static void remove_fifo(int fd) {
    struct stat mine, now;
    if (fstat(fd, &mine) == 0 && lstat(path, &now) == 0 && mine.st_dev == now.st_dev && mine.st_ino == now.st_ino)
        ipc_fifo_remove(path);
}

static int serve(ipc_codec codec, unsigned long count, int timeout_ms) {
    struct sigaction sa;
    sigset_t block, orig;
    ipc_reader r;
    unsigned long got = 0;
    int status = 0, rc;

    /* SIGTERM and SIGINT are blocked except inside ppoll (see ipc_hold.c). */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &orig);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int fd = ipc_fifo_open(path, IPC_O_CREATE, 0600, 0); /* both ends: never EOF */
    if (fd < 0) return failed(fd, NULL);
    /* No writer can send a frame longer than PIPE_BUF: a header announcing
       more is junk, refused before anything is buffered. */
    if ((rc = ipc_reader_init(&r, fd, codec, PIPE_BUF, 0)) < 0) {
        remove_fifo(fd);
        close(fd);
        return failed(rc, NULL);
    }
    while (!stop && (count == 0 || got < count)) {
        const uint8_t *m;
        ssize_t n = ipc_reader_next(&r, &m, 0); /* what is there, without waiting */
        if (n >= 0) {
            if (fwrite(m, 1, (size_t)n, stdout) != (size_t)n || putchar('\n') == EOF) {
                fprintf(stderr, "fifo_log: stdout: %s\n", strerror(errno));
                status = EXIT_FAIL;
                break;
            }
            got++;
            continue;
        }
        if (codec == IPC_COBS && (n == IPC_EFRAME || n == IPC_ETOOBIG)) {
            fprintf(stderr, "fifo_log: %s: after message %lu: %s (skipped)\n", path, got, ipc_strerror((int)n));
            continue;
        }
        if (n != -EAGAIN) {
            status = failed(n, NULL);
            break;
        }
        /* Nothing more now: flush what was printed, then wait. */
        if (fflush(stdout) == EOF) {
            fprintf(stderr, "fifo_log: stdout: %s\n", strerror(errno));
            status = EXIT_FAIL;
            break;
        }
        struct pollfd p = {fd, POLLIN, 0};
        struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
        int k = ppoll(&p, 1, timeout_ms < 0 ? NULL : &ts, &orig);
        if (k < 0 && errno != EINTR) {
            status = failed(-errno, "poll");
            break;
        }
        if (k == 0) {
            fprintf(stderr, "fifo_log: %s: no message for %d ms (%lu received)\n", path, timeout_ms, got);
            status = EXIT_TIMEOUT;
            break;
        }
    }
    ipc_reader_free(&r);
    remove_fifo(fd);
    close(fd);
    if (fflush(stdout) == EOF && status == 0) {
        fprintf(stderr, "fifo_log: stdout: %s\n", strerror(errno));
        status = EXIT_FAIL;
    }
    return status;
}

/* ---- write ---------------------------------------------------------------------- */

static int send_one(int fd, ipc_codec codec, unsigned long i, const char *msg, size_t n, int timeout_ms) {
    int rc = ipc_pipe_send_frame(fd, codec, msg, n, timeout_ms);
    if (rc == 0) return 0;
    if (rc == -EMSGSIZE) {
        fprintf(stderr, "fifo_log: %s: message %lu (%zu bytes): too long for one atomic write of %d bytes\n", path, i,
                n, PIPE_BUF);
        return EXIT_FAIL;
    }
    if (rc == -EPIPE) {
        fprintf(stderr, "fifo_log: %s: message %lu: the reader went away: %s\n", path, i, ipc_strerror(rc));
        return EXIT_FAIL;
    }
    char what[32];
    snprintf(what, sizeof what, "message %lu", i);
    return failed(rc, what);
}

static int write_main(ipc_codec codec, int timeout_ms, char **msgs, int nmsgs) {
    int fd = ipc_fifo_open(path, IPC_O_CREATE | IPC_O_WRONLY, 0600, timeout_ms), status = 0;
    if (fd == -ETIMEDOUT || fd == -ENXIO) {
        fprintf(stderr, "fifo_log: %s: no reader within %d ms\n", path, timeout_ms);
        return EXIT_TIMEOUT;
    }
    if (fd < 0) return failed(fd, NULL);
    if (nmsgs > 0) {
        for (int i = 0; status == 0 && i < nmsgs; i++)
            status = send_one(fd, codec, (unsigned long)i + 1, msgs[i], strlen(msgs[i]), timeout_ms);
    } else {
        char *line = NULL;
        size_t size = 0;
        ssize_t n;
        for (unsigned long i = 1; status == 0 && (n = getline(&line, &size, stdin)) >= 0; i++) {
            if (n > 0 && line[n - 1] == '\n') n--;
            status = send_one(fd, codec, i, line, (size_t)n, timeout_ms);
        }
        if (status == 0 && ferror(stdin)) {
            fprintf(stderr, "fifo_log: stdin: %s\n", strerror(errno));
            status = EXIT_FAIL;
        }
        free(line);
    }
    close(fd);
    return status;
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
            "usage: fifo_log serve PATH [-n COUNT] [--timeout MS] [-f CODEC]\n"
            "       fifo_log write PATH [--timeout MS] [-f CODEC] [MSG...]\n"
            "A log on a named pipe: serve makes the FIFO (0600) and prints each message;\n"
            "write sends each MSG (or stdin line) as one atomic frame; many may write at once.\n"
            "  -n, --count COUNT   serve: stop after COUNT messages\n"
            "  -t, --timeout MS    serve: stop when no message comes for MS ms (exit 3);\n"
            "                      write: wait at most MS ms for a reader, for room (default %d)\n"
            "  -f, --frame CODEC   len32 (default), varint or cobs\n"
            "Exit status: 0 ok, 1 failure, 2 usage error, 3 a wait ran out.\n",
            WRITE_TIMEOUT);
}

static int number(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
    char *end;
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno || *end || *out < lo || *out > hi ? -1 : 0;
}

int main(int argc, char *argv[]) {
    static const struct option longopts[] = {{"count", required_argument, NULL, 'n'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"frame", required_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    unsigned long count = 0, timeout = 0;
    int have_timeout = 0, opt;
    ipc_codec codec = IPC_LEN32;

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return usage(stdout), 0;
    if (argc < 2 || (strcmp(argv[1], "serve") && strcmp(argv[1], "write"))) {
        fprintf(stderr, "fifo_log: wants serve or write (try --help)\n");
        return EXIT_USAGE;
    }
    int is_serve = !strcmp(argv[1], "serve");
    argv++, argc--; /* getopt takes the subcommand for the program's name */
    opterr = 0;     /* options may come anywhere; "--" ends them (a MSG starting with '-') */
    while ((opt = getopt_long(argc, argv, "n:t:f:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': usage(stdout); return 0;
        case 'n':
            if (!is_serve || number(optarg, 1, ULONG_MAX, &count) < 0) goto bad;
            break;
        case 't':
            if (number(optarg, 0, INT_MAX, &timeout) < 0) goto bad;
            have_timeout = 1;
            break;
        case 'f':
            if (!(codec = ipc_codec_parse(optarg))) goto bad;
            break;
        default:
        bad:
            if (opt == '?' && optopt && strchr("ntf", optopt))
                fprintf(stderr, "fifo_log: -%c needs an argument (try --help)\n", optopt);
            else
                fprintf(stderr, "fifo_log: bad option or value '%s' (try --help)\n", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc || !argv[optind][0]) {
        fprintf(stderr, "fifo_log: %s wants a PATH (try --help)\n", argv[0]);
        return EXIT_USAGE;
    }
    path = argv[optind++];
    if (is_serve) {
        if (optind < argc) {
            fprintf(stderr, "fifo_log: serve: unexpected argument '%s' (try --help)\n", argv[optind]);
            return EXIT_USAGE;
        }
        return serve(codec, count, have_timeout ? (int)timeout : -1);
    }
    return write_main(codec, have_timeout ? (int)timeout : WRITE_TIMEOUT, argv + optind, argc - optind);
}
