/* unix_echo.c - an echo server on a Unix stream socket, and its client.

   Usage: unix_echo serve ADDR [--clients N] [--timeout MS] [--allow-uid UID]
          unix_echo client ADDR [--timeout MS] [MSG...]

   ADDR is a path ("/tmp/echo.sock", made with mode 0600) or an abstract
   name ("@echo": Linux only, no file, gone with the socket). Messages are
   LEN32 frames both ways (see WIRE FORMATS in ipc.h).

       unix_echo serve /tmp/echo.sock &
       unix_echo client /tmp/echo.sock hello world    prints hello, world
       printf 'a\nb\n' | unix_echo client @echo         each stdin line

   serve listens on ADDR (ipc_unix_listen) and serves many clients at once
   from one poll loop: the listener and every client socket. Each client
   gets an ipc_reader for its requests and an ipc_sender for its echoes, so
   a client that sends without reading its echoes fills its own bounded
   queue (256 KiB), after which the server stops reading from that client
   alone until it catches up: it never blocks on one client, and never
   buffers without bound. A client that sends a malformed frame, or one over
   1 MiB, is dropped with a line on stderr; the others go on. At most 64
   clients are served at once; more wait in the listen backlog, as they do
   when the server runs out of descriptors (accept says EMFILE: one line on
   stderr, and the listener rests for 100 ms at a time instead of waking
   poll again at once).

   Every client is checked when it connects: SO_PEERCRED, which the kernel
   fills in at connect(2) and a client cannot forge, gives its pid and uid.
   A client whose uid is neither the server's effective uid nor --allow-uid
   is refused -- one line on stderr, "unix_echo: refused peer pid P uid U",
   and the connection is closed. That check is what guards an abstract
   name, which has no file and so no permissions: anyone on the machine
   (in the same network namespace) may connect to it. A path is guarded by
   the file system too: its socket file is 0600, so another user's connect
   fails with EACCES before the server hears of it.

   On stdout serve prints "listening on ADDR" once it listens, a line per
   client that has come and gone ("client pid P uid U: N messages echoed"),
   and "served N clients" at the end. It stops after --clients N clients
   have come and gone (refused ones do not count), on SIGTERM or SIGINT, or
   when nothing at all happens for --timeout MS (then exit status 3). It
   removes its socket file on the way out -- if the file is still the one
   it bound. A server killed with SIGKILL leaves the file behind: the next
   server on that path finds nobody listening there (a connect is refused)
   and replaces it; a second server on a live address fails with "Address
   already in use" and steals nothing. (That test is a connect: the live
   server sees it as a client that came, sent nothing and went.)

   client connects to ADDR, waiting for the server up to --timeout MS
   (default 10000; a client may start before its server), sends each MSG --
   or each line of stdin, without its newline -- and prints each echo on
   its own line, after checking it is the message it sent. --timeout bounds
   every wait: for the server, for each echo.

   Exit status: 0 success; 1 a failure (one line on stderr naming ADDR: the
   address is in use, the server closed the connection -- which is what a
   refused client sees --, an echo that differs, ...); 2 a usage error or a
   malformed address; 3 a wait ran out. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

#define MAX_CLIENTS 64       /* served at once; more wait in the listen backlog */
#define MAX_MSG (1u << 20)   /* longest message, either way */
#define QUEUE (256u << 10)   /* a client's outgoing queue: backpressure above this */
#define CLIENT_TIMEOUT 10000 /* the client's default --timeout */

static const char *addr; /* ADDR, for every message */

/* ---- the server ----------------------------------------------------------------- */

typedef struct client {
    int fd; /* -1: a free slot */
    ipc_peer peer;
    ipc_reader r;
    ipc_sender s;
    const uint8_t *held; /* a request backpressure refused: still the reader's, */
    size_t held_len;     /* valid until its next ipc_reader_next */
    int holding, ended;  /* ended: the client closed its side; echo the rest, then close */
    unsigned long echoed;
} client;

