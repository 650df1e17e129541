/* mq_log.c - a priority logger on a POSIX message queue.

   Usage: mq_log send NAME [--prio P] [--timeout MS] [--maxmsg N] [--msgsize BYTES] [MSG...]
          mq_log recv NAME [-n COUNT | -f] [--timeout MS] [--unlink]
          mq_log stat NAME
          mq_log rm NAME

   send puts each MSG on the queue NAME (a POSIX queue name: "/" and a name
   without another "/") as one message of priority P (0..32767, default 0),
   creating the queue if it is not there yet; with no MSG, each line of
   stdin is one message. A message is the bytes of MSG and nothing else:
   the queue keeps the boundaries, so there is no framing. recv takes messages off the queue and prints each
   on its own line as "PRIO MSG". The queue hands them out highest priority
   first, and in the order they were sent within one priority, so a burst
   of log lines comes out with the alarms ahead of the chatter:

       mq_log send /log "disk 91% full"
       mq_log send /log --prio 7 "disk 99% full"
       mq_log recv /log            prints "7 disk 99% full", "0 disk 91% full"

   recv without -n prints what is queued now and stops when the queue is
   empty; with -n COUNT it waits for COUNT messages; with -f it waits for
   ever, as tail -f does. It creates the queue too, so either side may start
   first, and with --unlink removes the name when it is done. stat prints
   the queue's depth and limits (curmsgs, maxmsg, msgsize), rm removes it.
   A queue is created with mode 0600 (whatever the umask) and --maxmsg and
   --msgsize, or the system's defaults, which the kernel limits bind unless
   the caller has CAP_SYS_RESOURCE: 10 messages of 8 KiB at most
   (/proc/sys/fs/mqueue). On an existing queue they are ignored.

   The TLPI idioms this replaces: mq_timedsend and mq_timedreceive want an
   absolute CLOCK_REALTIME deadline, built by hand from clock_gettime (and
   stretched or cut when the clock is stepped); ipc_mq_send and ipc_mq_recv
   take a relative timeout measured on CLOCK_MONOTONIC. mq_receive fails
   with EMSGSIZE unless the buffer holds mq_msgsize bytes, which TLPI reads
   with mq_getattr first; ipc_mq_open fills in q.msgsize, and ipc_mq_recv
   refuses a short buffer up front, before any system call. A name without its leading "/" is refused before any
   system call, as a usage error.

   --timeout MS bounds every wait: for room on a full queue (send), for a
   message (recv -n, -f); when one runs out the program exits with status 3.

   Exit status: 0 success; 1 a failure (the queue does not exist, a message
   longer than the queue's msgsize, a kernel limit, ...), after which send
   has sent the messages before the one that failed; 2 a usage error or a
   bad queue name; 3 a wait ran out. Every failure prints one line on
   stderr. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

/* The exit status for a failed call: 3 when a wait ran out. */
static int status_for(long rc) {
    return rc == -ETIMEDOUT || rc == -EAGAIN ? EXIT_TIMEOUT : EXIT_FAIL;
}

/* Reports a failure on queue name; returns its exit status. */
static int failed(const char *name, long rc) {
    fprintf(stderr, "mq_log: %s: %s\n", name, ipc_strerror((int)rc));
    return status_for(rc);
}

/* ---- send ------------------------------------------------------------------ */

/* Sends message number i; returns 0 or the exit status for its failure. */
static int send_one(ipc_mq *q, const char *name, unsigned long i, const char *msg, size_t n, unsigned prio,
                    int timeout_ms) {
    int rc = ipc_mq_send(q, msg, n, prio, timeout_ms);
    if (rc == 0) return 0;
    if (rc == -EMSGSIZE)
        fprintf(stderr, "mq_log: %s: message %lu (%zu bytes): %s (this queue's limit is %ld bytes)\n", name, i, n,
                ipc_strerror(rc), q->msgsize);
    else if (rc == -ETIMEDOUT || rc == -EAGAIN)
        fprintf(stderr, "mq_log: %s: message %lu: %s (the queue stayed full, %ld messages, for %d ms)\n", name, i,
                ipc_strerror(rc), q->maxmsg, timeout_ms);
    else
        fprintf(stderr, "mq_log: %s: message %lu: %s\n", name, i, ipc_strerror(rc));
    return status_for(rc);
}

