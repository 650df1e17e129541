/* Unit tests for sections 3a and 3b of ipc.h: pipes (ipc_pipe,
   ipc_pipe_size, ipc_pipe_set_size, ipc_pipe_send_frame), FIFOs
   (ipc_fifo_open, ipc_fifo_remove), and ipc_fd_queued from section 3, with
   the section 2 readers and writers that move framed messages over them.

   What they show (TESTING.md rows for pipes and FIFOs): close-on-exec on
   every descriptor the library returns, checked with fcntl and by exec'ing
   a shell that looks for it; IPC_O_NONBLOCK kept or cleared; -EMFILE at the
   RLIMIT_NOFILE edge with nothing half-made, and success once raised; pipe
   capacity (default, rounding, pipe-max-size, -EBUSY, -EINVAL, -EBADF);
   frames of exactly PIPE_BUF bytes going in one piece and one byte more
   refused before anything is written; four writer processes sharing one
   pipe or FIFO, every frame whole and each writer's frames in order; full
   pipes (try, timed, blocking); EPIPE instead of SIGPIPE under the default
   disposition; framed messages both ways between a parent and a child,
   empty ones and one of 1 MiB included; a writer SIGKILLed mid-frame
   (whole frames, then IPC_ETRUNC); short reads and writes and EINTR at call
   N from the test hooks on a 4096-byte pipe (the byte stream identical); a
   consumer stopped with SIGSTOP while the producer sends 10x the capacity
   (backpressure, timeouts or a blocked producer, then the stream intact);
   FIFO creation modes under umask 000 and 077, no clobbering (regular
   files, symlinks to FIFOs and files, dangling symlinks), refusal of a FIFO
   owned by another uid or more open than asked, uid 65534 refused by the
   kernel, a writer's wait for its reader (try, timed, forever), a reader
   that never waits in open, removal of a FIFO the failing call made.

   Timing: the only time checks are generous bounds around timeouts (a
   100 ms timeout takes >= 90 ms and < 2 s) and lower bounds that follow
   from a peer's sleep. The test machine has two noisy cores.

   Each test works in its own mkdtemp directory (/tmp/ipct-pipe-PID-XXXXXX)
   that its .fini removes, also after a failed assertion; children report
   through their exit status (and one line on stderr), always _exit, die
   with the test (PR_SET_PDEATHSIG) and are reaped with a bounded wait; the
   .fini kills and reaps any child still registered. Every test checks that
   it leaks no descriptor.

   Build alone:
     gcc -std=c11 -g -O1 -Wall -Wextra -Wpedantic -Werror -DIPC_TEST_HOOKS -I. \
         -o /tmp/t_pipe tests/test_pipe.c tests/impl.c -lcriterion -pthread */
#define _GNU_SOURCE
#include "helpers.h"
#include "ipc.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define PIPE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PIPE_ASAN 1
#endif
#endif
#ifdef PIPE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

static const ipc_codec codecs[] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
static const char *codec_str(ipc_codec c) {
    return c == IPC_LEN32 ? "LEN32" : c == IPC_VARINT ? "VARINT" : "COBS";
}

/* ==== assertions ========================================================== */

static const char *code_name(long long c) {
    return c < 0 && c >= INT_MIN ? ipc_strerror((int)c) : "-";
}

/* got == want, both printed (with the code's name) when they differ. got is
   evaluated once. */
#define EQ(got, want)                                                                                                  \
    do {                                                                                                               \
        long long got_ = (long long)(got), want_ = (long long)(want);                                                  \
        cr_assert(got_ == want_, "%s is %lld (%s), expected %s = %lld (%s)", #got, got_, code_name(got_), #want,       \
                  want_, code_name(want_));                                                                            \
    } while (0)

/* A duration in [lo, hi) ms. */
#define IN_MS(ms, lo, hi)                                                                                              \
    do {                                                                                                               \
        long long ms_ = (long long)(ms);                                                                               \
        cr_assert(ms_ >= (lo) && ms_ < (hi), "%s: %lld ms, expected %d..%d ms", #ms, ms_, (int)(lo), (int)(hi));       \
    } while (0)

/* In a child: report one failed check on stderr and _exit(1). */
_Noreturn static void child_fail(int line, const char *what, int with_values, long long got, long long want) {
    if (with_values)
        fprintf(stderr, "test_pipe.c:%d (child %d): %s: got %lld (%s), expected %lld (%s)\n", line, (int)getpid(), what,
                got, code_name(got), want, code_name(want));
    else
        fprintf(stderr, "test_pipe.c:%d (child %d): %s is false\n", line, (int)getpid(), what);
    _exit(1);
}
#define CHK(cond)                                                                                                      \
    do {                                                                                                               \
        if (!(cond)) child_fail(__LINE__, #cond, 0, 0, 0);                                                             \
    } while (0)
#define CHKEQ(got, want)                                                                                               \
    do {                                                                                                               \
        long long g_ = (long long)(got), w_ = (long long)(want);                                                       \
        if (g_ != w_) child_fail(__LINE__, #got " == " #want, 1, g_, w_);                                              \
    } while (0)

static int64_t elapsed_ms(int64_t t0_ns) {
    return (ipc_now_ns() - t0_ns) / 1000000;
}

/* ==== what each test makes, removed by its .fini ========================== */

enum { KIDS_MAX = 16 };
static char tdir[128];       /* the test's mkdtemp directory ("" once removed) */
static pid_t t_owner;        /* the test's process: its children never clean up */
static pid_t kids[KIDS_MAX]; /* children not reaped yet (0: free slot) */
static mode_t saved_umask;
static fdset_snap fd_start;

/* Removes dir and what is in it (two levels at most: the tests make no
   deeper trees). lstat, so a symlink is removed, never followed. */
static void rm_tree(const char *dir, int depth) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[PATH_MAX];
    if (d) {
        while ((e = readdir(d)) != NULL) {
            struct stat st;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && depth < 2)
                rm_tree(p, depth + 1);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Kills and reaps the children still registered, then removes the
   directory. Only in the test's own process, and never kill() a pid <= 0. */
static void t_cleanup(void) {
    int i;
    if (getpid() != t_owner) return;
    for (i = 0; i < KIDS_MAX; i++) {
        pid_t pid = kids[i];
        kids[i] = 0;
        if (pid > 0) {
            kill(pid, SIGKILL);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
            }
        }
    }
    if (tdir[0]) rm_tree(tdir, 0);
    tdir[0] = 0;
}

/* A crashing test gets no .fini: clean up on the way down, then die of the
   same signal so Criterion still reports the crash. Under ASan the
   sanitizer's own exit runs the death callback. */
static void on_crash(int sig) {
    t_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}
static void crash_cleanup_install(void) {
    static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    size_t i;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
#ifdef PIPE_ASAN
        if (sigs[i] != SIGABRT) continue; /* ASan reports these itself, then runs the death callback */
#endif
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_crash;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(sigs[i], &sa, NULL);
    }
#ifdef PIPE_ASAN
    __sanitizer_set_death_callback(t_cleanup);
#endif
}

static void t_init(void) {
    t_owner = getpid();
    memset(kids, 0, sizeof kids);
    memset(&ipc_test, 0, sizeof ipc_test);
    saved_umask = umask(022);
    umask(saved_umask);
    crash_cleanup_install();
    snprintf(tdir, sizeof tdir, "/tmp/ipct-pipe-%d-XXXXXX", (int)getpid());
    cr_assert(mkdtemp(tdir) != NULL, "mkdtemp: %s", strerror(errno));
    fdset_take(&fd_start);
}

static void t_fini(void) {
    t_cleanup();
    umask(saved_umask);
    memset(&ipc_test, 0, sizeof ipc_test);
}

/* Every test of the file shares this one .timeout. */
#define PT_TEST(suite, name) Test(suite, name, .init = t_init, .fini = t_fini, .timeout = 20)

#define FD_CHECK()                                                                                                     \
    do {                                                                                                               \
        int leaked_ = fdset_leaked(&fd_start);                                                                         \
        cr_assert(leaked_ == -1, "descriptor %d leaked", leaked_);                                                     \
    } while (0)

/* A path in the test's directory (eight live at a time). */
static const char *tp(const char *name) {
    static char buf[8][PATH_MAX];
    static unsigned k;
    char *b = buf[k++ % 8];
    snprintf(b, PATH_MAX, "%s/%s", tdir, name);
    return b;
}

/* ==== children ============================================================ */

/* fork_child, registered for the .fini until reaped. */
static pid_t spawn(void) {
    pid_t pid = fork_child();
    int i;
    if (pid > 0) {
        for (i = 0; i < KIDS_MAX && kids[i] != 0; i++) {
        }
        if (i == KIDS_MAX) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            cr_assert_fail("too many children in one test");
        }
        kids[i] = pid;
    }
    return pid;
}
static void forget(pid_t pid) {
    int i;
    for (i = 0; i < KIDS_MAX; i++)
        if (kids[i] == pid) kids[i] = 0;
}
/* wait_child, and the child leaves the registry (a reaped pid is never
   killed later: it may belong to someone else by then). */
static int reap(pid_t pid, int timeout_ms) {
    int st = wait_child(pid, timeout_ms);
    forget(pid);
    return st;
}
static void child_ok(pid_t pid, int timeout_ms, const char *what) {
    int st = reap(pid, timeout_ms);
    cr_assert(st >= 0, "%s: the child did not finish within %d ms", what, timeout_ms);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: the child %s %d", what,
              WIFEXITED(st) ? "exited with status" : "was killed by signal",
              WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}
/* The exit status of a child that must exit (77: skip). */
static int child_status(pid_t pid, int timeout_ms, const char *what) {
    int st = reap(pid, timeout_ms);
    cr_assert(st >= 0, "%s: the child did not finish within %d ms", what, timeout_ms);
    cr_assert(WIFEXITED(st), "%s: the child was killed by signal %d", what, WTERMSIG(st));
    return WEXITSTATUS(st);
}

/* SIGSTOP a child and wait (bounded) until the kernel says it stopped. */
static void stop_child(pid_t pid) {
    int64_t t0 = ipc_now_ns();
    int st;
    cr_assert(pid > 0);
    cr_assert(kill(pid, SIGSTOP) == 0, "kill(SIGSTOP): %s", strerror(errno));
    for (;;) {
        pid_t r = waitpid(pid, &st, WUNTRACED | WNOHANG);
        if (r == pid && WIFSTOPPED(st)) return;
        cr_assert(r == 0 || (r < 0 && errno == EINTR), "the child ended instead of stopping");
        cr_assert(elapsed_ms(t0) < 5000, "the child did not stop within 5 s");
        sleep_ms(1);
    }
}
static void cont_child(pid_t pid) {
    cr_assert(pid > 0);
    cr_assert(kill(pid, SIGCONT) == 0, "kill(SIGCONT): %s", strerror(errno));
}

/* /proc/PID/stat: the state letter and the CPU ticks (user + system). */
static void proc_stat(pid_t pid, char *state, unsigned long *ticks) {
    char path[64], buf[1024], *p;
    unsigned long ut = 0, stt = 0;
    FILE *f;
    size_t n;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    cr_assert(f != NULL, "%s: %s", path, strerror(errno));
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    p = strrchr(buf, ')');
    cr_assert(p != NULL, "%s: no ')'", path);
    cr_assert(sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", state, &ut, &stt) == 3,
              "%s: unparsable", path);
    *ticks = ut + stt;
}

/* In a child: become uid/gid 65534 with no supplementary groups (and so, as
   a non-root uid, no capabilities). */
static int become_nobody(void) {
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) return -1;
    return 0;
}

/* ==== descriptors and files =============================================== */

static int fl(int fd) {
    int f = fcntl(fd, F_GETFL);
    cr_assert(f >= 0, "F_GETFL(%d): %s", fd, strerror(errno));
    return f;
}
static int cloexec(int fd) {
    int f = fcntl(fd, F_GETFD);
    cr_assert(f >= 0, "F_GETFD(%d): %s", fd, strerror(errno));
    return (f & FD_CLOEXEC) != 0;
}

/* 1 when fd is still open in a freshly exec'ed /bin/sh, 0 when not, -1 on
   a probe failure. */
static int fd_survives_exec(int fd) {
    char cmd[64];
    pid_t pid;
    int st;
    snprintf(cmd, sizeof cmd, "test -e /proc/$$/fd/%d", fd);
    pid = spawn();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    st = reap(pid, 5000);
    if (st < 0 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st) == 0 ? 1 : WEXITSTATUS(st) == 1 ? 0 : -1;
}

