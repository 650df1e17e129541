/* ipc_hold.c - create one IPC object of each kind, hold them, then clean up.

   Usage: ipc_hold [-n MSGS] [-s BYTES] NAME SOCKPATH

   The subject of `ipc stat` in the monitoring tests, and a quick way to see
   what the tool shows. It creates
     - a private System V message queue holding MSGS messages (default 3) of
       100 bytes each, type 1;
     - the POSIX shared memory object NAME ("/" and a name), BYTES long
       (default 16384), open and mapped;
     - the POSIX message queue NAME holding 2 messages (mq_open needs no
       mounted /dev/mqueue: that mount only lists the queues);
     - a listening Unix stream socket bound to SOCKPATH;
     - an anonymous pipe and a memfd called NAME without its "/";
   prints one line per object, with its descriptors, then "ready":

       sysv-msg ID KEY MSGS
       posix-shm NAME BYTES fd N
       posix-mq NAME fd N
       unix SOCKPATH fd N
       pipe fd R W
       memfd NAME fd N
       ready

   and waits until its standard input ends or it gets SIGTERM, SIGINT or
   SIGHUP. Then it removes everything it made (the queue, both names, the
   socket file) and exits 0. The wait is ppoll with the signals unblocked
   only inside it, so a signal cannot slip in between a check of the flag
   and the wait (the race TLPI's self-pipe trick exists for). A process
   killed with SIGKILL cleans up nothing: the caller removes the objects
   from the names it printed.

   Exit status: 0 created, held and removed everything; 1 a failure (one
   line on stderr; what was made by then is removed); 2 a usage error. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* What was made, for the cleanup. */
static struct {
    int qid, shm_fd, sock_fd, pipe_fd[2], memfd;
    int shm_named, mq_named, sock_named, mq_open;
    void *map;
    size_t map_len;
    ipc_mq mq;
    const char *name, *sockpath;
} held = {-1, -1, -1, {-1, -1}, -1, 0, 0, 0, 0, NULL, 0, {-1, 0, 0, NULL, NULL}, NULL, NULL};

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void cleanup(void) {
    if (held.qid >= 0) ipc_sysv_remove(held.qid);
    if (held.map) munmap(held.map, held.map_len);
    if (held.shm_fd >= 0) close(held.shm_fd);
    if (held.shm_named) shm_unlink(held.name);
    if (held.mq_open) ipc_mq_close(&held.mq);
    if (held.mq_named) ipc_mq_unlink(held.name);
    if (held.sock_fd >= 0) close(held.sock_fd);
    if (held.sock_named) unlink(held.sockpath);
    if (held.pipe_fd[0] >= 0) close(held.pipe_fd[0]), close(held.pipe_fd[1]);
    if (held.memfd >= 0) close(held.memfd);
}

/* Reports what failed, removes what was made; returns the exit status. */
static int failed(const char *what, int rc) {
    fprintf(stderr, "ipc_hold: %s: %s\n", what, ipc_strerror(rc));
    cleanup();
    return EXIT_FAIL;
}

static int number(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
    char *end;
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno || *end || *out < lo || *out > hi ? -1 : 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: ipc_hold [-n MSGS] [-s BYTES] NAME SOCKPATH\n"
               "Creates a System V queue with MSGS messages, POSIX shm and mq NAME, a listening\n"
               "Unix socket at SOCKPATH, a pipe and a memfd; prints them, then holds them until\n"
               "stdin ends or SIGTERM/SIGINT/SIGHUP, and removes them.\n"
               "  -n, --messages MSGS  messages put on the System V queue (default 3)\n"
               "  -s, --size BYTES     size of the shared memory object (default 16384)\n"
               "Exit status: 0 ok, 1 failure, 2 usage error.\n");
}