static int do_send(const char *name, unsigned prio, int timeout_ms, long maxmsg, long msgsize, char **msgs, int nmsgs) {
    ipc_mq q;
    int rc = ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_WRONLY, 0600, maxmsg, msgsize), status = 0;
    if (rc < 0) return failed(name, rc);
    if (nmsgs > 0) { /* the messages are the arguments */
        for (int i = 0; status == 0 && i < nmsgs; i++)
            status = send_one(&q, name, (unsigned long)i + 1, msgs[i], strlen(msgs[i]), prio, timeout_ms);
    } else { /* the lines of stdin, without their newlines */
        char *line = NULL;
        size_t size = 0;
        ssize_t n;
        for (unsigned long i = 1; status == 0 && (n = getline(&line, &size, stdin)) >= 0; i++) {
            if (n > 0 && line[n - 1] == '\n') n--;
            status = send_one(&q, name, i, line, (size_t)n, prio, timeout_ms);
        }
        if (status == 0 && !feof(stdin)) { /* -1 without EOF: a read error, in errno */
            fprintf(stderr, "mq_log: stdin: %s\n", strerror(errno));
            status = EXIT_FAIL;
        }
        free(line);
    }
    if ((rc = ipc_mq_close(&q)) < 0 && status == 0) status = failed(name, rc);
    return status;
}

/* ---- recv ------------------------------------------------------------------ */

/* count: the messages to wait for (ULONG_MAX with follow); 0 means
   "what is queued now" and never waits. */
static int do_recv(const char *name, unsigned long count, int timeout_ms, int remove_name) {
    ipc_mq q;
    int rc = ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_RDONLY, 0600, 0, 0), status = 0;
    int drain = count == 0;
    if (rc < 0) return failed(name, rc);
    char *buf = malloc((size_t)q.msgsize); /* what ipc_mq_recv insists on */
    if (!buf) {
        fprintf(stderr, "mq_log: %s: %s\n", name, strerror(errno));
        status = EXIT_FAIL;
    }
    for (unsigned long got = 0; status == 0 && (drain || got < count); got++) {
        unsigned prio;
        /* Try first; only if that would wait, flush what was printed so
           far (a pipeline sees each line promptly), then wait for real. */
        ssize_t n = ipc_mq_recv(&q, buf, (size_t)q.msgsize, &prio, 0);
        if (n == -EAGAIN && drain) break; /* all of it printed */
        if (n == -EAGAIN && timeout_ms != 0) {
            if (fflush(stdout) == EOF) {
                fprintf(stderr, "mq_log: stdout: %s\n", strerror(errno));
                status = EXIT_FAIL;
                break;
            }
            n = ipc_mq_recv(&q, buf, (size_t)q.msgsize, &prio, timeout_ms);
        }
        if (n == -ETIMEDOUT || n == -EAGAIN) {
            fprintf(stderr, "mq_log: %s: no message for %d ms (%lu received): %s\n", name, timeout_ms, got,
                    ipc_strerror((int)n));
            status = EXIT_TIMEOUT;
        } else if (n < 0) {
            status = failed(name, n);
        } else if (printf("%u ", prio) < 0 || fwrite(buf, 1, (size_t)n, stdout) != (size_t)n || putchar('\n') == EOF) {
            fprintf(stderr, "mq_log: stdout: %s\n", strerror(errno));
            status = EXIT_FAIL;
        }
    }
    free(buf);
    if ((rc = ipc_mq_close(&q)) < 0 && status == 0) status = failed(name, rc);
    if (remove_name && (rc = ipc_mq_unlink(name)) < 0 && status == 0) status = failed(name, rc);
    if (fflush(stdout) == EOF && status == 0) {
        fprintf(stderr, "mq_log: stdout: %s\n", strerror(errno));
        status = EXIT_FAIL;
    }
    return status;
}