/* The lowest descriptor number free now. */
static int lowest_free_fd(void) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) close(fd);
    return fd;
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}
static struct stat lst(const char *path) {
    struct stat st;
    cr_assert(lstat(path, &st) == 0, "lstat(%s): %s", path, strerror(errno));
    return st;
}
/* A regular file with these bytes and exactly this mode. */
static void make_file(const char *path, const char *content, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t n = strlen(content);
    cr_assert(fd >= 0, "open(%s): %s", path, strerror(errno));
    cr_assert(write(fd, content, n) == (ssize_t)n);
    cr_assert(fchmod(fd, mode) == 0);
    close(fd);
}
/* 1 when the file at path holds exactly content. */
static int file_is(const char *path, const char *content) {
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n;
    if (fd < 0) return 0;
    n = read(fd, buf, sizeof buf);
    close(fd);
    return n == (ssize_t)strlen(content) && memcmp(buf, content, (size_t)n) == 0;
}
static void make_fifo_raw(const char *path, mode_t mode) {
    cr_assert(mkfifo(path, 0600) == 0, "mkfifo(%s): %s", path, strerror(errno));
    cr_assert(chmod(path, mode) == 0);
}
/* The same object, untouched: type, inode, mode, owner, size and mtime. */
static void assert_same_object(const char *path, const struct stat *before) {
    struct stat now = lst(path);
    cr_assert((now.st_mode & S_IFMT) == (before->st_mode & S_IFMT), "%s changed type", path);
    cr_assert(now.st_ino == before->st_ino && now.st_dev == before->st_dev, "%s was replaced", path);
    cr_assert((now.st_mode & 07777) == (before->st_mode & 07777), "%s: mode %o, was %o", path,
              (unsigned)(now.st_mode & 07777), (unsigned)(before->st_mode & 07777));
    cr_assert(now.st_uid == before->st_uid && now.st_gid == before->st_gid, "%s changed owner", path);
    cr_assert(now.st_size == before->st_size, "%s changed size", path);
    cr_assert(now.st_mtim.tv_sec == before->st_mtim.tv_sec && now.st_mtim.tv_nsec == before->st_mtim.tv_nsec,
              "%s was modified", path);
}

static long proc_long(const char *path) {
    FILE *f = fopen(path, "re");
    long v = -1;
    cr_assert(f != NULL, "%s: %s", path, strerror(errno));
    cr_assert(fscanf(f, "%ld", &v) == 1, "%s: no number", path);
    fclose(f);
    return v;
}