static client clients[MAX_CLIENTS];
static int nclients;
static unsigned long served;

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout); /* a line as it happens, even into a file */
}

/* The client has gone (why == NULL: cleanly, every echo written). */
static void drop(client *c, const char *why) {
    if (why)
        fprintf(stderr, "unix_echo: %s: client pid %ld uid %lu dropped: %s\n", addr, (long)c->peer.pid,
                (unsigned long)c->peer.uid, why);
    say("client pid %ld uid %lu: %lu messages echoed\n", (long)c->peer.pid, (unsigned long)c->peer.uid, c->echoed);
    ipc_reader_free(&c->r);
    ipc_sender_free(&c->s);
    close(c->fd);
    c->fd = -1;
    nclients--;
    served++;
}

/* When accept failed for want of descriptors: the listener is left out of
   poll until then (it would wake us at once, again and again). */
static int64_t accept_resume;
static int accept_failing;
#define ACCEPT_PAUSE_MS 100

/* Takes the new connections waiting on the listener, while slots are free. */
static void accept_clients(int lfd, uid_t allow_uid) {
    for (int first = 1; nclients < MAX_CLIENTS; first = 0) {
        ipc_peer peer;
        int fd = ipc_unix_accept(lfd, IPC_O_NONBLOCK, &peer, 0), rc;
        if (fd == -EAGAIN) return;
        /* -EMFILE and the like: the connection stays queued; try again a
           little later. accept(2) takes a descriptor before it looks for a
           connection, so only the first call after poll said "readable"
           knows one is waiting: only that one is worth a line. */
        if (fd < 0) {
            if (first && !accept_failing)
                fprintf(stderr, "unix_echo: %s: accept: %s (trying again every %d ms)\n", addr, ipc_strerror(fd),
                        ACCEPT_PAUSE_MS);
            if (first) accept_failing = 1;
            accept_resume = ipc_deadline(ACCEPT_PAUSE_MS);
            return;
        }
        accept_failing = 0;
        if (peer.uid != geteuid() && peer.uid != allow_uid) {
            fprintf(stderr, "unix_echo: refused peer pid %ld uid %lu\n", (long)peer.pid, (unsigned long)peer.uid);
            close(fd);
            continue;
        }
        client *c = clients;
        while (c->fd >= 0)
            c++; /* a free slot exists: nclients < MAX_CLIENTS */
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->peer = peer;
        if ((rc = ipc_reader_init(&c->r, fd, IPC_LEN32, MAX_MSG, 16384)) < 0 ||
            (rc = ipc_sender_init(&c->s, fd, IPC_LEN32, QUEUE)) < 0) {
            fprintf(stderr, "unix_echo: %s: client pid %ld: %s\n", addr, (long)peer.pid, ipc_strerror(rc));
            ipc_reader_free(&c->r);
            ipc_sender_free(&c->s);
            close(fd);
            c->fd = -1;
            continue;
        }
        nclients++;
    }
}

/* Queues echoes for every request that has arrived, until the socket has
   no more or the client's queue is full. Returns 0, or -1 when the client
   was dropped. */
static int serve_input(client *c) {
    char why[160];
    for (;;) {
        int rc;
        if (c->holding) {
            if ((rc = ipc_sender_send(&c->s, c->held, c->held_len)) == -EAGAIN) return 0; /* still full */
            if (rc < 0) {
                snprintf(why, sizeof why, "echo %lu: %s", c->echoed + 1, ipc_strerror(rc));
                drop(c, why);
                return -1;
            }
            c->holding = 0;
            c->echoed++;
        }
        if (c->ended) return 0;
        const uint8_t *m;
        ssize_t n = ipc_reader_next(&c->r, &m, 0); /* never waits */
        if (n == -EAGAIN) return 0;
        if (n == IPC_EOF) {
            c->ended = 1;
            return 0;
        }
        if (n < 0) {
            snprintf(why, sizeof why, "request %lu: %s", c->echoed + 1, ipc_strerror((int)n));
            drop(c, why);
            return -1;
        }
        c->held = m, c->held_len = (size_t)n, c->holding = 1; /* sent at the top of the loop */
    }
}