/* ---- stat, rm --------------------------------------------------------------- */

static int do_stat(const char *name) {
    ipc_mq q;
    ipc_mq_info info;
    int rc = ipc_mq_open(&q, name, IPC_O_RDONLY, 0600, 0, 0), status = 0; /* no IPC_O_CREATE */
    if (rc < 0) return failed(name, rc);
    if ((rc = ipc_mq_stat(&q, &info)) < 0)
        status = failed(name, rc);
    else if (printf("curmsgs %ld\nmaxmsg %ld\nmsgsize %ld\n", info.curmsgs, info.maxmsg, info.msgsize) < 0 ||
             fflush(stdout) == EOF) {
        fprintf(stderr, "mq_log: stdout: %s\n", strerror(errno));
        status = EXIT_FAIL;
    }
    if ((rc = ipc_mq_close(&q)) < 0 && status == 0) status = failed(name, rc);
    return status;
}

static int do_rm(const char *name) {
    int rc = ipc_mq_unlink(name);
    return rc < 0 ? failed(name, rc) : 0;
}

/* ---- main --------------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: mq_log send NAME [--prio P] [--timeout MS] [--maxmsg N] [--msgsize BYTES] [MSG...]\n"
            "       mq_log recv NAME [-n COUNT | -f] [--timeout MS] [--unlink]\n"
            "       mq_log stat NAME\n"
            "       mq_log rm NAME\n"
            "A priority logger on the POSIX message queue NAME ('/' and a name without '/').\n"
            "send: each MSG (or each line of stdin) is one message; creates the queue if absent.\n"
            "  -p, --prio P        priority, 0..%d (default 0); higher comes out first\n"
            "  -M, --maxmsg N      capacity of a queue created here (system default: 10)\n"
            "  -S, --msgsize BYTES largest message of a queue created here (default 8192)\n"
            "recv: prints 'PRIO MSG' per message, highest priority first; creates the queue.\n"
            "  -n, --count COUNT   wait for COUNT messages (without -n: what is queued now)\n"
            "  -f, --follow        wait for messages until a wait runs out or a signal\n"
            "  -u, --unlink        remove the queue's name at the end\n"
            "  -t, --timeout MS    give up when a wait lasts MS ms (exit 3)\n"
            "stat: curmsgs, maxmsg, msgsize of the queue. rm: remove the queue.\n"
            "Exit status: 0 ok, 1 failure, 2 usage error or bad name, 3 timeout.\n",
            MQ_PRIO_MAX - 1);
}

/* A decimal number in [lo, hi], or -1 when s is not one. */
static int parse_number(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
    char *end;
    unsigned long v;
    if (*s < '0' || *s > '9') return -1; /* strtoul would accept " -5" */
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char *argv[]) {
    static const struct option longopts[] = {
        {"prio", required_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'},
        {"maxmsg", required_argument, NULL, 'M'},
        {"msgsize", required_argument, NULL, 'S'},
        {"count", required_argument, NULL, 'n'},
        {"follow", no_argument, NULL, 'f'},
        {"unlink", no_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* The options each command takes (all take -h). */
    static const struct {
        const char *name, *opts;
    } cmds[] = {{"send", "ptMS"}, {"recv", "tnfu"}, {"stat", ""}, {"rm", ""}};
    unsigned long prio = 0, count = 0, maxmsg = 0, msgsize = 0, v;
    int timeout_ms = -1, follow = 0, remove_name = 0, opt, cmd = -1;

    if (argc < 2) {
        fprintf(stderr, "mq_log: wants a command: send, recv, stat or rm (try --help)\n");
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (int i = 0; i < 4; i++)
        if (strcmp(argv[1], cmds[i].name) == 0) cmd = i;
    if (cmd < 0) {
        fprintf(stderr, "mq_log: unknown command '%s' (send, recv, stat, rm; try --help)\n", argv[1]);
        return EXIT_USAGE;
    }

    /* getopt sees "CMD args...": argv[1] plays the program name. */
    opterr = 0; /* we print our own one-line message */
    argc--, argv++;
    while ((opt = getopt_long(argc, argv, "p:t:M:S:n:fuh", longopts, NULL)) != -1) {
        const char *arg = argv[optind - 1];
        if (opt == 'h') {
            usage(stdout);
            return 0;
        }
        if (opt == '?') {
            if (optopt && strchr("ptMSn", optopt))
                fprintf(stderr, "mq_log %s: %s needs an argument (try --help)\n", cmds[cmd].name, arg);
            else
                fprintf(stderr, "mq_log %s: unknown option '%s' (try --help)\n", cmds[cmd].name, arg);
            return EXIT_USAGE;
        }
        if (!strchr(cmds[cmd].opts, opt)) {
            fprintf(stderr, "mq_log %s: '%s' is not an option of %s (try --help)\n", cmds[cmd].name, arg,
                    cmds[cmd].name);
            return EXIT_USAGE;
        }
        switch (opt) {
        case 'p':
            if (parse_number(optarg, 0, MQ_PRIO_MAX - 1, &prio) < 0) {
                fprintf(stderr, "mq_log send: --prio wants a priority (0..%d), not '%s'\n", MQ_PRIO_MAX - 1, optarg);
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (parse_number(optarg, 0, INT_MAX, &v) < 0) {
                fprintf(stderr, "mq_log %s: --timeout wants milliseconds (0..%d), not '%s'\n", cmds[cmd].name, INT_MAX,
                        optarg);
                return EXIT_USAGE;
            }
            timeout_ms = (int)v;
            break;
        case 'M':
        case 'S':
            /* The kernel judges these against its limits (and names them). */
            if (parse_number(optarg, 1, LONG_MAX, opt == 'M' ? &maxmsg : &msgsize) < 0) {
                fprintf(stderr, "mq_log send: %s wants a number (at least 1), not '%s'\n", arg, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'n':
            if (parse_number(optarg, 1, ULONG_MAX, &count) < 0) {
                fprintf(stderr, "mq_log recv: -n wants a count (at least 1), not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'f': follow = 1; break;
        case 'u': remove_name = 1; break;
        }
    }
    if (follow && count) {
        fprintf(stderr, "mq_log recv: -n and -f do not go together (try --help)\n");
        return EXIT_USAGE;
    }
    if (follow) count = ULONG_MAX;

    /* NAME, then messages for send only. */
    if (optind >= argc) {
        fprintf(stderr, "mq_log %s: wants a queue NAME (try --help)\n", cmds[cmd].name);
        return EXIT_USAGE;
    }
    const char *name = argv[optind++];
    if (cmd != 0 && optind < argc) {
        fprintf(stderr, "mq_log %s: unexpected argument '%s' (try --help)\n", cmds[cmd].name, argv[optind]);
        return EXIT_USAGE;
    }
    int rc = ipc_mq_name_check(name);
    if (rc < 0) {
        fprintf(stderr, "mq_log: '%s': %s (a queue name is '/' and a name without '/', as in /mylog)\n", name,
                ipc_strerror(rc));
        return EXIT_USAGE;
    }

    switch (cmd) {
    case 0: return do_send(name, (unsigned)prio, timeout_ms, (long)maxmsg, (long)msgsize, argv + optind, argc - optind);
    case 1: return do_recv(name, count, timeout_ms, remove_name);
    case 2: return do_stat(name);
    default: return do_rm(name);
    }
}
