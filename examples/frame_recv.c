/* frame_recv.c - read framed messages from stdin, print one per line.

   Usage: frame_recv [-f len32|varint|cobs] [-n COUNT] [--timeout MS]
                     [--max BYTES]

   Reads frames from stdin with an ipc_reader (one read() of up to 64 KiB at
   a time, every frame in it decoded in place) and writes each payload to
   stdout followed by a newline. The wire format is LEN32 unless -f says
   otherwise (see WIRE FORMATS in ipc.h); the counterpart is frame_send:

       frame_send hello world | frame_recv
       seq 1000 | frame_send -f varint | frame_recv -f varint -n 10

   The TLPI idiom this replaces is the read() loop that reassembles
   messages from a byte stream: a header split across two reads, a payload
   arriving in pieces, a length field from a hostile peer that would make us
   allocate gigabytes, a writer that dies halfway through a message. Here
   every one of those is a return code: the frame limit (--max) is enforced
   as soon as a length is read, before anything is buffered, and a stream that
   ends inside a frame is IPC_ETRUNC, never a short message.

   --timeout MS bounds every wait for input, a frame trickled in slowly
   included: when a wait runs out the program stops with status 3. Without
   -n it runs until the writer closes the stream. Output is flushed whenever
   the program is about to wait, so a pipeline sees each message promptly.

   Exit status: 0 the stream ended cleanly at a frame boundary (or COUNT
   frames arrived), 1 a failure (malformed frame, frame over the limit,
   truncation, a read or write error), 2 a usage error, 3 a wait ran out.
   Every failure prints one line on stderr. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

static void usage(FILE *f) {
    fprintf(f, "usage: frame_recv [-f len32|varint|cobs] [-n COUNT] [--timeout MS] [--max BYTES]\n"
               "Reads frames from stdin and prints each payload on its own line.\n"
               "  -f, --frame CODEC   the wire format (default len32)\n"
               "  -n, --count COUNT   stop after COUNT frames (sooner if the stream ends)\n"
               "  -t, --timeout MS    give up when a wait for input lasts MS ms (exit 3)\n"
               "  -m, --max BYTES     refuse frames longer than BYTES (default 16 MiB)\n"
               "Exit status: 0 clean end of stream, 1 failure, 2 usage error, 3 timeout.\n");
}

/* The one line for a bad option (see frame_send.c). */
static void bad_option(const char *arg, int optopt_char) {
    if (optopt_char == 'f' || optopt_char == 'n' || optopt_char == 't' || optopt_char == 'm')
        fprintf(stderr, "frame_recv: %s needs an argument (try --help)\n", arg);
    else if (optopt_char > ' ' && optopt_char < 127)
        fprintf(stderr, "frame_recv: unknown option '-%c' (try --help)\n", optopt_char);
    else
        fprintf(stderr, "frame_recv: unknown option '%s' (try --help)\n", arg);
}

/* A decimal number in [lo, hi], or -1 when s is not one. */
static int parse_number(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out) {
    char *end;
    unsigned long long v;
    if (*s < '0' || *s > '9') return -1; /* strtoull would accept " -5" */
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char *argv[]) {
    static const struct option longopts[] = {
        {"frame", required_argument, NULL, 'f'},   {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'}, {"max", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    ipc_codec codec = IPC_LEN32;
    unsigned long long count = ULLONG_MAX, max = IPC_MAX_FRAME, v;
    int timeout_ms = -1, opt;

    opterr = 0; /* we print our own one-line message */
    while ((opt = getopt_long(argc, argv, "f:n:t:m:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if ((codec = ipc_codec_parse(optarg)) == 0) {
                fprintf(stderr, "frame_recv: unknown wire format '%s' (len32, varint, cobs)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'n':
            if (parse_number(optarg, 0, ULLONG_MAX, &count) < 0) {
                fprintf(stderr, "frame_recv: -n wants a count, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (parse_number(optarg, 0, INT_MAX, &v) < 0) {
                fprintf(stderr, "frame_recv: --timeout wants milliseconds (0..%d), not '%s'\n", INT_MAX, optarg);
                return EXIT_USAGE;
            }
            timeout_ms = (int)v;
            break;
        case 'm':
            if (parse_number(optarg, 1, SIZE_MAX, &max) < 0) {
                fprintf(stderr, "frame_recv: --max wants a byte count (at least 1), not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: bad_option(argv[optind - 1], optopt); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "frame_recv: unexpected argument '%s' (try --help)\n", argv[optind]);
        return EXIT_USAGE;
    }

    ipc_reader r;
    int rc = ipc_reader_init(&r, STDIN_FILENO, codec, (size_t)max, 0);
    if (rc < 0) {
        fprintf(stderr, "frame_recv: %s\n", ipc_strerror(rc));
        return EXIT_FAIL;
    }

    int status = 0;
    for (unsigned long long got = 0; got < count; got++) {
        const uint8_t *frame;
        /* Try without waiting first; if that would wait, flush what we
           have printed so far, then wait for real. A partial frame is kept
           across the two calls. */
        ssize_t n = ipc_reader_next(&r, &frame, 0);
        if (n == -EAGAIN && timeout_ms != 0) {
            if (fflush(stdout) == EOF) {
                fprintf(stderr, "frame_recv: stdout: %s\n", strerror(errno));
                status = EXIT_FAIL;
                break;
            }
            n = ipc_reader_next(&r, &frame, timeout_ms);
        }
        if (n == IPC_EOF) break; /* the writer closed at a frame boundary */
        if (n == -ETIMEDOUT || n == -EAGAIN) {
            fprintf(stderr, "frame_recv: stdin: %s (no input for %d ms)\n", ipc_strerror((int)n), timeout_ms);
            status = EXIT_TIMEOUT;
            break;
        }
        if (n == IPC_EFRAME || n == IPC_ETOOBIG) { /* the decoder knows which byte */
            fprintf(stderr, "frame_recv: stdin: %s (at byte %llu)\n", ipc_strerror((int)n),
                    (unsigned long long)r.dec.err_offset);
            status = EXIT_FAIL;
            break;
        }
        if (n < 0) {
            fprintf(stderr, "frame_recv: stdin: %s\n", ipc_strerror((int)n));
            status = EXIT_FAIL;
            break;
        }
        if (fwrite(frame, 1, (size_t)n, stdout) != (size_t)n || putchar('\n') == EOF) {
            fprintf(stderr, "frame_recv: stdout: %s\n", strerror(errno));
            status = EXIT_FAIL;
            break;
        }
    }
    ipc_reader_free(&r);
    if (fflush(stdout) == EOF && status == 0) {
        fprintf(stderr, "frame_recv: stdout: %s\n", strerror(errno));
        status = EXIT_FAIL;
    }
    return status;
}
