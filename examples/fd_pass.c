/* fd_pass.c - hand an open file to another process over a Unix socket.

   Usage: fd_pass FILE
          (fd_pass --receiver SOCKFD FILE: the second half, run by the first)

   The sender opens FILE read-only and sends the descriptor -- not the name,
   not the bytes -- as SCM_RIGHTS ancillary data over a Unix socket
   (ipc_unix_send with fds). The receiver gets its own descriptor for the
   same open file (ipc_unix_recv with an ipc_unix_aux), and copies the
   file's content from it to stdout:

       sudo fd_pass /etc/shadow > copy      copy is /etc/shadow, byte for byte

   What makes the point is who the receiver is. The sender makes a
   socketpair and forks; when it runs as root, the child drops to uid and
   gid 65534 (nobody/nogroup, no supplementary groups) and then execs this
   program again as `fd_pass --receiver SOCKFD FILE`: a fresh program
   image, unprivileged, holding only the descriptors it was given on
   purpose. Every descriptor ipc.h makes is close-on-exec, so the sender's
   open FILE does not leak across the exec; the child clears close-on-exec
   on its one socket end, explicitly, and tells the new image its number.
   The receiver first tries to open FILE by its path and, for a file only
   root may read (0600 root), fails; then it reads the file all the same,
   through the descriptor it received. Capabilities in the Unix sense: the
   right to read travels with the descriptor, checked once, at open(2).

   The receiver also asks the kernel who is at the other end of its socket
   (ipc_unix_peer: SO_PEERCRED, which a process cannot forge) and checks it
   is its parent, the process that made the socketpair. A descriptor that
   arrives is close-on-exec too (MSG_CMSG_CLOEXEC): the receiver checks,
   and would not hand it on to a program it runs by accident.

   Output: stdout gets exactly the file's bytes, so `fd_pass FILE > copy`
   copies it; the story goes to stderr, one line per step, the last one

       fd_pass: received fd N (close-on-exec), read B bytes

   Run as another user than root, the receiver keeps that user and could
   open the file by path too (it says so); the passing works the same.

   Exit status: 0 the file was read through the passed descriptor; 1 a
   failure (one line on stderr naming FILE or the step); 2 a usage error. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define WAIT_MS 10000 /* the longest any single wait may take */
#define NOBODY 65534  /* the uid and gid the receiver drops to when run as root */

/* ---- the receiver ------------------------------------------------------------- */

static int receiver(int sock, const char *file) {
    char buf[65536];
    char byte;
    int fd_room[1];
    ipc_unix_aux aux;
    ipc_peer peer;
    int rc;

    fprintf(stderr, "fd_pass: receiver pid %ld runs as uid %lu gid %lu\n", (long)getpid(), (unsigned long)geteuid(),
            (unsigned long)getegid());

    /* By path: as this user. */
    int byname = open(file, O_RDONLY | O_CLOEXEC);
    if (byname >= 0) {
        fprintf(stderr, "fd_pass: receiver could open %s by its path too (uid %lu may read it)\n", file,
                (unsigned long)geteuid());
        close(byname);
    } else {
        fprintf(stderr, "fd_pass: receiver cannot open %s by its path: %s\n", file, strerror(errno));
    }

    /* Who is at the other end: the process that made the socketpair. */
    if ((rc = ipc_unix_peer(sock, &peer)) < 0) {
        fprintf(stderr, "fd_pass: receiver: SO_PEERCRED: %s\n", ipc_strerror(rc));
        return EXIT_FAIL;
    }
    fprintf(stderr, "fd_pass: the sender is pid %ld uid %lu gid %lu (SO_PEERCRED)\n", (long)peer.pid,
            (unsigned long)peer.uid, (unsigned long)peer.gid);
    if (peer.pid != getppid()) {
        fprintf(stderr, "fd_pass: receiver: the peer is pid %ld, not our parent %ld\n", (long)peer.pid,
                (long)getppid());
        return EXIT_FAIL;
    }

    /* One byte, the descriptor riding on it. */
    memset(&aux, 0, sizeof aux);
    aux.fds = fd_room;
    aux.fds_room = 1;
    ssize_t n = ipc_unix_recv(sock, &byte, 1, &aux, WAIT_MS);
    if (n < 0 || aux.nfds != 1) {
        fprintf(stderr, "fd_pass: receiver: no descriptor came: %s\n",
                n < 0 ? ipc_strerror((int)n) : "a message without one");
        return EXIT_FAIL;
    }
    int fd = aux.fds[0];
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || !(flags & FD_CLOEXEC)) {
        fprintf(stderr, "fd_pass: receiver: fd %d is not close-on-exec\n", fd);
        close(fd);
        return EXIT_FAIL;
    }

    /* The content, through the descriptor. */
    unsigned long long total = 0;
    for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            fprintf(stderr, "fd_pass: receiver: reading %s through fd %d: %s\n", file, fd, strerror(errno));
            close(fd);
            return EXIT_FAIL;
        }
        if (got == 0) break;
        if ((rc = ipc_write_all(STDOUT_FILENO, buf, (size_t)got, NULL, -1)) < 0) {
            fprintf(stderr, "fd_pass: stdout: %s\n", ipc_strerror(rc));
            close(fd);
            return EXIT_FAIL;
        }
        total += (unsigned long long)got;
    }
    close(fd);
    fprintf(stderr, "fd_pass: received fd %d (close-on-exec), read %llu bytes\n", fd, total);
    return 0;
}

