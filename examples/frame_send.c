/* frame_send.c - write messages to stdout as framed messages.

   Usage: frame_send [-f len32|varint|cobs] [MSG...]

   Each MSG becomes one frame on stdout; with no MSG, each line of stdin
   does (without its newline, so an empty line is an empty message and a
   line may hold any byte but '\n'). The frames are written with
   ipc_send_frame: for LEN32 and VARINT one writev() of header and payload,
   for COBS the payload encoded through a small stack buffer. The wire format
   is LEN32 unless -f says otherwise (see WIRE FORMATS in ipc.h); the
   counterpart is frame_recv, which reads the same frames back:

       frame_send hello world | frame_recv
       seq 1000 | frame_send -f cobs | frame_recv -f cobs | wc -l

   The TLPI idiom this replaces is the write() loop that has to handle short
   writes, EINTR and SIGPIPE by hand. Here a reader that has gone away is an
   ordinary error, -EPIPE, reported on one line; the process is not killed by
   SIGPIPE and its signal dispositions are left alone.

   Exit status: 0 every message was written, 1 a failure (the error is
   named on stderr), 2 a usage error. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f, "usage: frame_send [-f len32|varint|cobs] [MSG...]\n"
               "Writes each MSG, or each line of stdin without its newline, as one\n"
               "frame to stdout. -f, --frame CODEC: the wire format (default len32).\n"
               "Exit status: 0 ok, 1 failure, 2 usage error.\n");
}

/* The one line for a bad option: getopt's optopt is the option character
   (or 0 for an unknown long option, whose text is then argv[optind - 1]). */
static void bad_option(const char *prog, const char *arg, int optopt_char) {
    if (optopt_char == 'f')
        fprintf(stderr, "%s: %s needs an argument (try --help)\n", prog, arg);
    else if (optopt_char > ' ' && optopt_char < 127)
        fprintf(stderr, "%s: unknown option '-%c' (try --help)\n", prog, optopt_char);
    else
        fprintf(stderr, "%s: unknown option '%s' (try --help)\n", prog, arg);
}

/* Reports a failure of ipc_send_frame and gives the exit status for it. */
static int send_failed(int rc) {
    fprintf(stderr, "frame_send: stdout: %s\n", ipc_strerror(rc));
    return 1;
}

int main(int argc, char *argv[]) {
    static const struct option longopts[] = {
        {"frame", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ipc_codec codec = IPC_LEN32;
    int opt, rc;

    opterr = 0; /* we print our own one-line message */
    while ((opt = getopt_long(argc, argv, "+f:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if ((codec = ipc_codec_parse(optarg)) == 0) {
                fprintf(stderr, "frame_send: unknown wire format '%s' (len32, varint, cobs)\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: bad_option("frame_send", argv[optind - 1], optopt); return 2;
        }
    }

    if (optind < argc) { /* the messages are the arguments */
        for (int i = optind; i < argc; i++)
            if ((rc = ipc_send_frame(STDOUT_FILENO, codec, argv[i], strlen(argv[i]), -1)) < 0) return send_failed(rc);
        return 0;
    }

    /* The messages are the lines of stdin. getline() keeps any NUL bytes
       and returns the true length, so binary lines survive. */
    char *line = NULL;
    size_t size = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &size, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') n--;
        if ((rc = ipc_send_frame(STDOUT_FILENO, codec, line, (size_t)n, -1)) < 0) {
            status = send_failed(rc);
            break;
        }
    }
    if (status == 0 && !feof(stdin)) { /* -1 without EOF: a read error or ENOMEM, in errno */
        fprintf(stderr, "frame_send: stdin: %s\n", strerror(errno));
        status = 1;
    }
    free(line);
    return status;
}