/* One round of events for client c (revents from poll). */
static void serve_client(client *c, short revents) {
    int rc;
    char why[160];
    /* A hangup with echoes still queued: the flush finds out (-EPIPE), or
       poll would report the hangup again and again. */
    if ((revents & POLLOUT) || ((revents & (POLLERR | POLLHUP)) && ipc_sender_pending(&c->s))) {
        if ((rc = ipc_sender_flush(&c->s, 0)) < 0 && rc != -EAGAIN) {
            snprintf(why, sizeof why, "echo %lu: %s", c->echoed + 1, ipc_strerror(rc));
            drop(c, why);
            return;
        }
    }
    /* Input, an error or a hangup all surface through the reader; and room
       made by a flush may take a held request. */
    if ((revents & (POLLIN | POLLERR | POLLHUP)) || c->holding) {
        if (serve_input(c) < 0) return;
    }
    if (c->ended && !c->holding && ipc_sender_pending(&c->s) == 0) drop(c, NULL);
}

/* The socket file, if ADDR is a path: what it was right after listen, to
   remove it at the end only if it is still the one we bound. */
static struct stat bound;
static int have_bound;

static void remove_socket_file(void) {
    struct stat st;
    if (have_bound && lstat(addr, &st) == 0 && st.st_dev == bound.st_dev && st.st_ino == bound.st_ino)
        ipc_unix_unlink(addr);
}

static int serve(unsigned long max_clients, int timeout_ms, uid_t allow_uid) {
    struct sigaction sa;
    sigset_t block, orig;
    int status = 0;

    /* SIGTERM and SIGINT are blocked except inside ppoll: a signal cannot
       slip in between a check of `stop` and the wait. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &orig);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = ipc_unix_listen(addr, SOCK_STREAM, 0, 0600, 0);
    if (lfd < 0) {
        fprintf(stderr, "unix_echo: %s: %s\n", addr, ipc_strerror(lfd));
        return EXIT_FAIL;
    }
    have_bound = addr[0] != '@' && lstat(addr, &bound) == 0;
    for (int i = 0; i < MAX_CLIENTS; i++)
        clients[i].fd = -1;
    say("listening on %s\n", addr);

    while (!stop && (max_clients == 0 || served < max_clients)) {
        struct pollfd p[MAX_CLIENTS + 1];
        client *who[MAX_CLIENTS + 1];
        nfds_t np = 0;
        int paused = accept_resume && ipc_now_ns() < accept_resume;
        if (nclients < MAX_CLIENTS && !paused) p[np] = (struct pollfd){lfd, POLLIN, 0}, who[np++] = NULL;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            client *c = &clients[i];
            if (c->fd < 0) continue;
            short ev = (short)((!c->holding && !c->ended ? POLLIN : 0) | (ipc_sender_pending(&c->s) ? POLLOUT : 0));
            p[np] = (struct pollfd){c->fd, ev, 0}, who[np++] = c;
        }
        int wait_ms = paused && (timeout_ms < 0 || timeout_ms > ACCEPT_PAUSE_MS) ? ACCEPT_PAUSE_MS : timeout_ms;
        struct timespec ts = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000};
        int k = ppoll(p, np, wait_ms < 0 ? NULL : &ts, &orig);
        if (k == 0 && wait_ms != timeout_ms) continue; /* the end of a pause, not of the idle time */
        if (k < 0 && errno == EINTR) continue;         /* a signal: `stop` says which */
        if (k < 0) {
            fprintf(stderr, "unix_echo: %s: poll: %s\n", addr, strerror(errno));
            status = EXIT_FAIL;
            break;
        }
        if (k == 0) {
            fprintf(stderr, "unix_echo: %s: nothing happened for %d ms (%lu clients served)\n", addr, timeout_ms,
                    served);
            status = EXIT_TIMEOUT;
            break;
        }
        for (nfds_t i = 0; i < np; i++) {
            if (!p[i].revents) continue;
            if (who[i])
                serve_client(who[i], p[i].revents);
            else
                accept_clients(lfd, allow_uid);
        }
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i].fd >= 0) drop(&clients[i], "the server is stopping");
    close(lfd);
    remove_socket_file();
    say("served %lu client%s\n", served, served == 1 ? "" : "s");
    return status;
}