/* ---- the sender ------------------------------------------------------------------ */

/* In the child, between fork and exec: become nobody when root, keep the
   socket end across the exec, run the receiver. Never returns. */
static void start_receiver(int sock, const char *file) {
    char num[16];
    if (geteuid() == 0) {
        /* Groups first, then gid, then uid: once the uid is gone, the rest
           cannot be changed any more. */
        if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0) {
            fprintf(stderr, "fd_pass: dropping to uid %d: %s\n", NOBODY, strerror(errno));
            _exit(EXIT_FAIL);
        }
        if (setuid(0) == 0) { /* the drop must be for good */
            fprintf(stderr, "fd_pass: could get root back after dropping it\n");
            _exit(EXIT_FAIL);
        }
    }
    /* Explicit inheritance: this one descriptor, and only it, survives. */
    if (fcntl(sock, F_SETFD, 0) < 0) {
        fprintf(stderr, "fd_pass: fcntl: %s\n", strerror(errno));
        _exit(EXIT_FAIL);
    }
    snprintf(num, sizeof num, "%d", sock);
    execl("/proc/self/exe", "fd_pass", "--receiver", num, file, (char *)NULL);
    fprintf(stderr, "fd_pass: exec /proc/self/exe: %s\n", strerror(errno));
    _exit(EXIT_FAIL);
}

static int sender(const char *file) {
    int pair[2], rc, status = 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "fd_pass: %s: %s\n", file, strerror(errno));
        return EXIT_FAIL;
    }
    if ((rc = ipc_unix_pair(pair, SOCK_STREAM, 0)) < 0) {
        fprintf(stderr, "fd_pass: socketpair: %s\n", ipc_strerror(rc));
        close(fd);
        return EXIT_FAIL;
    }
    fprintf(stderr, "fd_pass: sender pid %ld (uid %lu) opened %s as fd %d\n", (long)getpid(), (unsigned long)geteuid(),
            file, fd);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fd_pass: fork: %s\n", strerror(errno));
        close(fd), close(pair[0]), close(pair[1]);
        return EXIT_FAIL;
    }
    if (pid == 0) {
        close(pair[0]);
        start_receiver(pair[1], file);
    }
    close(pair[1]);

    /* The descriptor rides on one byte; the receiver gets a duplicate. */
    ssize_t n = ipc_unix_send(pair[0], "F", 1, &fd, 1, WAIT_MS);
    if (n < 0) {
        fprintf(stderr, "fd_pass: sending fd %d: %s\n", fd, ipc_strerror((int)n));
        status = EXIT_FAIL;
        kill(pid, SIGKILL); /* pid > 0 here */
    } else {
        fprintf(stderr, "fd_pass: sent fd %d to pid %ld, and closed our copy\n", fd, (long)pid);
    }
    close(fd); /* the open file lives on in the receiver's descriptor */
    close(pair[0]);

    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "fd_pass: waitpid: %s\n", strerror(errno));
            return EXIT_FAIL;
        }
    }
    if (status == 0 && WIFEXITED(ws) && WEXITSTATUS(ws) != 0) status = EXIT_FAIL; /* it said why */
    if (status == 0 && WIFSIGNALED(ws)) {
        fprintf(stderr, "fd_pass: the receiver died of signal %d\n", WTERMSIG(ws));
        status = EXIT_FAIL;
    }
    return status;
}

/* ---- main -------------------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f, "usage: fd_pass FILE\n"
               "Opens FILE, passes the descriptor over a Unix socket to a child process\n"
               "(unprivileged, when run as root), which copies the file to stdout through it.\n"
               "Each step is told on stderr. Exit status: 0 ok, 1 failure, 2 usage error.\n");
}

int main(int argc, char *argv[]) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return usage(stdout), 0;
    if (argc == 4 && !strcmp(argv[1], "--receiver")) {
        char *end;
        long sock;
        errno = 0;
        sock = strtol(argv[2], &end, 10);
        if (errno || *end || end == argv[2] || sock < 0 || sock > INT_MAX) {
            fprintf(stderr, "fd_pass: --receiver wants a descriptor number, not '%s'\n", argv[2]);
            return EXIT_USAGE;
        }
        /* Close-on-exec again, now that the exec is done: it is nobody
           else's to inherit. */
        if (fcntl((int)sock, F_SETFD, FD_CLOEXEC) < 0) {
            fprintf(stderr, "fd_pass: --receiver: fd %ld: %s\n", sock, strerror(errno));
            return EXIT_FAIL;
        }
        return receiver((int)sock, argv[3]);
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "fd_pass: wants one FILE (try --help)\n");
        return EXIT_USAGE;
    }
    return sender(argv[1]);
}