static size_t page_size(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* ==== messages ============================================================ */

static uint32_t rnd(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15u;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    *s = x;
    return (uint32_t)(x >> 16);
}

/* Message i of a stream: msg_make's self-checking message when it is at
   least 12 bytes long, else len bytes of a pattern of i. */
static void msg_fill(uint8_t *buf, uint32_t i, size_t len) {
    size_t k;
    if (len >= 12) {
        msg_make(buf, i, (uint32_t)len);
        return;
    }
    for (k = 0; k < len; k++)
        buf[k] = (uint8_t)(i * 13u + k * 5u + 1u);
}
static int msg_is(const uint8_t *buf, size_t n, uint32_t i, size_t len) {
    uint8_t want[12];
    if (n != len) return 0;
    if (len >= 12) return msg_check(buf, n, i);
    msg_fill(want, i, len);
    return len == 0 || memcmp(buf, want, len) == 0;
}

/* Frames of one writer among several: seq = id << 20 | i. */
#define SEQ(id, i) ((uint32_t)(id) << 20 | (uint32_t)(i))

/* In a writer child: count self-checking frames of 12..maxlen bytes, each
   with ONE ipc_pipe_send_frame (timeout -1, or 10 s for odd ids). */
_Noreturn static void multi_writer(int fd, ipc_codec codec, int id, int count, size_t maxlen) {
    uint8_t *buf = (uint8_t *)malloc(maxlen);
    uint64_t s = 0x1234567u + (uint64_t)id * 0x9E3779B97F4A7C15u;
    int i;
    CHK(buf != NULL);
    for (i = 0; i < count; i++) {
        uint32_t len = 12 + rnd(&s) % (uint32_t)(maxlen - 11);
        msg_make(buf, SEQ(id, i), len);
        CHKEQ(ipc_pipe_send_frame(fd, codec, buf, len, id & 1 ? 10000 : -1), 0);
    }
    free(buf);
    close(fd);
    _exit(0);
}

/* Reads frames from several writers until IPC_EOF: every frame whole, each
   writer's in order, none lost, none twice. A 4096-byte read buffer, so
   frames straddle reads. */
static void read_from_writers(int rfd, ipc_codec codec, int writers, int count) {
    ipc_reader r;
    uint32_t next[8] = {0};
    long total = 0;
    int id;
    cr_assert(writers <= 8);
    EQ(ipc_reader_init(&r, rfd, codec, 8192, 4096), 0);
    for (;;) {
        const uint8_t *f;
        ssize_t n = ipc_reader_next(&r, &f, 10000);
        uint32_t seq;
        if (n == IPC_EOF) break;
        cr_assert(n >= 12, "%s frame %ld: ipc_reader_next gave %zd (%s)", codec_str(codec), total, n, code_name(n));
        seq = be32_at(f);
        id = (int)(seq >> 20);
        cr_assert(id < writers, "%s frame %ld: writer id %d", codec_str(codec), total, id);
        cr_assert((seq & 0xFFFFF) == next[id], "%s: writer %d: frame %u arrived where %u was due", codec_str(codec), id,
                  seq & 0xFFFFF, next[id]);
        cr_assert(msg_check(f, (size_t)n, seq), "%s: writer %d frame %u (%zd bytes) is corrupt", codec_str(codec), id,
                  next[id], n);
        next[id]++;
        cr_assert(++total <= (long)writers * count, "more frames than were sent");
    }
    ipc_reader_free(&r);
    for (id = 0; id < writers; id++)
        EQ(next[id], count);
}

/* In a consumer child: frames 0, 1, ..., count-1 in order (msg_check), then
   IPC_EOF; _exit(0), or 1 with a line on stderr. */
_Noreturn static void consumer(int rfd, ipc_codec codec, uint32_t count) {
    ipc_reader r;
    const uint8_t *f;
    ssize_t n;
    uint32_t next = 0;
    CHKEQ(ipc_reader_init(&r, rfd, codec, 1 << 16, 0), 0);
    while ((n = ipc_reader_next(&r, &f, 15000)) >= 0) {
        CHK(next < count);
        if (!msg_check(f, (size_t)n, next)) child_fail(__LINE__, "msg_check(frame, n, next)", 1, next, next);
        next++;
    }
    CHKEQ(n, IPC_EOF);
    CHKEQ(next, count);
    ipc_reader_free(&r);
    _exit(0);
}

/* The bytes a stream of count messages makes: message i has size len[i]. */
static uint8_t *stream_expected(ipc_codec codec, const size_t *len, int count, size_t *total) {
    size_t cap = 0, at = 0;
    uint8_t *out, *msg;
    int i;
    for (i = 0; i < count; i++)
        cap += ipc_frame_bound(codec, len[i]);
    out = (uint8_t *)malloc(cap ? cap : 1);
    msg = (uint8_t *)malloc(8192);
    cr_assert(out && msg);
    for (i = 0; i < count; i++) {
        ssize_t k;
        cr_assert(len[i] <= 8192);
        msg_fill(msg, (uint32_t)i, len[i]);
        k = ipc_frame_encode(codec, out + at, cap - at, msg, len[i]);
        cr_assert(k > 0);
        at += (size_t)k;
    }
    free(msg);
    *total = at;
    return out;
}

/* In a sender child: the count messages, ipc_pipe_send_frame for the odd
   ones that fit a pipe's atomic write, ipc_send_frame for the rest;
   timeouts -1 and 10 s in turn. The test hooks are set by the caller. */
_Noreturn static void stream_sender(int wfd, ipc_codec codec, const size_t *len, int count) {
    uint8_t *msg = (uint8_t *)malloc(8192);
    int i;
    CHK(msg != NULL);
    for (i = 0; i < count; i++) {
        int t = i % 3 == 0 ? -1 : 10000;
        msg_fill(msg, (uint32_t)i, len[i]);
        if (i % 2 && len[i] <= 4000)
            CHKEQ(ipc_pipe_send_frame(wfd, codec, msg, len[i], t), 0);
        else
            CHKEQ(ipc_send_frame(wfd, codec, msg, len[i], t), 0);
    }
    free(msg);
    close(wfd);
    _exit(0);
}

/* Reads everything up to IPC_EOF with ipc_read_some (the hooks apply) and
   compares it with want. */
static void read_all_and_compare(int rfd, const uint8_t *want, size_t n, const char *what) {
    size_t cap = n + 4096, got = 0;
    uint8_t *buf = (uint8_t *)malloc(cap);
    ssize_t k;
    cr_assert(buf != NULL);
    while ((k = ipc_read_some(rfd, buf + got, cap - got, 10000)) > 0) {
        got += (size_t)k;
        cr_assert(got < cap, "%s: more bytes than were sent", what);
    }
    cr_assert(k == IPC_EOF, "%s: ipc_read_some gave %zd (%s) after %zu bytes", what, k, code_name(k), got);
    cr_assert(got == n, "%s: %zu bytes arrived, %zu were sent", what, got, n);
    cr_assert(memcmp(buf, want, n) == 0, "%s: the stream differs", what);
    free(buf);
}

/* Fills a pipe with 4096-byte frames (try sends) until it takes no more;
   returns the bytes queued, *rc the send that stopped it (-EAGAIN).
   No assertion: children use it too. */
static size_t fill_pipe_rc(int wfd, int *rc) {
    static uint8_t page[PIPE_BUF - 4];
    size_t n = 0;
    int i;
    *rc = 0;
    for (i = 0; i < 4096 && (*rc = ipc_pipe_send_frame(wfd, IPC_LEN32, page, sizeof page, 0)) == 0; i++)
        n += PIPE_BUF;
    return n;
}
static size_t fill_pipe(int wfd) {
    int rc;
    size_t n = fill_pipe_rc(wfd, &rc);
    EQ(rc, -EAGAIN);
    return n;
}

/* ==== 3a. ipc_pipe ======================================================== */

PT_TEST(pipe, pipe_gives_a_blocking_close_on_exec_read_end_and_write_end) {
    int fds[2] = {-1, -1}, d, i;
    char b[3];
    EQ(ipc_pipe(fds, 0), 0);
    cr_assert(fds[0] >= 0 && fds[1] >= 0 && fds[0] != fds[1]);
    for (i = 0; i < 2; i++) {
        cr_assert(cloexec(fds[i]), "fds[%d] is not close-on-exec", i);
        cr_assert(!(fl(fds[i]) & O_NONBLOCK), "fds[%d] is non-blocking", i);
    }
    EQ(fl(fds[0]) & O_ACCMODE, O_RDONLY);
    EQ(fl(fds[1]) & O_ACCMODE, O_WRONLY);
    EQ(write(fds[1], "abc", 3), 3);
    EQ(read(fds[0], b, 3), 3);
    cr_assert(memcmp(b, "abc", 3) == 0);
    EQ(fd_survives_exec(fds[0]), 0);
    EQ(fd_survives_exec(fds[1]), 0);
    d = dup(fds[1]); /* the control: a descriptor without FD_CLOEXEC does survive */
    cr_assert(d >= 0);
    EQ(fd_survives_exec(d), 1);
    close(d);
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

PT_TEST(pipe, pipe_nonblock_flag_makes_both_ends_non_blocking) {
    int fds[2], i;
    uint8_t buf[16];
    EQ(ipc_pipe(fds, IPC_O_NONBLOCK), 0);
    for (i = 0; i < 2; i++) {
        cr_assert(fl(fds[i]) & O_NONBLOCK, "fds[%d] is blocking", i);
        cr_assert(cloexec(fds[i]));
    }
    EQ(read(fds[0], buf, sizeof buf), -1);
    EQ(errno, EAGAIN);
    EQ(ipc_recv_frame(fds[0], IPC_LEN32, buf, sizeof buf, 0), -EAGAIN);
    EQ(fd_survives_exec(fds[0]), 0);
    EQ(fd_survives_exec(fds[1]), 0);
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

PT_TEST(pipe, pipe_unknown_flags_are_einval_and_open_nothing) {
    static const int bad[] = {
        IPC_O_CREATE, IPC_O_EXCL, IPC_O_RDONLY, IPC_O_WRONLY, IPC_O_NONBLOCK | IPC_O_CREATE, 32, IPC_O_NONBLOCK | 64,
        1 << 30,      -1};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fds[2] = {-1, -1};
        EQ(ipc_pipe(fds, bad[i]), -EINVAL);
        FD_CHECK();
    }
}

PT_TEST(pipe, pipe_at_the_rlimit_nofile_edge_is_emfile_cleanly_and_works_once_raised) {
    pid_t pid = spawn();
    if (pid == 0) {
        struct rlimit old, lim;
        int fds[2] = {-1, -1}, f, g;
        char b;
        CHK(getrlimit(RLIMIT_NOFILE, &old) == 0);
        f = lowest_free_fd();
        CHK(f >= 0);
        lim = old;
        lim.rlim_cur = (rlim_t)f + 1; /* room for exactly one more descriptor */
        CHK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
        CHKEQ(ipc_pipe(fds, 0), -EMFILE);
        CHKEQ(ipc_pipe(fds, IPC_O_NONBLOCK), -EMFILE);
        /* cleanly: the one free slot is still free */
        g = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHKEQ(g, f);
        close(g);
        lim.rlim_cur = (rlim_t)f; /* no room at all */
        CHK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
        CHKEQ(ipc_pipe(fds, 0), -EMFILE);
        CHK(setrlimit(RLIMIT_NOFILE, &old) == 0);
        CHKEQ(ipc_pipe(fds, 0), 0);
        CHK(fds[0] == f || fds[1] == f);
        CHKEQ(write(fds[1], "z", 1), 1);
        CHKEQ(read(fds[0], &b, 1), 1);
        close(fds[0]);
        close(fds[1]);
        CHKEQ(lowest_free_fd(), f);
        _exit(0);
    }
    child_ok(pid, 5000, "RLIMIT_NOFILE child");
    FD_CHECK();
}

/* ==== 3a. ipc_pipe_size / ipc_pipe_set_size =============================== */

PT_TEST(pipe, pipe_size_is_16_pages_by_default_through_either_end) {
    int fds[2];
    EQ(ipc_pipe(fds, 0), 0);
    EQ(ipc_pipe_size(fds[0]), 16 * page_size());
    EQ(ipc_pipe_size(fds[1]), 16 * page_size());
    EQ(ipc_pipe_size(fds[0]), fcntl(fds[0], F_GETPIPE_SZ));
    if (page_size() == 4096) EQ(ipc_pipe_size(fds[1]), 65536);
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

PT_TEST(pipe, pipe_set_size_4096_gives_a_pipe_that_holds_exactly_4096_bytes) {
    int fds[2];
    static uint8_t big[10000];
    size_t done = 0;
    cr_assert(page_size() == 4096, "this test assumes 4 KiB pages");
    EQ(ipc_pipe(fds, 0), 0);
    EQ(ipc_pipe_set_size(fds[1], 4096), 4096);
    EQ(ipc_pipe_size(fds[0]), 4096);
    EQ(ipc_pipe_size(fds[1]), 4096);
    EQ(ipc_write_all(fds[1], big, sizeof big, &done, 0), -EAGAIN);
    EQ(done, 4096);
    EQ(ipc_fd_queued(fds[0]), 4096);
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

/* The capacity the kernel picks: a power-of-two number of pages. */
static size_t pow2_pages(size_t bytes) {
    size_t pages = (bytes + page_size() - 1) / page_size(), p = 1;
    while (p < pages)
        p *= 2;
    return p * page_size();
}

PT_TEST(pipe, pipe_set_size_rounds_up_to_a_power_of_two_number_of_pages) {
    const size_t pg = page_size();
    const size_t asks[] = {1, pg - 1, pg, pg + 1, 3 * pg, 100000, 65536, 65537, 2 * pg};
    int fds[2];
    size_t i;
    EQ(ipc_pipe(fds, 0), 0);
    for (i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        int got = ipc_pipe_set_size(fds[i % 2], asks[i]);
        cr_assert(got == (int)pow2_pages(asks[i]), "set_size(%zu) gave %d (%s), expected %zu", asks[i], got,
                  code_name(got), pow2_pages(asks[i]));
        EQ(ipc_pipe_size(fds[(i + 1) % 2]), got);
    }
    if (pg == 4096) {
        EQ(ipc_pipe_set_size(fds[1], 100000), 131072);
        EQ(ipc_pipe_set_size(fds[0], 4096), 4096);
    }
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

PT_TEST(pipe, pipe_set_size_above_pipe_max_size_is_eperm_and_changes_nothing) {
    long max = proc_long("/proc/sys/fs/pipe-max-size");
    int fds[2], rc;
    EQ(ipc_pipe(fds, 0), 0);
    rc = ipc_pipe_set_size(fds[1], (size_t)max + 1);
    if (rc >= 0) {
        close(fds[0]);
        close(fds[1]);
        cr_skip_test("F_SETPIPE_SZ above fs.pipe-max-size (%ld) succeeded: this process has CAP_SYS_RESOURCE", max);
    }
    EQ(rc, -EPERM);
    EQ(ipc_pipe_size(fds[0]), 16 * page_size());
    EQ(ipc_pipe_set_size(fds[0], INT_MAX), -EPERM);
    EQ(ipc_pipe_set_size(fds[0], 2 * (size_t)max), -EPERM);
    EQ(ipc_pipe_size(fds[1]), 16 * page_size());
    /* up to the limit itself is allowed */
    if ((size_t)max == pow2_pages((size_t)max)) {
        EQ(ipc_pipe_set_size(fds[1], (size_t)max), max);
        EQ(ipc_pipe_size(fds[0]), max);
        EQ(ipc_pipe_set_size(fds[1], (size_t)max + 1), -EPERM);
        EQ(ipc_pipe_size(fds[0]), max);
    }
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

PT_TEST(pipe, pipe_set_size_0_or_more_than_int_max_is_einval_and_changes_nothing) {
    int fds[2];
    EQ(ipc_pipe(fds, 0), 0);
    EQ(ipc_pipe_set_size(fds[1], 0), -EINVAL);
    EQ(ipc_pipe_set_size(fds[1], (size_t)INT_MAX + 1), -EINVAL);
    EQ(ipc_pipe_set_size(fds[0], (size_t)UINT_MAX + 1), -EINVAL); /* would wrap to 0 as an int */
    EQ(ipc_pipe_set_size(fds[0], SIZE_MAX), -EINVAL);
    EQ(ipc_pipe_size(fds[0]), 16 * page_size());
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

PT_TEST(pipe, pipe_set_size_below_what_is_queued_is_ebusy_and_keeps_the_bytes) {
    int fds[2];
    static uint8_t data[8192], back[8192];
    size_t i;
    cr_assert(page_size() == 4096, "this test assumes 4 KiB pages");
    for (i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    EQ(ipc_pipe(fds, 0), 0);
    EQ(write(fds[1], data, 4096), 4096);
    EQ(write(fds[1], data + 4096, 4096), 4096);
    EQ(ipc_pipe_set_size(fds[1], 4096), -EBUSY);
    EQ(ipc_pipe_set_size(fds[0], 1), -EBUSY);
    EQ(ipc_pipe_size(fds[0]), 65536);
    EQ(ipc_fd_queued(fds[0]), 8192);
    EQ(ipc_pipe_set_size(fds[0], 8192), 8192); /* exactly what is queued is fine */
    EQ(ipc_fd_queued(fds[0]), 8192);
    EQ(ipc_read_full(fds[0], back, sizeof back, NULL, 1000), 0);
    cr_assert(memcmp(back, data, sizeof data) == 0, "the queued bytes changed");
    EQ(ipc_pipe_set_size(fds[0], 4096), 4096); /* empty again: any size */
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

PT_TEST(pipe, pipe_size_of_a_descriptor_that_is_not_a_pipe_is_ebadf) {
    int fds[4], sp[2], closed, i;
    struct stat before;
    make_file(tp("file"), "twelve bytes", 0644);
    before = lst(tp("file"));
    fds[0] = open(tp("file"), O_RDWR | O_CLOEXEC);
    fds[1] = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fds[2] = open("/dev/null", O_RDWR | O_CLOEXEC);
    cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    fds[3] = sp[0];
    for (i = 0; i < 4; i++) {
        cr_assert(fds[i] >= 0);
        EQ(ipc_pipe_size(fds[i]), -EBADF);
        EQ(ipc_pipe_set_size(fds[i], 4096), -EBADF);
    }
    closed = dup(fds[2]);
    close(closed);
    EQ(ipc_pipe_size(closed), -EBADF);
    EQ(ipc_pipe_set_size(closed, 4096), -EBADF);
    EQ(ipc_pipe_size(-1), -EBADF);
    for (i = 0; i < 4; i++)
        close(fds[i]);
    close(sp[1]);
    assert_same_object(tp("file"), &before);
    cr_assert(file_is(tp("file"), "twelve bytes"));
    FD_CHECK();
}

/* ==== 3. ipc_fd_queued ==================================================== */

PT_TEST(pipe, fd_queued_counts_the_bytes_in_a_pipe_through_either_end) {
    int fds[2], i;
    static uint8_t buf[20000];
    size_t sum = 0;
    static const size_t writes[] = {1, 100, 4096, 5000, 3};
    EQ(ipc_pipe(fds, 0), 0);
    EQ(ipc_fd_queued(fds[0]), 0);
    EQ(ipc_fd_queued(fds[1]), 0);
    for (i = 0; i < 5; i++) {
        EQ(write(fds[1], buf, writes[i]), writes[i]);
        sum += writes[i];
        EQ(ipc_fd_queued(fds[0]), sum);
        EQ(ipc_fd_queued(fds[1]), sum);
    }
    EQ(read(fds[0], buf, 50), 50);
    EQ(ipc_fd_queued(fds[0]), sum - 50);
    EQ(ipc_read_full(fds[0], buf, sum - 50, NULL, 1000), 0);
    EQ(ipc_fd_queued(fds[0]), 0);
    /* a frame: header and payload */
    EQ(ipc_pipe_send_frame(fds[1], IPC_LEN32, buf, 1000, 0), 0);
    EQ(ipc_fd_queued(fds[0]), 1004);
    EQ(ipc_pipe_send_frame(fds[1], IPC_VARINT, buf, 1000, 0), 0);
    EQ(ipc_fd_queued(fds[0]), 1004 + 1002);
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

/* FIONREAD on a regular file is the kernel's "bytes to end of file" (size
   minus offset), not an error; a directory or /dev/null has no queue. */
PT_TEST(pipe, fd_queued_on_a_directory_or_dev_null_is_enotty_and_on_a_closed_fd_ebadf) {
    int d, n, f, closed;
    make_file(tp("file"), "0123456789", 0600);
    d = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    n = open("/dev/null", O_RDONLY | O_CLOEXEC);
    f = open(tp("file"), O_RDONLY | O_CLOEXEC);
    cr_assert(d >= 0 && n >= 0 && f >= 0);
    EQ(ipc_fd_queued(d), -ENOTTY);
    EQ(ipc_fd_queued(n), -ENOTTY);
    EQ(ipc_fd_queued(f), 10);
    EQ(lseek(f, 4, SEEK_SET), 4);
    EQ(ipc_fd_queued(f), 6);
    closed = dup(n);
    close(closed);
    EQ(ipc_fd_queued(closed), -EBADF);
    EQ(ipc_fd_queued(-1), -EBADF);
    close(d);
    close(n);
    close(f);
    FD_CHECK();
}

/* ==== 3a. ipc_pipe_send_frame: bytes and limits =========================== */

PT_TEST(pipe, pipe_send_frame_writes_each_codecs_frame_in_one_piece) {
    static const size_t sizes[] = {0, 1, 11, 12, 127, 128, 254, 255, 1000, 4000};
    static uint8_t payload[4096], want[4200], got[4200], back[4096];
    int fds[2];
    size_t c, s, i;
    for (i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i % 7 == 3 ? 0 : i * 5 + 1); /* zeros for COBS */
    EQ(ipc_pipe(fds, 0), 0);
    for (c = 0; c < 3; c++)
        for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            ipc_codec codec = codecs[c];
            size_t n = sizes[s];
            ssize_t flen = ipc_frame_encode(codec, want, sizeof want, payload, n), r;
            cr_assert(flen > 0);
            EQ(ipc_pipe_send_frame(fds[1], codec, payload, n, 1000), 0);
            cr_assert(ipc_fd_queued(fds[0]) == flen, "%s, %zu bytes: %d queued, the frame is %zd", codec_str(codec), n,
                      ipc_fd_queued(fds[0]), flen);
            EQ(read(fds[0], got, sizeof got), flen);
            cr_assert(memcmp(got, want, (size_t)flen) == 0, "%s, %zu bytes: not the codec's frame", codec_str(codec),
                      n);
            /* and it decodes back */
            EQ(ipc_pipe_send_frame(fds[1], codec, payload, n, -1), 0);
            r = ipc_recv_frame(fds[0], codec, back, sizeof back, 1000);
            cr_assert(r == (ssize_t)n, "%s: recv gave %zd (%s)", codec_str(codec), r, code_name(r));
            cr_assert(n == 0 || memcmp(back, payload, n) == 0);
        }
    /* an empty payload may be NULL */
    for (c = 0; c < 3; c++) {
        EQ(ipc_pipe_send_frame(fds[1], codecs[c], NULL, 0, 0), 0);
        EQ(ipc_recv_frame(fds[0], codecs[c], back, sizeof back, 0), 0);
    }
    EQ(ipc_fd_queued(fds[0]), 0);
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

/* The largest payload of bytes `fill` whose frame fits PIPE_BUF. */
static size_t largest_fitting(ipc_codec codec, uint8_t fill, uint8_t *payload, uint8_t *frame, size_t cap) {
    size_t n;
    memset(payload, fill, PIPE_BUF + 1);
    for (n = PIPE_BUF + 1; n > 0; n--) {
        ssize_t k = ipc_frame_encode(codec, frame, cap, payload, n - 1);
        cr_assert(k > 0);
        if ((size_t)k <= PIPE_BUF) return n - 1;
    }
    return 0;
}

PT_TEST(pipe, pipe_send_frame_of_exactly_pipe_buf_bytes_goes_and_one_byte_more_is_emsgsize_writing_nothing) {
    static uint8_t payload[PIPE_BUF + 8], frame[2 * PIPE_BUF], got[2 * PIPE_BUF];
    static const struct {
        ipc_codec codec;
        uint8_t fill;
    } cases[] = {{IPC_LEN32, 0xAA}, {IPC_VARINT, 0xAA}, {IPC_COBS, 0xAA}, {IPC_COBS, 0x00}};
    int fds[2];
    size_t c;
    EQ(ipc_pipe(fds, 0), 0);
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ipc_codec codec = cases[c].codec;
        size_t n = largest_fitting(codec, cases[c].fill, payload, frame, sizeof frame);
        ssize_t k1 = ipc_frame_encode(codec, frame, sizeof frame, payload, n + 1);
        cr_assert(ipc_frame_encode(codec, frame, sizeof frame, payload, n) == PIPE_BUF,
                  "%s fill %02x: no payload makes a frame of exactly PIPE_BUF", codec_str(codec), cases[c].fill);
        cr_assert(k1 == PIPE_BUF + 1, "%s: payload %zu + 1 makes %zd bytes", codec_str(codec), n, k1);
        if (codec == IPC_LEN32) EQ(n, PIPE_BUF - 4);
        if (codec == IPC_VARINT) EQ(n, PIPE_BUF - 2);
        if (codec == IPC_COBS && cases[c].fill == 0) EQ(n, PIPE_BUF - 2);
        /* exactly PIPE_BUF: one write, all of it */
        EQ(ipc_pipe_send_frame(fds[1], codec, payload, n, -1), 0);
        EQ(ipc_fd_queued(fds[0]), PIPE_BUF);
        EQ(read(fds[0], got, sizeof got), PIPE_BUF);
        cr_assert(memcmp(got, frame, PIPE_BUF) == 0, "%s: not the frame", codec_str(codec));
        /* one byte more: refused before anything is written */
        EQ(ipc_pipe_send_frame(fds[1], codec, payload, n + 1, -1), -EMSGSIZE);
        EQ(ipc_pipe_send_frame(fds[1], codec, payload, n + 1, 0), -EMSGSIZE);
        EQ(ipc_fd_queued(fds[0]), 0);
    }
    /* any length over PIPE_BUF, even one no buffer could hold, is refused at once */
    EQ(ipc_pipe_send_frame(fds[1], IPC_LEN32, payload, PIPE_BUF + 1, -1), -EMSGSIZE);
    EQ(ipc_pipe_send_frame(fds[1], IPC_COBS, payload, SIZE_MAX, -1), -EMSGSIZE);
    EQ(ipc_pipe_send_frame(fds[1], IPC_VARINT, payload, (size_t)1 << 40, -1), -EMSGSIZE);
    EQ(ipc_fd_queued(fds[0]), 0);
    /* ...also on a full pipe, without waiting for room */
    fill_pipe(fds[1]);
    {
        int64_t t0 = ipc_now_ns();
        EQ(ipc_pipe_send_frame(fds[1], IPC_LEN32, payload, PIPE_BUF - 3, -1), -EMSGSIZE);
        IN_MS(elapsed_ms(t0), 0, 2000);
    }
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

PT_TEST(pipe, pipe_send_frame_with_an_unknown_codec_is_einval_and_writes_nothing) {
    int fds[2];
    EQ(ipc_pipe(fds, 0), 0);
    EQ(ipc_pipe_send_frame(fds[1], (ipc_codec)0, "abc", 3, 0), -EINVAL);
    EQ(ipc_pipe_send_frame(fds[1], (ipc_codec)4, "abc", 3, -1), -EINVAL);
    EQ(ipc_pipe_send_frame(fds[1], (ipc_codec)99, NULL, 0, -1), -EINVAL);
    EQ(ipc_fd_queued(fds[0]), 0);
    close(fds[0]);
    close(fds[1]);
    FD_CHECK();
}

/* ==== 3a. many writers on one pipe ======================================== */

static void many_writers_on_a_pipe(ipc_codec codec, int writers, int count) {
    int fds[2], id;
    pid_t pid[8];
    EQ(ipc_pipe(fds, 0), 0);
    for (id = 0; id < writers; id++) {
        pid[id] = spawn();
        if (pid[id] == 0) {
            close(fds[0]);
            multi_writer(fds[1], codec, id, count, 4000);
        }
    }
    close(fds[1]);
    read_from_writers(fds[0], codec, writers, count);
    close(fds[0]);
    for (id = 0; id < writers; id++)
        child_ok(pid[id], 10000, "writer");
}

PT_TEST(pipe, pipe_send_frame_from_4_writer_processes_2000_frames_each_all_whole_and_in_order) {
    many_writers_on_a_pipe(IPC_LEN32, 4, 2000);
    FD_CHECK();
}

PT_TEST(pipe, pipe_send_frame_from_4_writer_processes_varint_and_cobs_frames_whole_and_in_order) {
    many_writers_on_a_pipe(IPC_VARINT, 4, 300);
    many_writers_on_a_pipe(IPC_COBS, 4, 300);
    FD_CHECK();
}

/* ==== 3a. full pipes ====================================================== */

PT_TEST(pipe, pipe_send_frame_on_a_full_pipe_with_timeout_0_is_eagain_at_once_and_writes_nothing) {
    int nb;
    for (nb = 0; nb < 2; nb++) {
        int fds[2];
        size_t cap, c;
        int64_t t0;
        EQ(ipc_pipe(fds, nb ? IPC_O_NONBLOCK : 0), 0);
        cap = (size_t)ipc_pipe_size(fds[1]);
        EQ(fill_pipe(fds[1]), cap);
        EQ(ipc_fd_queued(fds[0]), cap);
        t0 = ipc_now_ns();
        for (c = 0; c < 3; c++) {
            EQ(ipc_pipe_send_frame(fds[1], codecs[c], "x", 1, 0), -EAGAIN);
            EQ(ipc_pipe_send_frame(fds[1], codecs[c], NULL, 0, 0), -EAGAIN);
        }
        IN_MS(elapsed_ms(t0), 0, 2000);
        EQ(ipc_fd_queued(fds[0]), cap);
        close(fds[0]);
        close(fds[1]);
    }
    FD_CHECK();
}

PT_TEST(pipe, pipe_send_frame_on_a_full_pipe_with_timeout_100_is_etimedout_in_time_and_writes_nothing) {
    int nb;
    for (nb = 0; nb < 2; nb++) {
        int fds[2];
        size_t cap;
        int64_t t0;
        EQ(ipc_pipe(fds, nb ? IPC_O_NONBLOCK : 0), 0);
        cap = fill_pipe(fds[1]);
        t0 = ipc_now_ns();
        EQ(ipc_pipe_send_frame(fds[1], IPC_COBS, "hello", 5, 100), -ETIMEDOUT);
        IN_MS(elapsed_ms(t0), 90, 2000);
        EQ(ipc_fd_queued(fds[0]), cap);
        close(fds[0]);
        close(fds[1]);
    }
    FD_CHECK();
}

/* The reader drains after 200 ms: a blocking send (and then a timed one)
   goes through, whole, behind the frames already queued. */
PT_TEST(pipe, pipe_send_frame_on_a_full_pipe_without_timeout_completes_once_the_reader_drains) {
    int nb;
    for (nb = 0; nb < 2; nb++) {
        int fds[2];
        size_t cap;
        pid_t pid;
        int64_t t0;
        EQ(ipc_pipe(fds, nb ? IPC_O_NONBLOCK : 0), 0);
        cap = fill_pipe(fds[1]);
        t0 = ipc_now_ns();
        pid = spawn();
        if (pid == 0) {
            ipc_reader r;
            const uint8_t *f;
            size_t k;
            ssize_t n;
            close(fds[1]);
            sleep_ms(200);
            CHKEQ(ipc_reader_init(&r, fds[0], IPC_LEN32, 8192, 0), 0);
            for (k = 0; k < cap / PIPE_BUF; k++)
                CHKEQ(ipc_reader_next(&r, &f, 5000), PIPE_BUF - 4);
            n = ipc_reader_next(&r, &f, 5000);
            CHK(n == 4 && memcmp(f, "tail", 4) == 0);
            n = ipc_reader_next(&r, &f, 5000);
            CHK(n == 5 && memcmp(f, "timed", 5) == 0);
            CHKEQ(ipc_reader_next(&r, &f, 5000), IPC_EOF);
            ipc_reader_free(&r);
            _exit(0);
        }
        close(fds[0]);
        EQ(ipc_pipe_send_frame(fds[1], IPC_LEN32, "tail", 4, -1), 0);
        cr_assert(elapsed_ms(t0) >= 190, "the blocking send returned after %lld ms, before the reader woke",
                  (long long)elapsed_ms(t0));
        EQ(ipc_pipe_send_frame(fds[1], IPC_LEN32, "timed", 5, 5000), 0);
        close(fds[1]);
        child_ok(pid, 10000, "draining reader");
    }
    FD_CHECK();
}

/* ==== 3a. SIGPIPE ========================================================= */

/* In a child: SIGPIPE at its default disposition and unblocked. */
static void sigpipe_default_in_child(void) {
    sigset_t set;
    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}
/* In a child: still default, unblocked and not pending. */
static void sigpipe_untouched_in_child(void) {
    sigset_t mask, pending;
    struct sigaction sa;
    CHK(sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL);
    CHK(sigprocmask(SIG_BLOCK, NULL, &mask) == 0 && !sigismember(&mask, SIGPIPE));
    CHK(sigpending(&pending) == 0 && !sigismember(&pending, SIGPIPE));
}

PT_TEST(pipe, pipe_send_frame_with_the_reader_gone_is_epipe_and_the_process_survives) {
    pid_t pid = spawn();
    if (pid == 0) {
        static const int timeouts[] = {-1, 0, 100};
        static uint8_t big[100000];
        int nb;
        sigpipe_default_in_child();
        for (nb = 0; nb < 2; nb++) {
            int fds[2], t, c;
            CHKEQ(ipc_pipe(fds, nb ? IPC_O_NONBLOCK : 0), 0);
            close(fds[0]);
            for (t = 0; t < 3; t++)
                for (c = 0; c < 3; c++) {
                    CHKEQ(ipc_pipe_send_frame(fds[1], codecs[c], "hello", 5, timeouts[t]), -EPIPE);
                    CHKEQ(ipc_pipe_send_frame(fds[1], codecs[c], big, 4000, timeouts[t]), -EPIPE);
                    CHKEQ(ipc_send_frame(fds[1], codecs[c], big, sizeof big, timeouts[t]), -EPIPE);
                    sigpipe_untouched_in_child();
                }
            close(fds[1]);
        }
        _exit(0);
    }
    child_ok(pid, 10000, "writer with its reader gone");
    FD_CHECK();
}

/* A writer blocked on a full pipe (no timeout, and 10 s) wakes with -EPIPE
   when the last reader goes. */
PT_TEST(pipe, pipe_send_frame_blocked_on_a_full_pipe_gets_epipe_when_the_reader_closes) {
    int t;
    for (t = 0; t < 2; t++) {
        int fds[2];
        pid_t pid;
        int64_t t0;
        EQ(ipc_pipe(fds, 0), 0);
        pid = spawn();
        if (pid == 0) {
            close(fds[0]);
            int rc;
            sigpipe_default_in_child();
            fill_pipe_rc(fds[1], &rc);
            CHKEQ(rc, -EAGAIN);
            CHKEQ(ipc_pipe_send_frame(fds[1], IPC_LEN32, "blocked", 7, t ? 10000 : -1), -EPIPE);
            sigpipe_untouched_in_child();
            _exit(0);
        }
        close(fds[1]);
        t0 = ipc_now_ns();
        while (ipc_fd_queued(fds[0]) < ipc_pipe_size(fds[0])) {
            cr_assert(elapsed_ms(t0) < 5000, "the child never filled the pipe");
            sleep_ms(2);
        }
        sleep_ms(50); /* let it reach its blocking send */
        close(fds[0]);
        child_ok(pid, 5000, "blocked writer");
    }
    FD_CHECK();
}

/* ==== 3a. framed messages between processes =============================== */

/* In a child: every frame from in goes back out on out, until IPC_EOF. */
_Noreturn static void echo_child(int in, int out, ipc_codec codec) {
    ipc_reader r;
    const uint8_t *f;
    ssize_t n;
    CHKEQ(ipc_reader_init(&r, in, codec, 2u << 20, 0), 0);
    while ((n = ipc_reader_next(&r, &f, 10000)) >= 0)
        CHKEQ(ipc_send_frame(out, codec, f, (size_t)n, 10000), 0);
    CHKEQ(n, IPC_EOF);
    ipc_reader_free(&r);
    close(out);
    _exit(0);
}

PT_TEST(pipe, framed_messages_go_both_ways_between_parent_and_child_over_two_pipes_every_codec) {
    static const size_t sizes[] = {0, 1, 11, 12, 100, 0, 4000, 4096, 4097, 65536, 70000, 0, (size_t)1 << 20, 5};
    const size_t nsizes = sizeof sizes / sizeof sizes[0], big = (size_t)1 << 20;
    uint8_t *msg = (uint8_t *)malloc(big), *buf = (uint8_t *)guarded_alloc(big);
    size_t c, i;
    cr_assert(msg && buf);
    for (c = 0; c < 3; c++) {
        ipc_codec codec = codecs[c];
        int to[2], from[2];
        pid_t pid;
        ipc_reader r;
        EQ(ipc_pipe(to, 0), 0);
        EQ(ipc_pipe(from, 0), 0);
        pid = spawn();
        if (pid == 0) {
            close(to[1]);
            close(from[0]);
            echo_child(to[0], from[1], codec);
        }
        close(to[0]);
        close(from[1]);
        EQ(ipc_reader_init(&r, from[0], codec, 2u << 20, 0), 0);
        for (i = 0; i < nsizes; i++) {
            size_t n = sizes[i];
            ssize_t got;
            const uint8_t *f;
            msg_fill(msg, (uint32_t)i, n);
            if (n <= 4000)
                EQ(ipc_pipe_send_frame(to[1], codec, msg, n, 5000), 0);
            else
                EQ(ipc_send_frame(to[1], codec, msg, n, 5000), 0);
            if (codec == IPC_COBS) { /* ipc_recv_frame reads COBS a byte a call: the reader */
                got = ipc_reader_next(&r, &f, 5000);
            } else {
                got = ipc_recv_frame(from[0], codec, buf, big, 5000);
                f = buf;
            }
            cr_assert(got == (ssize_t)n, "%s message %zu: %zd (%s), expected %zu bytes", codec_str(codec), i, got,
                      code_name(got), n);
            cr_assert(msg_is(f, (size_t)got, (uint32_t)i, n), "%s message %zu (%zu bytes) differs", codec_str(codec), i,
                      n);
        }
        close(to[1]);
        if (codec == IPC_COBS) {
            const uint8_t *f;
            EQ(ipc_reader_next(&r, &f, 5000), IPC_EOF);
        } else {
            EQ(ipc_recv_frame(from[0], codec, buf, big, 5000), IPC_EOF);
        }
        ipc_reader_free(&r);
        close(from[0]);
        child_ok(pid, 10000, "echo child");
    }
    free(msg);
    guarded_free(buf, big);
    FD_CHECK();
}

/* ==== 3a. a writer killed mid-frame ======================================= */

/* In a child: frames 0..2 whole, then the first 500 bytes of a frame of
   1000 (its header and part of its payload), then SIGKILL. */
_Noreturn static void dying_writer(int wfd, ipc_codec codec) {
    static uint8_t msg[1000], frame[1100];
    ssize_t k;
    uint32_t i;
    for (i = 0; i < 3; i++) {
        msg_make(msg, i, 100 + 100 * i);
        CHKEQ(ipc_pipe_send_frame(wfd, codec, msg, 100 + 100 * i, -1), 0);
    }
    msg_make(msg, 3, 1000);
    k = ipc_frame_encode(codec, frame, sizeof frame, msg, 1000);
    CHK(k > 600);
    if (codec == IPC_LEN32) CHK(be32_at(frame) == 1000); /* announces 1000 bytes */
    CHKEQ(write(wfd, frame, codec == IPC_LEN32 ? 4 + 500 : 500), codec == IPC_LEN32 ? 504 : 500);
    raise(SIGKILL);
    _exit(2);
}

PT_TEST(pipe, writer_sigkilled_mid_frame_gives_the_whole_frames_then_etrunc_never_a_short_frame) {
    size_t c;
    int use_reader;
    for (use_reader = 0; use_reader < 2; use_reader++)
        for (c = 0; c < 3; c++) {
            ipc_codec codec = codecs[c];
            int fds[2], st;
            uint32_t i;
            pid_t pid;
            if (!use_reader && codec == IPC_COBS) continue; /* ipc_recv_frame: LEN32 and VARINT */
            EQ(ipc_pipe(fds, 0), 0);
            pid = spawn();
            if (pid == 0) {
                close(fds[0]);
                dying_writer(fds[1], codec);
            }
            close(fds[1]);
            st = reap(pid, 5000);
            cr_assert(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: the writer did not die of SIGKILL",
                      codec_str(codec));
            if (use_reader) {
                ipc_reader r;
                const uint8_t *f;
                ssize_t n;
                EQ(ipc_reader_init(&r, fds[0], codec, 0, 256), 0);
                for (i = 0; i < 3; i++) {
                    n = ipc_reader_next(&r, &f, 1000);
                    cr_assert(n == 100 + 100 * (ssize_t)i && msg_check(f, (size_t)n, i), "%s frame %u: %zd (%s)",
                              codec_str(codec), i, n, code_name(n));
                }
                n = ipc_reader_next(&r, &f, 1000);
                cr_assert(n == IPC_ETRUNC, "%s: after the whole frames the reader gave %zd (%s), not IPC_ETRUNC",
                          codec_str(codec), n, code_name(n));
                ipc_reader_free(&r);
            } else {
                uint8_t buf[2000];
                ssize_t n;
                for (i = 0; i < 3; i++) {
                    n = ipc_recv_frame(fds[0], codec, buf, sizeof buf, 1000);
                    cr_assert(n == 100 + 100 * (ssize_t)i && msg_check(buf, (size_t)n, i), "%s frame %u: %zd (%s)",
                              codec_str(codec), i, n, code_name(n));
                }
                n = ipc_recv_frame(fds[0], codec, buf, sizeof buf, 1000);
                cr_assert(n == IPC_ETRUNC, "%s: ipc_recv_frame gave %zd (%s), not IPC_ETRUNC", codec_str(codec), n,
                          code_name(n));
            }
            close(fds[0]);
        }
    FD_CHECK();
}

/* ==== 3a. faults: short reads and writes, EINTR =========================== */

/* One stream of count messages (sizes from seed, up to maxlen) from a child
   with its hooks to this process with its hooks, over a pipe of 4096 bytes:
   the bytes that arrive are the bytes the frames make. */
typedef struct hooks_case {
    size_t max_io;
    uint64_t rng;
    unsigned long eintr_at, eintr_every;
} hooks_case;

static void stream_under_hooks(ipc_codec codec, uint64_t seed, int count, size_t maxlen, const hooks_case *send_h,
                               const hooks_case *recv_h, const char *what) {
    size_t len[400], total;
    uint8_t *want;
    int fds[2], i;
    pid_t pid;
    cr_assert(count <= 400);
    for (i = 0; i < count; i++)
        len[i] = i % 17 == 5 ? 0 : rnd(&seed) % (maxlen + 1);
    want = stream_expected(codec, len, count, &total);
    EQ(ipc_pipe(fds, 0), 0);
    EQ(ipc_pipe_set_size(fds[1], 4096), 4096);
    pid = spawn();
    if (pid == 0) {
        close(fds[0]);
        ipc_test.max_io = send_h->max_io;
        ipc_test.rng = send_h->rng;
        ipc_test.eintr_at = send_h->eintr_at;
        ipc_test.eintr_every = send_h->eintr_every;
        stream_sender(fds[1], codec, len, count);
    }
    close(fds[1]);
    memset(&ipc_test, 0, sizeof ipc_test);
    ipc_test.max_io = recv_h->max_io;
    ipc_test.rng = recv_h->rng;
    ipc_test.eintr_at = recv_h->eintr_at;
    ipc_test.eintr_every = recv_h->eintr_every;
    read_all_and_compare(fds[0], want, total, what);
    cr_assert(ipc_test.io_calls <= total + 64, "%s: %lu read calls for %zu bytes: a busy loop", what, ipc_test.io_calls,
              total);
    memset(&ipc_test, 0, sizeof ipc_test);
    close(fds[0]);
    free(want);
    child_ok(pid, 10000, what);
}

PT_TEST(pipe, short_reads_and_writes_on_a_4096_byte_pipe_leave_the_stream_identical) {
    size_t c;
    uint64_t seed;
    for (c = 0; c < 3; c++)
        for (seed = 1; seed <= 2; seed++) {
            hooks_case s = {seed == 1 ? 31 : 1500, seed * 77, 0, 0}, r = {seed == 1 ? 1000 : 13, seed * 991, 0, 0};
            char what[64];
            snprintf(what, sizeof what, "%s, seed %llu", codec_str(codecs[c]), (unsigned long long)seed);
            stream_under_hooks(codecs[c], seed, 24, 6000, &s, &r, what);
        }
    FD_CHECK();
}

/* The same frames through ipc_reader with short reads: every message whole. */
PT_TEST(pipe, short_reads_under_ipc_reader_on_a_4096_byte_pipe_deliver_every_message) {
    size_t c;
    for (c = 0; c < 3; c++) {
        ipc_codec codec = codecs[c];
        int fds[2];
        pid_t pid;
        ipc_reader r;
        uint32_t i;
        EQ(ipc_pipe(fds, 0), 0);
        EQ(ipc_pipe_set_size(fds[0], 4096), 4096);
        pid = spawn();
        if (pid == 0) {
            static uint8_t msg[9000];
            close(fds[0]);
            ipc_test.max_io = 300;
            ipc_test.rng = 5;
            for (i = 0; i < 120; i++) {
                size_t n = 12 + (i * 2654435761u) % 8000;
                msg_make(msg, i, (uint32_t)n);
                CHKEQ(ipc_send_frame(fds[1], codec, msg, n, i % 2 ? -1 : 10000), 0);
            }
            _exit(0);
        }
        close(fds[1]);
        ipc_test.max_io = 97;
        ipc_test.rng = 11;
        EQ(ipc_reader_init(&r, fds[0], codec, 16384, 1024), 0);
        for (i = 0; i < 120; i++) {
            const uint8_t *f;
            ssize_t n = ipc_reader_next(&r, &f, 10000);
            cr_assert(n == (ssize_t)(12 + (i * 2654435761u) % 8000) && msg_check(f, (size_t)n, i),
                      "%s message %u: %zd (%s)", codec_str(codec), i, n, code_name(n));
        }
        {
            const uint8_t *f;
            EQ(ipc_reader_next(&r, &f, 10000), IPC_EOF);
        }
        memset(&ipc_test, 0, sizeof ipc_test);
        ipc_reader_free(&r);
        close(fds[0]);
        child_ok(pid, 10000, codec_str(codec));
    }
    FD_CHECK();
}

PT_TEST(pipe, eintr_at_call_n_on_both_sides_of_a_4096_byte_pipe_leaves_the_stream_identical) {
    unsigned long n;
    for (n = 1; n <= 20; n++) {
        hooks_case h = {0, 0, n, 0};
        char what[64];
        snprintf(what, sizeof what, "EINTR at call %lu", n);
        stream_under_hooks(codecs[n % 3], n, 30, 3000, &h, &h, what);
    }
    for (n = 1; n <= 4; n++) { /* and again every 2nd / 3rd call, with short counts */
        hooks_case h = {257, n, n, n % 2 ? 2 : 3};
        char what[64];
        snprintf(what, sizeof what, "EINTR from call %lu every %lu", n, h.eintr_every);
        stream_under_hooks(codecs[n % 3], n + 100, 30, 3000, &h, &h, what);
    }
    FD_CHECK();
}

/* ==== 3a. a stalled consumer ============================================== */

/* The consumer stops (SIGSTOP) before the first byte; the producer's
   ipc_sender (high water 16 KiB) takes what fits and then answers -EAGAIN:
   the pipe holds its capacity, the queue stays bounded, nothing accepted is
   lost. Then SIGCONT, and 10x the capacity arrives intact. */
PT_TEST(pipe, stopped_consumer_gives_sender_backpressure_with_a_bounded_queue_then_the_stream_is_intact) {
    enum { LEN = 1000 };
    static uint8_t msg[LEN];
    int fds[2], rc, stopped = 1, stalls = 0;
    uint32_t count, i = 0;
    long loops = 0;
    uint64_t out_then = 0;
    size_t cap;
    pid_t c;
    ipc_sender s;
    EQ(ipc_pipe(fds, 0), 0);
    cap = (size_t)ipc_pipe_size(fds[1]);
    count = (uint32_t)(10 * cap / LEN + 1);
    c = spawn();
    if (c == 0) {
        close(fds[1]);
        consumer(fds[0], IPC_LEN32, count);
    }
    stop_child(c);
    EQ(ipc_sender_init(&s, fds[1], IPC_LEN32, 16384), 0);
    while (i < count) {
        cr_assert(++loops < 200000, "no progress");
        msg_make(msg, i, LEN);
        rc = ipc_sender_send(&s, msg, LEN);
        if (rc == 0) {
            i++;
            cr_assert(ipc_sender_pending(&s) <= s.high_water + LEN + 4, "queue of %zu bytes", ipc_sender_pending(&s));
            continue;
        }
        EQ(rc, -EAGAIN);
        rc = ipc_sender_flush(&s, 20);
        if (!stopped) {
            cr_assert(rc == 0 || rc == -ETIMEDOUT, "flush gave %s", code_name(rc));
            continue;
        }
        EQ(rc, -ETIMEDOUT);
        /* every accepted frame is in the pipe or in the queue; the pipe is
           full (its last page may keep a few bytes a write cannot use):
           nothing more goes out while the consumer sleeps */
        EQ(ipc_fd_queued(fds[0]), s.bytes_out);
        cr_assert(s.bytes_out + ipc_sender_pending(&s) == (uint64_t)i * (LEN + 4));
        cr_assert(s.bytes_out > cap - 4096, "the pipe holds only %llu of %zu bytes", (unsigned long long)s.bytes_out,
                  cap);
        if (stalls > 0) EQ(s.bytes_out, out_then);
        out_then = s.bytes_out;
        if (++stalls == 10) {
            cont_child(c);
            stopped = 0;
        }
    }
    cr_assert(!stopped, "10x the capacity went out while the consumer was stopped");
    EQ(ipc_sender_flush(&s, 10000), 0);
    cr_assert(s.peak <= s.high_water + LEN + 4, "peak queue %zu bytes", s.peak);
    cr_assert(s.backpressure >= 10);
    EQ(s.frames, count);
    ipc_sender_free(&s);
    close(fds[1]);
    close(fds[0]);
    child_ok(c, 10000, "consumer");
    FD_CHECK();
}

/* The same stall with timed sends: each -ETIMEDOUT delivered nothing (the
   pipe holds exactly the frames that succeeded), and a retry of the same
   frame keeps the stream free of gaps and duplicates. */
PT_TEST(pipe, stopped_consumer_gives_timed_pipe_send_frame_etimedout_delivering_nothing_then_intact) {
    enum { LEN = 1000 };
    static uint8_t msg[LEN];
    int fds[2], rc, stopped = 1, timeouts = 0;
    uint32_t count, i = 0;
    long loops = 0;
    pid_t c;
    EQ(ipc_pipe(fds, 0), 0);
    count = (uint32_t)(10 * (size_t)ipc_pipe_size(fds[1]) / LEN + 1);
    c = spawn();
    if (c == 0) {
        close(fds[1]);
        consumer(fds[0], IPC_LEN32, count);
    }
    stop_child(c);
    while (i < count) {
        int64_t t0 = ipc_now_ns();
        cr_assert(++loops < 100000, "no progress");
        msg_make(msg, i, LEN);
        rc = ipc_pipe_send_frame(fds[1], IPC_LEN32, msg, LEN, 20);
        if (rc == 0) {
            i++;
            continue;
        }
        EQ(rc, -ETIMEDOUT);
        IN_MS(elapsed_ms(t0), 18, 2000);
        if (stopped) {
            EQ(ipc_fd_queued(fds[0]), (long long)i * (LEN + 4));
            if (++timeouts == 5) {
                cont_child(c);
                stopped = 0;
            }
        }
    }
    cr_assert(!stopped && timeouts >= 5);
    close(fds[1]);
    close(fds[0]);
    child_ok(c, 10000, "consumer");
    FD_CHECK();
}

/* A producer process with blocking sends stops in write(2) while the
   consumer is stopped: it sleeps (no CPU burnt), the pipe stays full, and
   after SIGCONT everything arrives. */
PT_TEST(pipe, stopped_consumer_blocks_a_blocking_producer_without_spinning_then_the_stream_is_intact) {
    int fds[2];
    uint32_t count;
    pid_t c, w;
    int q, q2;
    int64_t t0;
    char state = '?';
    unsigned long t1, t2;
    EQ(ipc_pipe(fds, 0), 0);
    count = (uint32_t)(10 * (size_t)ipc_pipe_size(fds[1]) / 2000 + 1); /* sizes average ~2 KB */
    c = spawn();
    if (c == 0) {
        close(fds[1]);
        consumer(fds[0], IPC_LEN32, count);
    }
    stop_child(c);
    w = spawn();
    if (w == 0) {
        static uint8_t msg[4000];
        uint32_t i;
        close(fds[0]);
        for (i = 0; i < count; i++) {
            size_t n = 12 + (i * 2654435761u) % 3988;
            msg_make(msg, i, (uint32_t)n);
            if (i % 2)
                CHKEQ(ipc_pipe_send_frame(fds[1], IPC_LEN32, msg, n, -1), 0);
            else
                CHKEQ(ipc_send_frame(fds[1], IPC_LEN32, msg, n, -1), 0);
        }
        _exit(0);
    }
    close(fds[1]);
    /* the pipe fills (every page taken: frames of up to 4000 bytes leave
       the ends of pages unused) and then stays as it is */
    t0 = ipc_now_ns();
    for (q = -1;;) {
        sleep_ms(100);
        q2 = ipc_fd_queued(fds[0]);
        if (q2 == q && q2 > ipc_pipe_size(fds[0]) / 2) break;
        q = q2;
        cr_assert(elapsed_ms(t0) < 5000, "the pipe never filled (%d bytes)", q2);
    }
    proc_stat(w, &state, &t1);
    sleep_ms(300);
    proc_stat(w, &state, &t2);
    EQ(waitpid(w, NULL, WNOHANG), 0);
    cr_assert(state == 'S', "the producer is in state %c, not sleeping", state);
    cr_assert(t2 - t1 <= (unsigned long)sysconf(_SC_CLK_TCK) / 10, "the producer used %lu ticks in 300 ms", t2 - t1);
    EQ(ipc_fd_queued(fds[0]), q);
    cont_child(c);
    close(fds[0]);
    child_ok(w, 10000, "producer");
    child_ok(c, 10000, "consumer");
    FD_CHECK();
}

/* ==== 3b. FIFOs: creation and modes ======================================= */

/* In a child: waits (bounded) for path to appear, opens a raw reader on
   it, and holds it until every writer has come and gone. The caller's
   writer can then open. */
static pid_t spawn_reader_when_path_exists(const char *path) {
    pid_t pid = spawn();
    if (pid == 0) {
        int64_t t0 = ipc_now_ns();
        struct pollfd p;
        char buf[256];
        int fd;
        while (!exists(path)) {
            CHK(elapsed_ms(t0) < 5000);
            sleep_ms(1);
        }
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        CHK(fd >= 0);
        p.fd = fd;
        p.events = POLLIN;
        for (;;) { /* until POLLHUP with nothing left to read */
            p.revents = 0;
            CHK(poll(&p, 1, 5000) == 1);
            if (read(fd, buf, sizeof buf) == 0) break;
        }
        close(fd);
        _exit(0);
    }
    return pid;
}

PT_TEST(fifo, created_under_umask_000_is_exactly_0600_and_owned_by_the_caller) {
    static const int acc[] = {IPC_O_RDONLY, 0, IPC_O_WRONLY};
    static const unsigned modes[] = {0, 0600};
    size_t a, m;
    umask(0);
    for (a = 0; a < 3; a++)
        for (m = 0; m < 2; m++) {
            const char *p = tp("made");
            struct stat st, fst;
            pid_t rd = 0;
            int fd;
            if (acc[a] == IPC_O_WRONLY) rd = spawn_reader_when_path_exists(p);
            fd = ipc_fifo_open(p, IPC_O_CREATE | acc[a], modes[m], 5000);
            cr_assert(fd >= 0, "access %d, mode %o: %s", acc[a], modes[m], code_name(fd));
            st = lst(p);
            cr_assert(S_ISFIFO(st.st_mode));
            cr_assert((st.st_mode & 07777) == 0600, "access %d, mode %o asked: made %o", acc[a], modes[m],
                      (unsigned)(st.st_mode & 07777));
            EQ(st.st_uid, geteuid());
            EQ(st.st_gid, getegid());
            cr_assert(fstat(fd, &fst) == 0 && fst.st_ino == st.st_ino);
            cr_assert(cloexec(fd));
            close(fd);
            if (rd) child_ok(rd, 5000, "reader");
            EQ(ipc_fifo_remove(p), 0);
        }
    umask(saved_umask);
    FD_CHECK();
}

PT_TEST(fifo, a_mode_asked_under_umask_077_is_made_exactly_for_reader_writer_and_both) {
    static const int acc[] = {IPC_O_RDONLY, 0, IPC_O_WRONLY, IPC_O_RDONLY | IPC_O_NONBLOCK};
    static const unsigned modes[] = {0640, 0666, 0604};
    size_t a, m;
    umask(077);
    for (a = 0; a < sizeof acc / sizeof acc[0]; a++)
        for (m = 0; m < 3; m++) {
            const char *p = tp("made");
            struct stat st, fst;
            pid_t rd = 0;
            int fd;
            if (acc[a] == IPC_O_WRONLY) rd = spawn_reader_when_path_exists(p);
            fd = ipc_fifo_open(p, IPC_O_CREATE | IPC_O_EXCL | acc[a], modes[m], 5000);
            cr_assert(fd >= 0, "access %d, mode %o: %s", acc[a], modes[m], code_name(fd));
            st = lst(p);
            cr_assert((st.st_mode & 07777) == modes[m], "access %d: asked %o under umask 077, made %o", acc[a],
                      modes[m], (unsigned)(st.st_mode & 07777));
            cr_assert(fstat(fd, &fst) == 0 && fst.st_ino == st.st_ino);
            close(fd);
            if (rd) child_ok(rd, 5000, "reader");
            EQ(ipc_fifo_remove(p), 0);
        }
    umask(saved_umask);
    FD_CHECK();
}

PT_TEST(fifo, create_excl_on_an_existing_path_is_eexist_and_leaves_it) {
    static const int acc[] = {IPC_O_RDONLY, 0, IPC_O_WRONLY};
    struct stat f0, r0;
    size_t a;
    make_fifo_raw(tp("fifo"), 0600);
    make_file(tp("file"), "keep me", 0600);
    f0 = lst(tp("fifo"));
    r0 = lst(tp("file"));
    for (a = 0; a < 3; a++) {
        EQ(ipc_fifo_open(tp("fifo"), IPC_O_CREATE | IPC_O_EXCL | acc[a], 0, 0), -EEXIST);
        EQ(ipc_fifo_open(tp("file"), IPC_O_CREATE | IPC_O_EXCL | acc[a], 0, 0), -EEXIST);
    }
    assert_same_object(tp("fifo"), &f0);
    assert_same_object(tp("file"), &r0);
    cr_assert(file_is(tp("file"), "keep me"));
    FD_CHECK();
}

PT_TEST(fifo, create_without_excl_opens_an_existing_fifo_of_ours_and_a_failure_then_leaves_it) {
    struct stat f0, st;
    int fd;
    make_fifo_raw(tp("fifo"), 0600);
    f0 = lst(tp("fifo"));
    fd = ipc_fifo_open(tp("fifo"), IPC_O_CREATE | IPC_O_RDONLY, 0, 0);
    cr_assert(fd >= 0, "%s", code_name(fd));
    cr_assert(fstat(fd, &st) == 0 && st.st_ino == f0.st_ino, "not the FIFO that was there");
    close(fd);
    /* a creating writer that finds the FIFO there and fails did not make it: it stays */
    EQ(ipc_fifo_open(tp("fifo"), IPC_O_CREATE | IPC_O_WRONLY, 0, 0), -ENXIO);
    EQ(ipc_fifo_open(tp("fifo"), IPC_O_CREATE | IPC_O_WRONLY, 0, 50), -ETIMEDOUT);
    assert_same_object(tp("fifo"), &f0);
    FD_CHECK();
}

/* ==== 3b. FIFOs: no clobbering ============================================ */

static const int open_flags[] = {0, IPC_O_CREATE, IPC_O_CREATE | IPC_O_EXCL};
static const int open_acc[] = {IPC_O_RDONLY, IPC_O_WRONLY, 0, IPC_O_RDONLY | IPC_O_NONBLOCK};

PT_TEST(fifo, a_regular_file_at_the_path_is_eexist_and_stays_unchanged) {
    static const unsigned modes[] = {0, 0600, 0644, 0777};
    struct stat before;
    size_t f, a, m;
    make_file(tp("file"), "precious", 0644);
    before = lst(tp("file"));
    for (f = 0; f < 3; f++)
        for (a = 0; a < 4; a++)
            for (m = 0; m < 4; m++) {
                int rc = ipc_fifo_open(tp("file"), open_flags[f] | open_acc[a], modes[m], f == 1 && a == 1 ? 50 : 0);
                cr_assert(rc == -EEXIST, "flags %d, access %d, mode %o: %d (%s)", open_flags[f], open_acc[a], modes[m],
                          rc, code_name(rc));
            }
    assert_same_object(tp("file"), &before);
    cr_assert(file_is(tp("file"), "precious"));
    FD_CHECK();
}

/* A raw reader opened on the target FIFO beforehand sees POLLHUP once any
   writer has come and gone: it witnesses whether anyone opened the target
   for writing. */
static int witness_open(const char *fifo) {
    int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    cr_assert(fd >= 0, "open(%s): %s", fifo, strerror(errno));
    return fd;
}
static int witness_saw_a_writer(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    cr_assert(poll(&p, 1, 0) >= 0);
    return p.revents != 0;
}

PT_TEST(fifo, a_symlink_at_the_path_is_eexist_and_its_target_is_untouched) {
    static const unsigned modes[] = {0, 0600, 0777};
    struct stat tf0, tr0, l0[3];
    const char *links[3];
    char target[PATH_MAX];
    size_t l, f, a, m;
    int w, w2;
    make_fifo_raw(tp("target-fifo"), 0600);
    make_file(tp("target-file"), "do not touch", 0644);
    cr_assert(symlink(tp("target-fifo"), tp("link-fifo")) == 0);
    cr_assert(symlink(tp("target-file"), tp("link-file")) == 0);
    cr_assert(symlink(tp("nothing"), tp("link-dangling")) == 0);
    links[0] = "link-fifo", links[1] = "link-file", links[2] = "link-dangling";
    tf0 = lst(tp("target-fifo"));
    tr0 = lst(tp("target-file"));
    for (l = 0; l < 3; l++)
        l0[l] = lst(tp(links[l]));
    w = witness_open(tp("target-fifo"));
    cr_assert(!witness_saw_a_writer(w));
    for (l = 0; l < 3; l++)
        for (f = 0; f < 3; f++)
            for (a = 0; a < 4; a++)
                for (m = 0; m < 3; m++) {
                    int rc = ipc_fifo_open(tp(links[l]), open_flags[f] | open_acc[a], modes[m], 0);
                    cr_assert(rc == -EEXIST, "%s, flags %d, access %d, mode %o: %d (%s)", links[l], open_flags[f],
                              open_acc[a], modes[m], rc, code_name(rc));
                }
    cr_assert(!witness_saw_a_writer(w), "the symlink's target FIFO was opened for writing");
    assert_same_object(tp("target-fifo"), &tf0);
    assert_same_object(tp("target-file"), &tr0);
    cr_assert(file_is(tp("target-file"), "do not touch"));
    cr_assert(!exists(tp("nothing")), "a FIFO was made through the dangling symlink");
    for (l = 0; l < 3; l++) {
        ssize_t k = readlink(tp(links[l]), target, sizeof target - 1);
        cr_assert(k > 0 && S_ISLNK(lst(tp(links[l])).st_mode));
        target[k] = 0;
        assert_same_object(tp(links[l]), &l0[l]);
    }
    /* the control: a writer that does come and go is seen */
    w2 = open(tp("target-fifo"), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    cr_assert(w2 >= 0);
    close(w2);
    cr_assert(witness_saw_a_writer(w), "the witness is blind");
    close(w);
    FD_CHECK();
}

PT_TEST(fifo, an_existing_fifo_owned_by_another_uid_is_eacces_and_stays_unopened) {
    static const unsigned modes[] = {0, 0600, 0666};
    struct stat before;
    size_t f, a, m;
    int w;
    make_fifo_raw(tp("theirs"), 0600);
    cr_assert(chown(tp("theirs"), 65534, 65534) == 0, "chown: %s", strerror(errno));
    before = lst(tp("theirs"));
    w = witness_open(tp("theirs"));
    for (f = 0; f < 2; f++)
        for (a = 0; a < 4; a++)
            for (m = 0; m < 3; m++) {
                int rc = ipc_fifo_open(tp("theirs"), open_flags[f] | open_acc[a], modes[m], 0);
                cr_assert(rc == -EACCES, "flags %d, access %d, mode %o: %d (%s)", open_flags[f], open_acc[a], modes[m],
                          rc, code_name(rc));
            }
    cr_assert(!witness_saw_a_writer(w), "another uid's FIFO was opened for writing");
    close(w);
    assert_same_object(tp("theirs"), &before);
    FD_CHECK();
}

PT_TEST(fifo, an_existing_fifo_with_mode_bits_beyond_the_asked_mode_is_eacces) {
    static const struct {
        mode_t has;
        unsigned ask;
        int ok;
    } cases[] = {{0666, 0, 0},    {0666, 0600, 0}, {0666, 0640, 0}, {0666, 0666, 1}, {0666, 0777, 1},
                 {0610, 0600, 0}, {0601, 0600, 0}, {0400, 0, 1},    {0600, 0, 1},    {0640, 0640, 1}};
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *p = tp("fifo");
        int fd;
        make_fifo_raw(p, cases[c].has);
        fd = ipc_fifo_open(p, IPC_O_RDONLY, cases[c].ask, 0);
        if (cases[c].ok) {
            cr_assert(fd >= 0, "a %o FIFO, %o asked: %s", (unsigned)cases[c].has, cases[c].ask, code_name(fd));
            close(fd);
        } else {
            cr_assert(fd == -EACCES, "a %o FIFO, %o asked: %d (%s)", (unsigned)cases[c].has, cases[c].ask, fd,
                      code_name(fd));
            fd = ipc_fifo_open(p, IPC_O_CREATE, cases[c].ask, 0); /* also when asked to create */
            EQ(fd, -EACCES);
        }
        cr_assert(exists(p) && (lst(p).st_mode & 07777) == cases[c].has, "the FIFO was changed");
        cr_assert(unlink(p) == 0);
    }
    FD_CHECK();
}

PT_TEST(fifo, a_missing_fifo_without_create_is_enoent_and_makes_nothing) {
    size_t a;
    for (a = 0; a < 4; a++) {
        EQ(ipc_fifo_open(tp("missing"), open_acc[a], 0, 0), -ENOENT);
        EQ(ipc_fifo_open(tp("missing"), open_acc[a] | IPC_O_EXCL, 0600, 100), -ENOENT);
        EQ(ipc_fifo_open(tp("no-dir/fifo"), IPC_O_CREATE | open_acc[a], 0, 0), -ENOENT);
    }
    cr_assert(!exists(tp("missing")) && !exists(tp("no-dir")));
    FD_CHECK();
}

PT_TEST(fifo, bad_arguments_are_einval_and_make_nothing) {
    static const int bad[] = {
        IPC_O_RDONLY | IPC_O_WRONLY, IPC_O_CREATE | IPC_O_RDONLY | IPC_O_WRONLY, 32, IPC_O_CREATE | 64, 1 << 20, -1};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = ipc_fifo_open(tp("fifo"), bad[i], 0, 0);
        cr_assert(rc == -EINVAL, "flags %#x: %d (%s)", (unsigned)bad[i], rc, code_name(rc));
    }
    EQ(ipc_fifo_open(NULL, IPC_O_CREATE, 0, 0), -EINVAL);
    EQ(ipc_fifo_open("", IPC_O_CREATE | IPC_O_RDONLY, 0, 0), -EINVAL);
    EQ(ipc_fifo_remove(NULL), -EINVAL);
    EQ(ipc_fifo_remove(""), -EINVAL);
    cr_assert(!exists(tp("fifo")), "a bad call made the FIFO");
    FD_CHECK();
}

/* ==== 3b. FIFOs: waiting for the peer ===================================== */

PT_TEST(fifo, a_writer_with_no_reader_and_timeout_0_is_enxio_at_once) {
    int64_t t0;
    make_fifo_raw(tp("fifo"), 0600);
    t0 = ipc_now_ns();
    EQ(ipc_fifo_open(tp("fifo"), IPC_O_WRONLY, 0, 0), -ENXIO);
    EQ(ipc_fifo_open(tp("fifo"), IPC_O_WRONLY | IPC_O_NONBLOCK, 0, 0), -ENXIO);
    IN_MS(elapsed_ms(t0), 0, 2000);
    cr_assert(exists(tp("fifo")), "a FIFO the call did not make was removed");
    FD_CHECK();
}

PT_TEST(fifo, a_writer_with_no_reader_and_timeout_100_is_etimedout_in_time) {
    int64_t t0;
    make_fifo_raw(tp("fifo"), 0600);
    t0 = ipc_now_ns();
    EQ(ipc_fifo_open(tp("fifo"), IPC_O_WRONLY, 0, 100), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 90, 2000);
    cr_assert(exists(tp("fifo")));
    FD_CHECK();
}

PT_TEST(fifo, a_writer_waiting_forever_opens_when_a_reader_arrives_200_ms_later) {
    int64_t t0;
    pid_t pid;
    int fd;
    make_fifo_raw(tp("fifo"), 0600);
    t0 = ipc_now_ns();
    pid = spawn();
    if (pid == 0) {
        uint8_t buf[16];
        int r;
        sleep_ms(200);
        r = ipc_fifo_open(tp("fifo"), IPC_O_RDONLY, 0, 0);
        CHK(r >= 0);
        CHKEQ(ipc_wait_fd(r, POLLIN, ipc_deadline(5000)), 0);
        CHKEQ(ipc_recv_frame(r, IPC_VARINT, buf, sizeof buf, 5000), 5);
        CHK(memcmp(buf, "hello", 5) == 0);
        CHKEQ(ipc_recv_frame(r, IPC_VARINT, buf, sizeof buf, 5000), IPC_EOF);
        close(r);
        _exit(0);
    }
    fd = ipc_fifo_open(tp("fifo"), IPC_O_WRONLY, 0, -1);
    cr_assert(fd >= 0, "%s", code_name(fd));
    cr_assert(elapsed_ms(t0) >= 190, "the writer opened after %lld ms, before its reader came",
              (long long)elapsed_ms(t0));
    cr_assert(!(fl(fd) & O_NONBLOCK) && cloexec(fd));
    EQ(ipc_pipe_send_frame(fd, IPC_VARINT, "hello", 5, 5000), 0);
    close(fd);
    child_ok(pid, 5000, "late reader");
    FD_CHECK();
}

PT_TEST(fifo, a_creating_call_that_fails_removes_the_fifo_it_made) {
    int64_t t0;
    /* writers with no reader: try, timed, and under a umask that took bits (the borrowed read end) */
    EQ(ipc_fifo_open(tp("w0"), IPC_O_CREATE | IPC_O_WRONLY, 0, 0), -ENXIO);
    cr_assert(!exists(tp("w0")), "the FIFO made by a failed try was left");
    t0 = ipc_now_ns();
    EQ(ipc_fifo_open(tp("w1"), IPC_O_CREATE | IPC_O_WRONLY, 0, 100), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 90, 2000);
    cr_assert(!exists(tp("w1")), "the FIFO made by a timed-out writer was left");
    umask(077);
    EQ(ipc_fifo_open(tp("w2"), IPC_O_CREATE | IPC_O_WRONLY, 0640, 0), -ENXIO);
    EQ(ipc_fifo_open(tp("w3"), IPC_O_CREATE | IPC_O_EXCL | IPC_O_WRONLY | IPC_O_NONBLOCK, 0660, 30), -ETIMEDOUT);
    umask(saved_umask);
    cr_assert(!exists(tp("w2")) && !exists(tp("w3")), "a FIFO made under umask 077 was left");
    FD_CHECK();
}

/* Linux opens a FIFO's read end at once; read() says end of stream until a
   writer comes, poll waits until the writer has written. */
PT_TEST(fifo, a_reader_never_waits_in_open_and_wait_fd_then_waits_for_the_writers_data) {
    uint8_t buf[64];
    int64_t t0;
    pid_t pid;
    int fd;
    make_fifo_raw(tp("fifo"), 0600);
    t0 = ipc_now_ns();
    fd = ipc_fifo_open(tp("fifo"), IPC_O_RDONLY, 0, -1);
    cr_assert(fd >= 0, "%s", code_name(fd));
    IN_MS(elapsed_ms(t0), 0, 2000);
    cr_assert(!(fl(fd) & O_NONBLOCK));
    /* no writer yet: read() gives 0, IPC_EOF to a reader without a timeout
       (one with a timeout polls first, and poll waits: below) */
    EQ(ipc_recv_frame(fd, IPC_LEN32, buf, sizeof buf, -1), IPC_EOF);
    {
        int nb = ipc_fifo_open(tp("fifo"), IPC_O_RDONLY | IPC_O_NONBLOCK, 0, 0);
        cr_assert(nb >= 0);
        EQ(ipc_recv_frame(nb, IPC_LEN32, buf, sizeof buf, 0), IPC_EOF);
        close(nb);
    }
    t0 = ipc_now_ns();
    EQ(ipc_wait_fd(fd, POLLIN, ipc_deadline(100)), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 90, 2000);
    t0 = ipc_now_ns();
    pid = spawn();
    if (pid == 0) {
        int w;
        sleep_ms(200);
        w = ipc_fifo_open(tp("fifo"), IPC_O_WRONLY, 0, 1000);
        CHK(w >= 0);
        sleep_ms(100); /* opened, nothing written yet */
        CHKEQ(ipc_pipe_send_frame(w, IPC_LEN32, "data", 4, 1000), 0);
        close(w);
        _exit(0);
    }
    EQ(ipc_wait_fd(fd, POLLIN, ipc_deadline(5000)), 0);
    cr_assert(elapsed_ms(t0) >= 290, "the wait ended after %lld ms, before the writer wrote",
              (long long)elapsed_ms(t0));
    EQ(ipc_recv_frame(fd, IPC_LEN32, buf, sizeof buf, 5000), 4);
    cr_assert(memcmp(buf, "data", 4) == 0);
    child_ok(pid, 5000, "writer");
    EQ(ipc_recv_frame(fd, IPC_LEN32, buf, sizeof buf, 5000), IPC_EOF);
    close(fd);
    FD_CHECK();
}

PT_TEST(fifo, both_ends_open_at_once_without_a_peer_and_never_see_end_of_stream) {
    uint8_t buf[16];
    int fd = ipc_fifo_open(tp("fifo"), IPC_O_CREATE, 0, 0);
    cr_assert(fd >= 0, "%s", code_name(fd));
    EQ(fl(fd) & O_ACCMODE, O_RDWR);
    EQ(ipc_recv_frame(fd, IPC_LEN32, buf, sizeof buf, 0), -EAGAIN);
    EQ(ipc_pipe_send_frame(fd, IPC_LEN32, "loop", 4, 0), 0);
    EQ(ipc_fd_queued(fd), 8);
    EQ(ipc_recv_frame(fd, IPC_LEN32, buf, sizeof buf, 0), 4);
    cr_assert(memcmp(buf, "loop", 4) == 0);
    close(fd);
    FD_CHECK();
}

PT_TEST(fifo, nonblock_flag_is_kept_and_otherwise_cleared_for_every_access_mode) {
    static const struct { int acc, mode; } acc[] = {{IPC_O_RDONLY, O_RDONLY}, {IPC_O_WRONLY, O_WRONLY}, {0, O_RDWR}};
    size_t a;
    int nb, w;
    make_fifo_raw(tp("fifo"), 0600);
    w = witness_open(tp("fifo")); /* a reader, so writers open */
    for (a = 0; a < 3; a++)
        for (nb = 0; nb < 2; nb++) {
            int fd = ipc_fifo_open(tp("fifo"), acc[a].acc | (nb ? IPC_O_NONBLOCK : 0), 0, 0);
            cr_assert(fd >= 0, "access %d, nonblock %d: %s", acc[a].acc, nb, code_name(fd));
            EQ(fl(fd) & O_ACCMODE, acc[a].mode);
            cr_assert(!!(fl(fd) & O_NONBLOCK) == nb, "access %d: O_NONBLOCK is %s", acc[a].acc,
                      nb ? "cleared" : "left set");
            cr_assert(cloexec(fd));
            close(fd);
        }
    close(w);
    FD_CHECK();
}

/* ==== 3b. FIFOs: many writers, peers gone ================================= */

PT_TEST(fifo, unrelated_writer_processes_opening_the_fifo_by_path_each_frame_arrives_whole) {
    enum { WRITERS = 4, COUNT = 1000 };
    int rfd, ready[2], go[2], id;
    pid_t pid[WRITERS];
    int64_t t0;
    char c;
    rfd = ipc_fifo_open(tp("fifo"), IPC_O_CREATE | IPC_O_EXCL | IPC_O_RDONLY, 0, 0);
    cr_assert(rfd >= 0, "%s", code_name(rfd));
    cr_assert(pipe2(ready, O_CLOEXEC) == 0 && pipe2(go, O_CLOEXEC) == 0);
    for (id = 0; id < WRITERS; id++) {
        pid[id] = spawn();
        if (pid[id] == 0) {
            struct pollfd p;
            int w;
            close(rfd);
            close(go[1]);
            close(ready[0]);
            w = ipc_fifo_open(tp("fifo"), IPC_O_WRONLY | (id >= 2 ? IPC_O_NONBLOCK : 0), 0, 5000);
            CHK(w >= 0);
            CHKEQ(write(ready[1], "r", 1), 1);
            p.fd = go[0];
            p.events = POLLIN;
            p.revents = 0;
            CHKEQ(poll(&p, 1, 10000), 1); /* go: the parent closed its end */
            multi_writer(w, IPC_LEN32, id, COUNT, 4000);
        }
    }
    close(ready[1]);
    close(go[0]);
    /* every writer is open before any writes: the reader sees no end of stream early */
    t0 = ipc_now_ns();
    for (id = 0; id < WRITERS; id++) {
        struct pollfd p = {ready[0], POLLIN, 0};
        cr_assert(poll(&p, 1, 5000) == 1 && read(ready[0], &c, 1) == 1, "writer %d never opened", id);
        cr_assert(elapsed_ms(t0) < 10000);
    }
    close(ready[0]);
    close(go[1]);
    read_from_writers(rfd, IPC_LEN32, WRITERS, COUNT);
    close(rfd);
    for (id = 0; id < WRITERS; id++)
        child_ok(pid[id], 10000, "FIFO writer");
    FD_CHECK();
}

PT_TEST(fifo, a_writer_whose_reader_closed_gets_epipe_and_survives) {
    pid_t pid;
    make_fifo_raw(tp("fifo"), 0600);
    pid = spawn();
    if (pid == 0) {
        int r, w, c;
        sigpipe_default_in_child();
        r = ipc_fifo_open(tp("fifo"), IPC_O_RDONLY, 0, 0);
        CHK(r >= 0);
        w = ipc_fifo_open(tp("fifo"), IPC_O_WRONLY, 0, 0);
        CHK(w >= 0);
        CHKEQ(ipc_pipe_send_frame(w, IPC_LEN32, "one", 3, 0), 0);
        close(r);
        for (c = 0; c < 3; c++) {
            CHKEQ(ipc_pipe_send_frame(w, codecs[c], "two", 3, -1), -EPIPE);
            CHKEQ(ipc_send_frame(w, codecs[c], "three", 5, 100), -EPIPE);
        }
        sigpipe_untouched_in_child();
        close(w);
        _exit(0);
    }
    child_ok(pid, 5000, "FIFO writer");
    FD_CHECK();
}

PT_TEST(fifo, capacity_and_queued_bytes_work_on_a_fifo_through_any_descriptor) {
    int r, w;
    make_fifo_raw(tp("fifo"), 0600);
    r = ipc_fifo_open(tp("fifo"), IPC_O_RDONLY, 0, 0);
    cr_assert(r >= 0);
    w = ipc_fifo_open(tp("fifo"), IPC_O_WRONLY, 0, 0);
    cr_assert(w >= 0);
    EQ(ipc_pipe_size(r), 16 * page_size());
    EQ(ipc_pipe_send_frame(w, IPC_LEN32, "abc", 3, 0), 0);
    EQ(ipc_pipe_send_frame(w, IPC_COBS, "abc", 3, 0), 0);
    EQ(ipc_fd_queued(r), 7 + 5);
    EQ(ipc_fd_queued(w), 7 + 5);
    EQ(ipc_pipe_set_size(w, 4096), pow2_pages(4096));
    EQ(ipc_pipe_size(r), pow2_pages(4096));
    EQ(ipc_fd_queued(r), 7 + 5);
    close(r);
    close(w);
    FD_CHECK();
}

/* ==== 3b. FIFOs: descriptors and limits =================================== */

PT_TEST(fifo, every_descriptor_the_library_returns_is_close_on_exec) {
    int fds[12], n = 0, p[2], i, out[2], st, ctl;
    char text[4096];
    size_t got = 0;
    ssize_t k;
    pid_t pid;
    EQ(ipc_pipe(p, 0), 0);
    fds[n++] = p[0], fds[n++] = p[1];
    EQ(ipc_pipe(p, IPC_O_NONBLOCK), 0);
    fds[n++] = p[0], fds[n++] = p[1];
    fds[n++] = ipc_fifo_open(tp("fifo"), IPC_O_CREATE | IPC_O_RDONLY, 0, 0);
    fds[n++] = ipc_fifo_open(tp("fifo"), IPC_O_WRONLY, 0, 0);
    fds[n++] = ipc_fifo_open(tp("fifo"), 0, 0, 0);
    fds[n++] = ipc_fifo_open(tp("fifo"), IPC_O_RDONLY | IPC_O_NONBLOCK, 0, 0);
    fds[n++] = ipc_fifo_open(tp("fifo"), IPC_O_WRONLY | IPC_O_NONBLOCK, 0, 0);
    umask(077);
    fds[n++] = ipc_fifo_open(tp("fifo2"), IPC_O_CREATE | IPC_O_RDONLY, 0644, 0); /* made with fchmod */
    umask(saved_umask);
    for (i = 0; i < n; i++) {
        cr_assert(fds[i] >= 0, "descriptor %d: %s", i, code_name(fds[i]));
        cr_assert(cloexec(fds[i]), "descriptor %d (%d) is not close-on-exec", i, fds[i]);
        EQ(fd_survives_exec(fds[i]), 0);
    }
    /* one probe for all: the fds a freshly exec'ed shell has */
    ctl = dup(fds[0]); /* the control, without FD_CLOEXEC */
    cr_assert(ctl >= 0 && pipe2(out, O_CLOEXEC) == 0);
    pid = spawn();
    if (pid == 0) {
        if (dup2(out[1], 1) < 0) _exit(126);
        execl("/bin/sh", "sh", "-c", "ls /proc/$$/fd", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    while ((k = ipc_read_some(out[0], text + got, sizeof text - 1 - got, 5000)) > 0)
        got += (size_t)k;
    text[got] = 0;
    close(out[0]);
    st = reap(pid, 5000);
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the ls probe failed");
    {
        char *save = NULL, *tok;
        int seen_ctl = 0;
        for (tok = strtok_r(text, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
            int fd = atoi(tok);
            for (i = 0; i < n; i++)
                cr_assert(fd != fds[i], "descriptor %d survived exec", fd);
            seen_ctl |= fd == ctl;
        }
        cr_assert(seen_ctl, "the probe is blind: the control descriptor %d is not listed", ctl);
    }
    close(ctl);
    for (i = 0; i < n; i++)
        close(fds[i]);
    FD_CHECK();
}

PT_TEST(fifo, at_the_rlimit_nofile_edge_open_is_emfile_a_fifo_it_made_is_removed_and_raised_it_works) {
    pid_t pid;
    make_fifo_raw(tp("old"), 0600);
    pid = spawn();
    if (pid == 0) {
        struct rlimit old, lim;
        int f, fd;
        CHK(getrlimit(RLIMIT_NOFILE, &old) == 0);
        f = lowest_free_fd();
        CHK(f >= 0);
        lim = old;
        lim.rlim_cur = (rlim_t)f; /* no descriptor free */
        CHK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
        CHKEQ(ipc_fifo_open(tp("new"), IPC_O_CREATE | IPC_O_RDONLY, 0, 0), -EMFILE);
        CHK(!exists(tp("new")));
        CHKEQ(ipc_fifo_open(tp("new"), IPC_O_CREATE, 0, 0), -EMFILE);
        CHK(!exists(tp("new")));
        umask(077); /* fails at the read end borrowed for fchmod */
        CHKEQ(ipc_fifo_open(tp("new"), IPC_O_CREATE | IPC_O_WRONLY, 0640, 1000), -EMFILE);
        CHK(!exists(tp("new")));
        umask(022);
        CHKEQ(ipc_fifo_open(tp("old"), IPC_O_RDONLY, 0, 0), -EMFILE);
        CHK(exists(tp("old")));       /* not made by the call: stays */
        lim.rlim_cur = (rlim_t)f + 1; /* one free */
        CHK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
        fd = ipc_fifo_open(tp("old"), IPC_O_RDONLY, 0, 0);
        CHKEQ(fd, f);
        CHKEQ(ipc_fifo_open(tp("old"), IPC_O_WRONLY, 0, 0), -EMFILE);
        close(fd);
        CHK(setrlimit(RLIMIT_NOFILE, &old) == 0);
        fd = ipc_fifo_open(tp("new"), IPC_O_CREATE | IPC_O_RDONLY, 0, 0);
        CHK(fd >= 0);
        close(fd);
        CHKEQ(ipc_fifo_remove(tp("new")), 0);
        CHKEQ(lowest_free_fd(), f);
        _exit(0);
    }
    child_ok(pid, 5000, "RLIMIT_NOFILE child");
    cr_assert(exists(tp("old")) && !exists(tp("new")));
    FD_CHECK();
}

/* Root made the FIFO 0600 under umask 000; uid 65534 is refused by the
   kernel itself (raw open) and by the library, and cannot remove it. */
PT_TEST(fifo, another_uid_gets_eacces_on_a_fifo_made_0600_under_umask_000) {
    int fd, st;
    pid_t pid;
    umask(0);
    fd = ipc_fifo_open(tp("fifo"), IPC_O_CREATE | IPC_O_RDONLY, 0, 0);
    umask(saved_umask);
    cr_assert(fd >= 0, "%s", code_name(fd));
    EQ(lst(tp("fifo")).st_mode & 07777, 0600);
    make_fifo_raw(tp("open"), 0606);   /* the control: a mode that lets others in */
    cr_assert(chmod(tdir, 0711) == 0); /* others may reach the names, not list or change them */
    pid = spawn();
    if (pid == 0) {
        int o;
        if (become_nobody() < 0) _exit(77);
        CHK(geteuid() == 65534);
        errno = 0;
        CHKEQ(open(tp("fifo"), O_RDONLY | O_NONBLOCK | O_CLOEXEC), -1);
        CHKEQ(errno, EACCES);
        CHKEQ(open(tp("fifo"), O_WRONLY | O_NONBLOCK | O_CLOEXEC), -1);
        CHKEQ(errno, EACCES);
        CHKEQ(ipc_fifo_open(tp("fifo"), IPC_O_RDONLY, 0, 0), -EACCES);
        CHKEQ(ipc_fifo_open(tp("fifo"), IPC_O_WRONLY, 0, 0), -EACCES);
        CHKEQ(ipc_fifo_open(tp("fifo"), IPC_O_CREATE, 0, 0), -EACCES);
        CHKEQ(ipc_fifo_remove(tp("fifo")), -EACCES);
        o = open(tp("open"), O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* the kernel lets it in here */
        CHK(o >= 0);
        close(o);
        _exit(0);
    }
    st = child_status(pid, 5000, "uid 65534");
    if (st == 77) {
        close(fd);
        cr_skip_test("cannot become uid 65534 here");
    }
    EQ(st, 0);
    cr_assert(S_ISFIFO(lst(tp("fifo")).st_mode) && (lst(tp("fifo")).st_mode & 07777) == 0600);
    close(fd);
    FD_CHECK();
}

/* ==== 3b. ipc_fifo_remove ================================================= */

PT_TEST(fifo, remove_unlinks_the_fifo_and_open_descriptors_keep_working) {
    uint8_t buf[16];
    int fd = ipc_fifo_open(tp("fifo"), IPC_O_CREATE, 0, 0);
    cr_assert(fd >= 0, "%s", code_name(fd));
    EQ(ipc_fifo_remove(tp("fifo")), 0);
    cr_assert(!exists(tp("fifo")));
    EQ(ipc_pipe_send_frame(fd, IPC_COBS, "still", 5, 0), 0);
    EQ(ipc_recv_frame(fd, IPC_COBS, buf, sizeof buf, 0), 5);
    cr_assert(memcmp(buf, "still", 5) == 0);
    EQ(ipc_fifo_remove(tp("fifo")), -ENOENT);
    close(fd);
    FD_CHECK();
}

PT_TEST(fifo, remove_refuses_anything_but_a_fifo_and_leaves_it_in_place) {
    static const char *const names[] = {"file", "link-fifo", "link-file", "link-dangling", "dir"};
    struct stat before[5], tf;
    size_t i;
    make_file(tp("file"), "stay", 0600);
    make_fifo_raw(tp("target-fifo"), 0600);
    cr_assert(symlink(tp("target-fifo"), tp("link-fifo")) == 0);
    cr_assert(symlink(tp("file"), tp("link-file")) == 0);
    cr_assert(symlink(tp("nothing"), tp("link-dangling")) == 0);
    cr_assert(mkdir(tp("dir"), 0700) == 0);
    for (i = 0; i < 5; i++)
        before[i] = lst(tp(names[i]));
    tf = lst(tp("target-fifo"));
    for (i = 0; i < 5; i++) {
        int rc = ipc_fifo_remove(tp(names[i]));
        cr_assert(rc == -EINVAL, "%s: %d (%s)", names[i], rc, code_name(rc));
    }
    for (i = 0; i < 5; i++)
        assert_same_object(tp(names[i]), &before[i]);
    assert_same_object(tp("target-fifo"), &tf);
    cr_assert(file_is(tp("file"), "stay"));
    EQ(ipc_fifo_remove(tp("missing")), -ENOENT);
    EQ(ipc_fifo_remove(tp("no-dir/fifo")), -ENOENT);
    EQ(ipc_fifo_remove(tp("file/fifo")), -ENOTDIR);
    FD_CHECK();
}