int main(int argc, char *argv[]) {
    static const struct option longopts[] = {{"messages", required_argument, NULL, 'n'},
                                              {"size", required_argument, NULL, 's'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    unsigned long msgs = 3, size = 16384;
    int opt, rc;
    char payload[100];
    struct sockaddr_un addr;
    struct sigaction sa;
    sigset_t block, orig;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "n:s:h", longopts, NULL)) != -1) {
        if (opt == 'h') return usage(stdout), 0;
        if (opt == '?' || (opt == 'n' && number(optarg, 0, 100, &msgs) < 0) ||
            (opt == 's' && number(optarg, 1, 1UL << 30, &size) < 0)) {
            fprintf(stderr, "ipc_hold: bad option '%s' (try --help)\n", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "ipc_hold: wants NAME and SOCKPATH (try --help)\n");
        return EXIT_USAGE;
    }
    held.name = argv[optind];
    held.sockpath = argv[optind + 1];
    if ((rc = ipc_mq_name_check(held.name)) < 0) {
        fprintf(stderr, "ipc_hold: '%s': %s (a name is '/' and a name without '/')\n", held.name, ipc_strerror(rc));
        return EXIT_USAGE;
    }
    if (strlen(held.sockpath) >= sizeof addr.sun_path) {
        fprintf(stderr, "ipc_hold: '%s': %s\n", held.sockpath, strerror(ENAMETOOLONG));
        return EXIT_USAGE;
    }

    /* Signals are blocked from here on except inside ppoll. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &orig);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    /* System V queue with msgs messages. */
    memset(payload, 'm', sizeof payload);
    if ((held.qid = ipc_sysv_open(IPC_PRIVATE, IPC_O_CREATE, 0600)) < 0) return failed("System V queue", held.qid);
    for (unsigned long i = 0; i < msgs; i++)
        if ((rc = ipc_sysv_send(held.qid, 1, payload, sizeof payload, 0)) < 0) return failed("System V send", rc);

    /* POSIX shared memory, open and mapped. */
    if ((held.shm_fd = shm_open(held.name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600)) < 0)
        return failed(held.name, -errno);
    held.shm_named = 1;
    if (ftruncate(held.shm_fd, (off_t)size) < 0) return failed(held.name, -errno);
    held.map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, held.shm_fd, 0);
    if (held.map == MAP_FAILED) {
        held.map = NULL;
        return failed(held.name, -errno);
    }
    held.map_len = size;

    /* POSIX message queue with two messages. */
    if ((rc = ipc_mq_open(&held.mq, held.name, IPC_O_CREATE | IPC_O_EXCL, 0600, 0, 0)) < 0)
        return failed(held.name, rc);
    held.mq_open = held.mq_named = 1;
    if ((rc = ipc_mq_send(&held.mq, "one", 3, 0, 0)) < 0 || (rc = ipc_mq_send(&held.mq, "two", 3, 0, 0)) < 0)
        return failed(held.name, rc);

    /* A listening Unix socket. */
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, held.sockpath);
    if ((held.sock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) return failed("socket", -errno);
    if (bind(held.sock_fd, (struct sockaddr *)&addr, sizeof addr) < 0) return failed(held.sockpath, -errno);
    held.sock_named = 1;
    if (listen(held.sock_fd, 8) < 0) return failed(held.sockpath, -errno);

    /* A pipe and a memfd. */
    if (pipe2(held.pipe_fd, O_CLOEXEC) < 0) return failed("pipe", -errno);
    if ((held.memfd = memfd_create(held.name + 1, MFD_CLOEXEC)) < 0) return failed("memfd", -errno);

    printf("sysv-msg %d 0x%08x %lu\n", held.qid, 0, msgs);
    printf("posix-shm %s %lu fd %d\n", held.name, size, held.shm_fd);
    printf("posix-mq %s fd %d\n", held.name, held.mq.fd);
    printf("unix %s fd %d\n", held.sockpath, held.sock_fd);
    printf("pipe fd %d %d\n", held.pipe_fd[0], held.pipe_fd[1]);
    printf("memfd %s fd %d\n", held.name + 1, held.memfd);
    printf("ready\n");
    if (fflush(stdout) == EOF) return failed("stdout", -errno);

    /* Hold until stdin ends or a signal. */
    while (!stop) {
        struct pollfd p = {0, POLLIN, 0};
        char buf[256];
        int n = ppoll(&p, 1, NULL, &orig);
        if (n < 0 && errno == EINTR) continue; /* stop is set */
        if (n < 0) return failed("stdin", -errno);
        if (p.revents & POLLNVAL) break;
        ssize_t r = read(0, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) break;
        /* ppoll that finds input ready returns it, not EINTR, and leaves a
           signal that came meanwhile pending (blocked again): look. */
        sigset_t pending;
        if (sigpending(&pending) == 0 &&
            (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT) || sigismember(&pending, SIGHUP)))
            break;
    }
    cleanup();
    return 0;
}