/* ---- the client ----------------------------------------------------------------- */

/* Sends message i (msg, n bytes), reads its echo, checks it and prints it.
   Returns 0 or the exit status of its failure (reported). */
static int echo_one(int fd, ipc_reader *r, unsigned long i, const char *msg, size_t n, int timeout_ms) {
    const uint8_t *echo;
    ssize_t got;
    int rc = ipc_send_frame(fd, IPC_LEN32, msg, n, timeout_ms);
    if (rc == 0)
        got = ipc_reader_next(r, &echo, timeout_ms);
    else
        got = rc;
    if (got == IPC_EOF || got == -EPIPE || got == -ECONNRESET) {
        fprintf(stderr, "unix_echo: %s: the server closed the connection before echoing message %lu (refused?): %s\n",
                addr, i, ipc_strerror((int)got));
        return EXIT_FAIL;
    }
    if (got == -ETIMEDOUT || got == -EAGAIN) {
        fprintf(stderr, "unix_echo: %s: no echo of message %lu within %d ms\n", addr, i, timeout_ms);
        return EXIT_TIMEOUT;
    }
    if (got < 0) {
        fprintf(stderr, "unix_echo: %s: message %lu: %s\n", addr, i, ipc_strerror((int)got));
        return EXIT_FAIL;
    }
    if ((size_t)got != n || memcmp(echo, msg, n) != 0) {
        fprintf(stderr, "unix_echo: %s: the echo of message %lu differs from it (%zd bytes, sent %zu)\n", addr, i, got,
                n);
        return EXIT_FAIL;
    }
    if (fwrite(echo, 1, n, stdout) != n || putchar('\n') == EOF || fflush(stdout) == EOF) { /* each echo as it comes */
        fprintf(stderr, "unix_echo: stdout: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    return 0;
}

static int client_main(int timeout_ms, char **msgs, int nmsgs) {
    int fd = ipc_unix_connect(addr, SOCK_STREAM, 0, timeout_ms), status = 0, rc;
    if (fd < 0) {
        if (fd == -ETIMEDOUT)
            fprintf(stderr, "unix_echo: %s: no server within %d ms\n", addr, timeout_ms);
        else
            fprintf(stderr, "unix_echo: %s: %s\n", addr, ipc_strerror(fd));
        return fd == -ETIMEDOUT ? EXIT_TIMEOUT : EXIT_FAIL;
    }
    ipc_reader r;
    if ((rc = ipc_reader_init(&r, fd, IPC_LEN32, MAX_MSG, 0)) < 0) {
        fprintf(stderr, "unix_echo: %s: %s\n", addr, ipc_strerror(rc));
        close(fd);
        return EXIT_FAIL;
    }
    if (nmsgs > 0) {
        for (int i = 0; status == 0 && i < nmsgs; i++)
            status = echo_one(fd, &r, (unsigned long)i + 1, msgs[i], strlen(msgs[i]), timeout_ms);
    } else { /* each line of stdin, without its newline */
        char *line = NULL;
        size_t size = 0;
        ssize_t n;
        for (unsigned long i = 1; status == 0 && (n = getline(&line, &size, stdin)) >= 0; i++) {
            if (n > 0 && line[n - 1] == '\n') n--;
            if ((size_t)n > MAX_MSG) {
                fprintf(stderr, "unix_echo: stdin: line %lu is longer than %u bytes\n", i, MAX_MSG);
                status = EXIT_FAIL;
                break;
            }
            status = echo_one(fd, &r, i, line, (size_t)n, timeout_ms);
        }
        if (status == 0 && ferror(stdin)) {
            fprintf(stderr, "unix_echo: stdin: %s\n", strerror(errno));
            status = EXIT_FAIL;
        }
        free(line);
    }
    ipc_reader_free(&r);
    close(fd);
    if (fflush(stdout) == EOF && status == 0) {
        fprintf(stderr, "unix_echo: stdout: %s\n", strerror(errno));
        status = EXIT_FAIL;
    }
    return status;
}

/* ---- main -------------------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: unix_echo serve ADDR [--clients N] [--timeout MS] [--allow-uid UID]\n"
            "       unix_echo client ADDR [--timeout MS] [MSG...]\n"
            "An echo server on a Unix stream socket (LEN32 frames) and its client.\n"
            "ADDR is a path or @name (abstract). serve refuses clients of another uid.\n"
            "  -c, --clients N     serve: stop after N clients have come and gone\n"
            "  -t, --timeout MS    serve: stop when nothing happens for MS ms (exit 3);\n"
            "                      client: bound each wait (default %d ms; exit 3)\n"
            "  -u, --allow-uid UID serve: accept this uid too, besides our own\n"
            "Exit status: 0 ok, 1 failure, 2 usage error, 3 a wait ran out.\n",
            CLIENT_TIMEOUT);
}

static int number(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
    char *end;
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno || *end || *out < lo || *out > hi ? -1 : 0;
}

int main(int argc, char *argv[]) {
    static const struct option longopts[] = {{"clients", required_argument, NULL, 'c'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"allow-uid", required_argument, NULL, 'u'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    unsigned long max_clients = 0, timeout = 0, allow = 0;
    int have_timeout = 0, have_allow = 0, opt, rc;
    ipc_unix_addr check;

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return usage(stdout), 0;
    if (argc < 2 || (strcmp(argv[1], "serve") && strcmp(argv[1], "client"))) {
        fprintf(stderr, "unix_echo: wants serve or client (try --help)\n");
        return EXIT_USAGE;
    }
    int is_serve = !strcmp(argv[1], "serve");
    argv++, argc--; /* getopt takes "serve" for the program's name */
    opterr = 0;     /* options may come anywhere; "--" ends them (a MSG starting with '-') */
    while ((opt = getopt_long(argc, argv, "c:t:u:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': usage(stdout); return 0;
        case 'c':
            if (!is_serve || number(optarg, 1, ULONG_MAX, &max_clients) < 0) goto bad;
            break;
        case 't':
            if (number(optarg, 0, INT_MAX, &timeout) < 0) goto bad;
            have_timeout = 1;
            break;
        case 'u':
            if (!is_serve || number(optarg, 0, (uid_t)-2, &allow) < 0) goto bad;
            have_allow = 1;
            break;
        default:
        bad:
            if (opt == '?' && optopt && strchr("ctu", optopt))
                fprintf(stderr, "unix_echo: -%c needs an argument (try --help)\n", optopt);
            else
                fprintf(stderr, "unix_echo: bad option or value '%s' (try --help)\n", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "unix_echo: %s wants an address: /path or @name (try --help)\n", argv[0]);
        return EXIT_USAGE;
    }
    addr = argv[optind++];
    if ((rc = ipc_unix_addr_set(&check, addr)) < 0) {
        fprintf(stderr, "unix_echo: '%s': %s (an address is /path or @name, at most 107 bytes)\n", addr,
                ipc_strerror(rc));
        return EXIT_USAGE;
    }
    if (is_serve) {
        if (optind < argc) {
            fprintf(stderr, "unix_echo: serve: unexpected argument '%s' (try --help)\n", argv[optind]);
            return EXIT_USAGE;
        }
        return serve(max_clients, have_timeout ? (int)timeout : -1, have_allow ? (uid_t)allow : geteuid());
    }
    return client_main(have_timeout ? (int)timeout : CLIENT_TIMEOUT, argv + optind, argc - optind);
}
