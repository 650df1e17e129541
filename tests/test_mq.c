/* Unit tests for sections 3c and 3d of ipc.h: System V message queues
   (ipc_sysv_*) and POSIX message queues (ipc_mq_*).

   What they show (issue 4, "Proof"; TESTING.md rows for mq names, full
   queues, kernel limits, permissions, close-on-exec): priority order; type
   selection in every form (0, > 0, < 0, IPC_SYSV_EXCEPT); truncation
   (IPC_SYSV_TRUNCATE cuts, otherwise -E2BIG leaves the message queued);
   MSG_COPY peek; try / timed / blocking sends on a full queue and receives
   on an empty one, with the timing checked against generous bounds (two
   noisy cores); the kernel limits named by their own codes; removal while
   a peer waits (System V: the waiter wakes with -EIDRM; POSIX: unlink wakes
   nobody, the queue lives until its last descriptor closes); mq_notify by
   signal and by thread; the queue descriptor in poll and epoll; 0600 under
   umask 000, EACCES for another uid, close-on-exec.

   Machine facts these tests rely on only through /proc (never hardcoded):
   fs.mqueue.msg_max / msgsize_max / queues_max, kernel.msgmax / msgmnb.
   Root here lacks CAP_SYS_RESOURCE, so those limits bind. /dev/mqueue may
   not be mounted: a POSIX queue is "gone" when ipc_mq_open without
   IPC_O_CREATE answers -ENOENT. The queues_max and msgmni tests run in a
   child that unshares its IPC namespace, so filling the limit never
   disturbs anyone else on the machine.

   Every test records the names and ids it creates and its .fini removes
   them, also after a failed assertion. Children report through their exit
   status (and one line on stderr), always _exit, die with the test
   (PR_SET_PDEATHSIG) and are reaped with a bounded wait. Every test checks
   that it leaks no descriptor.

   Build alone:
     gcc -std=c11 -g -O1 -Wall -Wextra -Wpedantic -Werror -DIPC_TEST_HOOKS -I. \
         -o /tmp/mq_unit tests/test_mq.c tests/impl.c -lcriterion -pthread */
#define _GNU_SOURCE
#include "helpers.h"
#include "ipc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define MQ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MQ_ASAN 1
#endif
#endif
#ifdef MQ_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* ==== assertions ========================================================== */

static const char *code_name(long long c) { return c < 0 && c >= INT_MIN ? ipc_strerror((int)c) : "-"; }

/* got == want, both printed (with the code's name) when they differ. got is
   evaluated once. */
#define EQ(got, want)                                                                                                  \
    do {                                                                                                               \
        long long got_ = (long long)(got), want_ = (long long)(want);                                                  \
        cr_assert(got_ == want_, "%s is %lld (%s), expected %s = %lld (%s)", #got, got_, code_name(got_), #want,       \
                  want_, code_name(want_));                                                                            \
    } while (0)

/* A duration in [lo, hi] ms. */
#define IN_MS(ms, lo, hi)                                                                                              \
    do {                                                                                                               \
        long long ms_ = (long long)(ms);                                                                               \
        cr_assert(ms_ >= (lo) && ms_ <= (hi), "%s: %lld ms, expected %d..%d ms", #ms, ms_, (int)(lo), (int)(hi));      \
    } while (0)

/* In a child: report one failed check on stderr and _exit(1). */
_Noreturn static void child_fail(int line, const char *what, int with_values, long long got, long long want) {
    if (with_values)
        fprintf(stderr, "test_mq.c:%d (child %d): %s: got %lld (%s), expected %lld\n", line, (int)getpid(), what, got,
                code_name(got), want);
    else
        fprintf(stderr, "test_mq.c:%d (child %d): %s is false\n", line, (int)getpid(), what);
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

/* ==== time ================================================================ */

static int64_t elapsed_ms(int64_t t0_ns) { return (ipc_now_ns() - t0_ns) / 1000000; }


/* ==== what each test creates, removed by its .fini ======================== */

enum { REG_MAX = 64 };
static char reg_name[REG_MAX][NAME_MAX + 3]; /* POSIX queue names */
static int reg_names;
static int reg_id[REG_MAX]; /* System V queue ids (-1: already removed) */
static int reg_ids;
static pid_t reg_owner; /* the test's process: its children never clean up */
static int name_seq;
static mode_t saved_umask;
static fdset_snap fd_start;

/* Removes what the test recorded. Raw system calls, not the library:
   cleanup must not depend on the code under test. A name already gone or an
   id already removed is fine. Async-signal-safe (it also runs from the
   crash paths below). */
static void reg_cleanup(void) {
    int i;
    if (getpid() != reg_owner) return;
    for (i = 0; i < reg_names; i++) mq_unlink(reg_name[i]);
    for (i = 0; i < reg_ids; i++)
        if (reg_id[i] >= 0) msgctl(reg_id[i], IPC_RMID, NULL);
    reg_names = reg_ids = 0;
}

/* A crashing test gets no .fini: clean up on the way down, then die of the
   same signal so Criterion still reports the crash. Under ASan/UBSan the
   sanitizer's own exit (a report, then _exit) runs the death callback. */
static void on_crash(int sig) {
    reg_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}
static void crash_cleanup_install(void) {
    static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    size_t i;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
#ifdef MQ_ASAN
        if (sigs[i] != SIGABRT) continue; /* ASan reports these itself, then runs the death callback */
#endif
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_crash;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(sigs[i], &sa, NULL);
    }
#ifdef MQ_ASAN
    __sanitizer_set_death_callback(reg_cleanup);
#endif
}

static void t_init(void) {
    reg_names = reg_ids = 0;
    reg_owner = getpid();
    crash_cleanup_install();
    saved_umask = umask(022);
    umask(saved_umask);
    fdset_take(&fd_start);
}

static void t_fini(void) {
    reg_cleanup();
    umask(saved_umask);
}

#define MQ_TEST(suite, name) Test(suite, name, .init = t_init, .fini = t_fini, .timeout = 20)

#define FD_CHECK()                                                                                                     \
    do {                                                                                                               \
        int leaked_ = fdset_leaked(&fd_start);                                                                         \
        cr_assert(leaked_ == -1, "descriptor %d leaked", leaked_);                                                     \
    } while (0)

static const char *reg_mq(const char *name) {
    cr_assert(reg_names < REG_MAX, "too many names in one test");
    cr_assert(strlen(name) < sizeof reg_name[0]);
    strcpy(reg_name[reg_names], name);
    return reg_name[reg_names++];
}
/* A fresh name, "/ipct-<pid>-<n>", removed after the test. */
static const char *mq_new_name(void) {
    char buf[64];
    snprintf(buf, sizeof buf, "/ipct-%d-%d", (int)getpid(), ++name_seq);
    return reg_mq(buf);
}
static int reg_sysv(int id) {
    cr_assert(reg_ids < REG_MAX, "too many queues in one test");
    reg_id[reg_ids++] = id;
    return id;
}
static void sysv_forget(int id) {
    int i;
    for (i = 0; i < reg_ids; i++)
        if (reg_id[i] == id) reg_id[i] = -1;
}
/* A new IPC_PRIVATE queue, removed after the test. */
static int sysv_private(void) {
    int id = ipc_sysv_open(IPC_PRIVATE, IPC_O_CREATE, 0);
    cr_assert(id >= 0, "ipc_sysv_open(IPC_PRIVATE): %s", ipc_strerror(id));
    return reg_sysv(id);
}
static void sysv_rm(int id) {
    EQ(ipc_sysv_remove(id), 0);
    sysv_forget(id);
}
/* A key no queue uses now (checked with msgget). */
static int key_seq;
static key_t fresh_key(void) {
    int i;
    for (i = 0; i < 1000; i++) {
        uint32_t k = 0x6d710000u ^ ((uint32_t)getpid() << 7) ^ ((uint32_t)++key_seq * 2654435761u);
        key_t key = (key_t)(int32_t)k;
        if (key == IPC_PRIVATE) continue;
        if (msgget(key, 0) < 0 && errno == ENOENT) return key;
    }
    cr_assert_fail("no free System V key found");
    return IPC_PRIVATE;
}

static long proc_long(const char *path) {
    FILE *f = fopen(path, "re");
    long v = -1;
    cr_assert(f != NULL, "%s: %s", path, strerror(errno));
    cr_assert(fscanf(f, "%ld", &v) == 1, "%s: no number", path);
    fclose(f);
    return v;
}
static long msgmax(void) { return proc_long("/proc/sys/kernel/msgmax"); }
static long msgmnb(void) { return proc_long("/proc/sys/kernel/msgmnb"); }

/* ==== children ============================================================ */

/* The exit status of a child that must exit (77 means "skip": the
   environment lacks something, e.g. unshare is refused). */
static int child_status(pid_t pid, int timeout_ms, const char *what) {
    int st = wait_child(pid, timeout_ms);
    cr_assert(st >= 0, "%s: the child did not finish within %d ms", what, timeout_ms);
    cr_assert(WIFEXITED(st), "%s: the child was killed by signal %d", what, WTERMSIG(st));
    return WEXITSTATUS(st);
}

/* A one-way gate: a child passes it right before it blocks; the parent
   waits for n passes. */
typedef struct gate {
    int r, w;
} gate;
static void gate_make(gate *g) {
    int f[2];
    cr_assert(pipe2(f, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
    g->r = f[0], g->w = f[1];
}
static void gate_pass(gate *g) {
    char c = 1;
    while (write(g->w, &c, 1) < 0 && errno == EINTR) {
    }
}
static void gate_wait(gate *g, int n) {
    int64_t t0 = ipc_now_ns();
    while (n > 0) {
        struct pollfd p = {g->r, POLLIN, 0};
        char c;
        cr_assert(elapsed_ms(t0) < 5000, "the child never reached its gate");
        if (poll(&p, 1, 100) == 1 && read(g->r, &c, 1) == 1) n--;
    }
}
static void gate_close(gate *g) {
    close(g->r);
    close(g->w);
}

/* In a child: become uid/gid 65534 with no supplementary groups (and so, as
   a non-root uid, no capabilities). */
static int become_nobody(void) {
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) return -1;
    return 0;
}

/* In a child: a private IPC namespace with one sysctl of it set. Returns 0,
   or -1 when unshare is refused (the test is then skipped). */
static int private_ipc_ns_with(const char *sysctl_path, const char *value) {
    FILE *f;
    if (unshare(CLONE_NEWIPC) < 0) return -1;
    if (!(f = fopen(sysctl_path, "we"))) return -1;
    if (fputs(value, f) < 0) {
        fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* ==== signals ============================================================= */

static volatile sig_atomic_t alarm_count;
static void on_alarm(int sig) {
    (void)sig;
    alarm_count++;
}
/* A periodic SIGALRM every us microseconds, its handler installed WITHOUT
   SA_RESTART, so blocking calls fail with EINTR. */
static void itimer_start(long us) {
    struct sigaction sa;
    struct itimerval it;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGALRM, &sa, NULL);
    alarm_count = 0;
    it.it_interval.tv_sec = 0;
    it.it_interval.tv_usec = us;
    it.it_value = it.it_interval;
    setitimer(ITIMER_REAL, &it, NULL);
}
static void itimer_stop(void) {
    struct itimerval zero;
    memset(&zero, 0, sizeof zero);
    setitimer(ITIMER_REAL, &zero, NULL);
    signal(SIGALRM, SIG_IGN);
    signal(SIGALRM, SIG_DFL);
}

/* mq_notify by signal: what the handler saw. */
static volatile sig_atomic_t note_hits;
static void *volatile note_ptr;
static volatile int note_code;
static volatile pid_t note_pid;
static void on_note_signal(int sig, siginfo_t *si, void *uc) {
    (void)sig, (void)uc;
    note_ptr = si->si_value.sival_ptr;
    note_code = si->si_code;
    note_pid = si->si_pid;
    note_hits++;
}
static void note_handler_install(int signo) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_note_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    cr_assert(sigaction(signo, &sa, NULL) == 0);
    note_hits = 0, note_ptr = NULL, note_code = 0, note_pid = 0;
}
/* Waits up to ms for note_hits to reach n; returns the count then. */
static int note_wait(int n, int ms) {
    int64_t t0 = ipc_now_ns();
    while (note_hits < n && elapsed_ms(t0) < ms) sleep_ms(1);
    return note_hits;
}

/* ==== POSIX queue helpers ================================================= */

static void mq_make(ipc_mq *q, const char *name, long maxmsg, long msgsize) {
    int rc = ipc_mq_open(q, name, IPC_O_CREATE | IPC_O_EXCL, 0, maxmsg, msgsize);
    cr_assert(rc == 0, "ipc_mq_open(%s, create, %ld, %ld): %s", name, maxmsg, msgsize, ipc_strerror(rc));
    cr_assert(q->fd >= 0);
}
static long mq_depth(const ipc_mq *q) {
    ipc_mq_info i;
    EQ(ipc_mq_stat(q, &i), 0);
    return i.curmsgs;
}
/* 1 when no queue has this name. */
static int mq_gone(const char *name) {
    ipc_mq q;
    int rc = ipc_mq_open(&q, name, 0, 0, 0, 0);
    if (rc == 0) ipc_mq_close(&q);
    return rc == -ENOENT;
}
static mode_t fd_mode(int fd) {
    struct stat st;
    cr_assert(fstat(fd, &st) == 0, "fstat: %s", strerror(errno));
    return st.st_mode & 07777;
}
/* Receives one message (try) and checks its bytes and priority. */
static void mq_expect(ipc_mq *q, const void *want, size_t n, unsigned want_prio) {
    uint8_t *buf = (uint8_t *)guarded_alloc((size_t)q->msgsize);
    unsigned prio = 99999;
    ssize_t got;
    cr_assert(buf != NULL);
    got = ipc_mq_recv(q, buf, (size_t)q->msgsize, &prio, 0);
    EQ(got, (long long)n);
    cr_assert(n == 0 || memcmp(buf, want, n) == 0, "message bytes differ");
    EQ(prio, want_prio);
    guarded_free(buf, (size_t)q->msgsize);
}

/* 1 when fd is still open in a freshly exec'ed /bin/sh, 0 when not, -1 on
   a probe failure. */
static int fd_survives_exec(int fd) {
    char cmd[64];
    pid_t pid;
    int st;
    snprintf(cmd, sizeof cmd, "test -e /proc/$$/fd/%d", fd);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    st = wait_child(pid, 5000);
    if (st < 0 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st) == 0 ? 1 : WEXITSTATUS(st) == 1 ? 0 : -1;
}

/* ==== System V helpers ==================================================== */

static ipc_sysv_info sysv_info(int qid) {
    ipc_sysv_info info;
    EQ(ipc_sysv_stat(qid, &info), 0);
    return info;
}
/* Receives one message (try) with select and checks its type and bytes. */
static void sysv_expect(int qid, long select, int flags, long want_type, const char *want) {
    size_t n = strlen(want);
    char *buf = (char *)guarded_alloc(64);
    long type = -12345;
    ssize_t got;
    cr_assert(buf != NULL);
    got = ipc_sysv_recv(qid, select, flags, &type, buf, 64, 0);
    EQ(got, (long long)n);
    EQ(type, want_type);
    cr_assert(memcmp(buf, want, n) == 0, "select %ld: got '%.*s', expected '%s'", select, (int)n, buf, want);
    guarded_free(buf, 64);
}
static void sysv_put(int qid, long type, const char *s) { EQ(ipc_sysv_send(qid, type, s, strlen(s), 0), 0); }
/* Fills the queue to its msg_qbytes with messages of up to msgmax bytes. */
static void sysv_fill(int qid) {
    size_t cap = sysv_info(qid).max_bytes, max = (size_t)msgmax(), done = 0;
    static uint8_t fill[65536];
    cr_assert(max <= sizeof fill);
    while (done < cap) {
        size_t n = cap - done < max ? cap - done : max;
        EQ(ipc_sysv_send(qid, 1, fill, n, 0), 0);
        done += n;
    }
    EQ(sysv_info(qid).bytes, cap);
}

/* ==== limit codes ========================================================= */

Test(mq_codes, limit_codes_name_their_sysctl, .timeout = 20) {
    cr_assert(strstr(ipc_strerror(IPC_EMQMSGMAX), "fs/mqueue/msg_max") != NULL);
    cr_assert(strstr(ipc_strerror(IPC_EMQSIZEMAX), "fs/mqueue/msgsize_max") != NULL);
    cr_assert(strstr(ipc_strerror(IPC_EMQQUEUESMAX), "fs/mqueue/queues_max") != NULL);
    cr_assert(strstr(ipc_strerror(IPC_EMSGMAX), "kernel/msgmax") != NULL);
    cr_assert(strstr(ipc_strerror(IPC_EMSGMNI), "kernel/msgmni") != NULL);
    /* distinct, below -1000 */
    cr_assert(IPC_EMQMSGMAX < -1000 && IPC_EMQSIZEMAX < -1000 && IPC_EMQQUEUESMAX < -1000 && IPC_EMSGMAX < -1000 &&
              IPC_EMSGMNI < -1000);
    cr_assert(IPC_EMQMSGMAX != IPC_EMQSIZEMAX && IPC_EMQSIZEMAX != IPC_EMQQUEUESMAX &&
              IPC_EMQQUEUESMAX != IPC_EMSGMAX && IPC_EMSGMAX != IPC_EMSGMNI);
}

/* ==== 3d. POSIX queue names =============================================== */

MQ_TEST(mq_name, check_accepts_one_leading_slash_and_1_to_255_chars) {
    char name[NAME_MAX + 2];
    EQ(ipc_mq_name_check("/a"), 0);
    EQ(ipc_mq_name_check("/ipc-test.1_x"), 0);
    name[0] = '/';
    memset(name + 1, 'n', NAME_MAX);
    name[NAME_MAX + 1] = 0; /* 255 characters after the slash: NAME_MAX, the NUL not counted */
    EQ(ipc_mq_name_check(name), 0);
}

MQ_TEST(mq_name, check_refuses_no_slash_inner_slash_lone_slash_empty_and_null_with_einval) {
    static const char *const bad[] = {"", "/", "noslash", "a/b", "/a/b", "//a", "/a/", "/abc/"};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(ipc_mq_name_check(bad[i]) == -EINVAL, "'%s': %d", bad[i], ipc_mq_name_check(bad[i]));
    EQ(ipc_mq_name_check(NULL), -EINVAL);
}

MQ_TEST(mq_name, check_refuses_256_chars_and_more_with_enametoolong) {
    char name[1024];
    name[0] = '/';
    memset(name + 1, 'n', 256);
    name[257] = 0;
    EQ(ipc_mq_name_check(name), -ENAMETOOLONG);
    memset(name + 1, 'n', 1000);
    name[1001] = 0;
    EQ(ipc_mq_name_check(name), -ENAMETOOLONG);
}

/* The bad name is refused before mq_open sees it: no queue appears under
   the name the kernel would have made of it, no descriptor is left. */
MQ_TEST(mq_name, open_and_unlink_refuse_bad_names_before_any_side_effect) {
    char noslash[64], inner[64], lng[300];
    ipc_mq q;
    snprintf(noslash, sizeof noslash, "ipct-%d-noslash", (int)getpid());
    snprintf(inner, sizeof inner, "/ipct-%d/inner", (int)getpid());
    lng[0] = '/';
    memset(lng + 1, 'z', 256);
    lng[257] = 0;
    {
        char with_slash[80];
        snprintf(with_slash, sizeof with_slash, "/%s", noslash);
        reg_mq(with_slash); /* removed after the test should it appear */
        q.fd = 12345;
        EQ(ipc_mq_open(&q, noslash, IPC_O_CREATE, 0, 0, 0), -EINVAL);
        EQ(q.fd, -1);
        cr_assert(mq_gone(with_slash), "a queue appeared as %s", with_slash);
    }
    EQ(ipc_mq_open(&q, inner, IPC_O_CREATE, 0, 0, 0), -EINVAL);
    EQ(q.fd, -1);
    EQ(ipc_mq_open(&q, "", IPC_O_CREATE, 0, 0, 0), -EINVAL);
    EQ(ipc_mq_open(&q, "/", IPC_O_CREATE, 0, 0, 0), -EINVAL);
    EQ(ipc_mq_open(&q, NULL, IPC_O_CREATE, 0, 0, 0), -EINVAL);
    EQ(ipc_mq_open(&q, lng, IPC_O_CREATE, 0, 0, 0), -ENAMETOOLONG);
    EQ(q.fd, -1);
    EQ(ipc_mq_unlink(noslash), -EINVAL);
    EQ(ipc_mq_unlink(inner), -EINVAL);
    EQ(ipc_mq_unlink(""), -EINVAL);
    EQ(ipc_mq_unlink(NULL), -EINVAL);
    EQ(ipc_mq_unlink(lng), -ENAMETOOLONG);
    FD_CHECK();
}

MQ_TEST(mq_name, name_of_255_chars_really_opens) {
    char name[NAME_MAX + 2];
    const char *n;
    ipc_mq q;
    int len = snprintf(name, sizeof name, "/ipct-%d-", (int)getpid());
    memset(name + len, 'L', (size_t)(NAME_MAX + 1 - len));
    name[NAME_MAX + 1] = 0;
    cr_assert(strlen(name) == 1 + 255);
    n = reg_mq(name);
    EQ(ipc_mq_open(&q, n, IPC_O_CREATE | IPC_O_EXCL, 0, 1, 16), 0);
    EQ(ipc_mq_close(&q), 0);
    EQ(ipc_mq_unlink(n), 0);
    cr_assert(mq_gone(n));
    FD_CHECK();
}

/* ==== 3d. POSIX queues: open and limits =================================== */

MQ_TEST(mq_posix, limits_read_matches_proc_sys_fs_mqueue) {
    ipc_mq_limits lim;
    memset(&lim, 0xAB, sizeof lim);
    EQ(ipc_mq_limits_read(&lim), 0);
    EQ(lim.msg_max, proc_long("/proc/sys/fs/mqueue/msg_max"));
    EQ(lim.msgsize_max, proc_long("/proc/sys/fs/mqueue/msgsize_max"));
    EQ(lim.queues_max, proc_long("/proc/sys/fs/mqueue/queues_max"));
    EQ(lim.msg_default, proc_long("/proc/sys/fs/mqueue/msg_default"));
    EQ(lim.msgsize_default, proc_long("/proc/sys/fs/mqueue/msgsize_default"));
    FD_CHECK();
}

MQ_TEST(mq_posix, open_defaults_fit_the_system_limits) {
    ipc_mq_limits lim;
    ipc_mq_info info;
    ipc_mq q;
    EQ(ipc_mq_limits_read(&lim), 0);
    mq_make(&q, mq_new_name(), 0, 0);
    EQ(q.maxmsg, lim.msg_default);
    EQ(q.msgsize, lim.msgsize_default);
    cr_assert(q.maxmsg <= lim.msg_max && q.msgsize <= lim.msgsize_max);
    EQ(ipc_mq_stat(&q, &info), 0);
    EQ(info.maxmsg, q.maxmsg);
    EQ(info.msgsize, q.msgsize);
    EQ(info.curmsgs, 0);
    EQ(info.nonblock, 0);
    EQ(ipc_mq_close(&q), 0);
    FD_CHECK();
}

MQ_TEST(mq_posix, open_with_one_size_given_takes_the_other_from_the_default) {
    ipc_mq_limits lim;
    ipc_mq a, b;
    EQ(ipc_mq_limits_read(&lim), 0);
    mq_make(&a, mq_new_name(), 4, 0);
    EQ(a.maxmsg, 4);
    EQ(a.msgsize, lim.msgsize_default);
    mq_make(&b, mq_new_name(), 0, 100);
    EQ(b.maxmsg, lim.msg_default);
    EQ(b.msgsize, 100);
    ipc_mq_close(&a);
    ipc_mq_close(&b);
    FD_CHECK();
}

MQ_TEST(mq_posix, open_sizes_apply_only_when_the_queue_is_created) {
    const char *name = mq_new_name();
    ipc_mq a, b;
    mq_make(&a, name, 3, 64);
    EQ(ipc_mq_open(&b, name, IPC_O_CREATE, 0, 5, 128), 0);
    EQ(b.maxmsg, 3);
    EQ(b.msgsize, 64);
    ipc_mq_close(&a);
    ipc_mq_close(&b);
    FD_CHECK();
}

MQ_TEST(mq_posix, open_excl_on_an_existing_queue_is_eexist_and_leaves_it_untouched) {
    const char *name = mq_new_name();
    ipc_mq a, b;
    mq_make(&a, name, 3, 64);
    EQ(ipc_mq_send(&a, "kept", 4, 7, 0), 0);
    b.fd = 12345;
    EQ(ipc_mq_open(&b, name, IPC_O_CREATE | IPC_O_EXCL, 0, 3, 64), -EEXIST);
    EQ(b.fd, -1);
    EQ(mq_depth(&a), 1);
    mq_expect(&a, "kept", 4, 7);
    ipc_mq_close(&a);
    FD_CHECK();
}

MQ_TEST(mq_posix, open_without_create_of_a_missing_queue_is_enoent) {
    ipc_mq q;
    const char *name = mq_new_name();
    EQ(ipc_mq_open(&q, name, 0, 0, 0, 0), -ENOENT);
    EQ(q.fd, -1);
    EQ(ipc_mq_open(&q, name, IPC_O_RDONLY, 0, 0, 0), -ENOENT);
    EQ(ipc_mq_open(&q, name, IPC_O_EXCL, 0, 0, 0), -ENOENT); /* EXCL alone creates nothing */
    cr_assert(mq_gone(name));
    FD_CHECK();
}

MQ_TEST(mq_posix, open_refuses_rdonly_with_wronly_and_negative_sizes_with_einval) {
    const char *name = mq_new_name();
    ipc_mq q;
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_RDONLY | IPC_O_WRONLY, 0, 0, 0), -EINVAL);
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE, 0, -1, 16), -EINVAL);
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE, 0, 2, -1), -EINVAL);
    EQ(q.fd, -1);
    cr_assert(mq_gone(name), "a refused open created the queue");
    FD_CHECK();
}

/* TESTING.md "kernel limits": maxmsg 11 over msg_max 10 binds without
   CAP_SYS_RESOURCE and is named IPC_EMQMSGMAX. */
MQ_TEST(mq_posix, open_maxmsg_over_msg_max_is_emqmsgmax_and_creates_nothing) {
    ipc_mq_limits lim;
    const char *name = mq_new_name();
    ipc_mq q;
    EQ(ipc_mq_limits_read(&lim), 0);
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE, 0, lim.msg_max + 1, 16), IPC_EMQMSGMAX);
    EQ(q.fd, -1);
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE, 0, LONG_MAX, 16), IPC_EMQMSGMAX);
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE, 0, lim.msg_max + 1, 0), IPC_EMQMSGMAX);
    cr_assert(mq_gone(name));
    FD_CHECK();
}

MQ_TEST(mq_posix, open_msgsize_over_msgsize_max_is_emqsizemax_and_creates_nothing) {
    ipc_mq_limits lim;
    const char *name = mq_new_name();
    ipc_mq q;
    EQ(ipc_mq_limits_read(&lim), 0);
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE, 0, 1, lim.msgsize_max + 1), IPC_EMQSIZEMAX);
    EQ(q.fd, -1);
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE, 0, 0, lim.msgsize_max + 1), IPC_EMQSIZEMAX);
    cr_assert(mq_gone(name));
    FD_CHECK();
}

MQ_TEST(mq_posix, open_at_exactly_the_limits_succeeds) {
    ipc_mq_limits lim;
    ipc_mq q;
    EQ(ipc_mq_limits_read(&lim), 0);
    mq_make(&q, mq_new_name(), lim.msg_max, lim.msgsize_max);
    EQ(q.maxmsg, lim.msg_max);
    EQ(q.msgsize, lim.msgsize_max);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* In a private IPC namespace with queues_max 2: the third queue is refused
   with IPC_EMQQUEUESMAX. (The namespace and its queues die with the child.) */
MQ_TEST(mq_posix, open_past_queues_max_is_emqqueuesmax) {
    pid_t pid = fork_child();
    int st;
    if (pid == 0) {
        ipc_mq a, b, c;
        ipc_mq_limits lim;
        if (private_ipc_ns_with("/proc/sys/fs/mqueue/queues_max", "2") < 0) _exit(77);
        CHKEQ(ipc_mq_limits_read(&lim), 0);
        CHKEQ(lim.queues_max, 2);
        CHKEQ(ipc_mq_open(&a, "/ipct-ns-1", IPC_O_CREATE | IPC_O_EXCL, 0, 1, 16), 0);
        CHKEQ(ipc_mq_open(&b, "/ipct-ns-2", IPC_O_CREATE | IPC_O_EXCL, 0, 0, 0), 0);
        CHKEQ(ipc_mq_open(&c, "/ipct-ns-3", IPC_O_CREATE | IPC_O_EXCL, 0, 1, 16), IPC_EMQQUEUESMAX);
        CHKEQ(c.fd, -1);
        CHKEQ(ipc_mq_open(&c, "/ipct-ns-3", IPC_O_CREATE | IPC_O_EXCL, 0, 0, 0), IPC_EMQQUEUESMAX);
        /* room again once one is gone: unlinked and its last descriptor closed */
        CHKEQ(ipc_mq_unlink("/ipct-ns-1"), 0);
        CHKEQ(ipc_mq_close(&a), 0);
        CHKEQ(ipc_mq_open(&c, "/ipct-ns-3", IPC_O_CREATE | IPC_O_EXCL, 0, 1, 16), 0);
        _exit(0);
    }
    st = child_status(pid, 10000, "queues_max");
    if (st == 77) cr_skip_test("unshare(CLONE_NEWIPC) refused here");
    EQ(st, 0);
    FD_CHECK();
}

/* RLIMIT_MSGQUEUE 0: mq_open answers EMFILE and nothing is created. */
MQ_TEST(mq_posix, open_past_rlimit_msgqueue_is_emfile_and_creates_nothing) {
    const char *name = mq_new_name();
    pid_t pid = fork_child();
    if (pid == 0) {
        struct rlimit rl = {0, 0};
        ipc_mq q;
        CHK(setrlimit(RLIMIT_MSGQUEUE, &rl) == 0);
        CHKEQ(ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_EXCL, 0, 1, 16), -EMFILE);
        CHKEQ(q.fd, -1);
        CHKEQ(ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_EXCL, 0, 0, 0), -EMFILE);
        _exit(0);
    }
    assert_child_ok(pid, 5000, "rlimit msgqueue");
    cr_assert(mq_gone(name), "the refused open left a queue");
    FD_CHECK();
}

/* RLIMIT_NOFILE at the next free descriptor: -EMFILE, nothing created;
   works again once the limit is raised. */
MQ_TEST(mq_posix, open_with_no_free_descriptor_is_emfile_and_creates_nothing) {
    const char *name = mq_new_name();
    pid_t pid = fork_child();
    if (pid == 0) {
        struct rlimit old, rl;
        int next = fcntl(0, F_DUPFD, 0);
        ipc_mq q;
        CHK(next >= 0);
        close(next);
        CHK(getrlimit(RLIMIT_NOFILE, &old) == 0);
        rl = old;
        rl.rlim_cur = (rlim_t)next;
        CHK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
        CHKEQ(ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_EXCL, 0, 0, 0), -EMFILE);
        CHKEQ(q.fd, -1);
        CHKEQ(ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_EXCL, 0, 1, 16), -EMFILE);
        CHKEQ(ipc_mq_open(&q, name, 0, 0, 0, 0), -EMFILE);
        CHK(setrlimit(RLIMIT_NOFILE, &old) == 0);
        CHKEQ(ipc_mq_open(&q, name, 0, 0, 0, 0), -ENOENT); /* the refused creates made nothing */
        CHKEQ(ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_EXCL, 0, 1, 16), 0);
        CHKEQ(ipc_mq_close(&q), 0);
        CHKEQ(ipc_mq_unlink(name), 0);
        _exit(0);
    }
    assert_child_ok(pid, 5000, "rlimit nofile");
    cr_assert(mq_gone(name));
    FD_CHECK();
}

/* ==== 3d. POSIX queues: messages ========================================== */

MQ_TEST(mq_posix, send_recv_round_trip_is_byte_exact_for_0_1_and_msgsize_bytes) {
    ipc_mq q;
    uint8_t *big;
    mq_make(&q, mq_new_name(), 0, 0);
    big = (uint8_t *)guarded_alloc((size_t)q.msgsize);
    cr_assert(big != NULL);
    msg_make(big, 77, (uint32_t)q.msgsize);
    EQ(ipc_mq_send(&q, "", 0, 0, 0), 0);
    EQ(ipc_mq_send(&q, "\0", 1, 0, 0), 0);
    EQ(ipc_mq_send(&q, big, (size_t)q.msgsize, 0, -1), 0);
    EQ(mq_depth(&q), 3);
    mq_expect(&q, "", 0, 0);
    mq_expect(&q, "\0", 1, 0);
    {
        uint8_t *buf = (uint8_t *)guarded_alloc((size_t)q.msgsize);
        unsigned prio = 5;
        EQ(ipc_mq_recv(&q, buf, (size_t)q.msgsize, &prio, -1), q.msgsize);
        cr_assert(msg_check(buf, (size_t)q.msgsize, 77));
        EQ(prio, 0);
        guarded_free(buf, (size_t)q.msgsize);
    }
    EQ(mq_depth(&q), 0);
    guarded_free(big, (size_t)q.msgsize);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* An empty message may come with no buffer at all (data NULL, n 0), as for
   ipc_sysv_send and the codecs: for every timeout form. */
MQ_TEST(mq_posix, empty_message_with_null_data_is_sent_for_every_timeout) {
    ipc_mq q;
    mq_make(&q, mq_new_name(), 4, 16);
    EQ(ipc_mq_send(&q, NULL, 0, 1, 0), 0);
    EQ(ipc_mq_send(&q, NULL, 0, 2, 100), 0);
    EQ(ipc_mq_send(&q, NULL, 0, 3, -1), 0);
    mq_expect(&q, "", 0, 3);
    mq_expect(&q, "", 0, 2);
    mq_expect(&q, "", 0, 1);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* Refused up front, even on a full queue with timeout -1: no waiting. */
MQ_TEST(mq_posix, send_longer_than_msgsize_is_emsgsize_at_once_and_queues_nothing) {
    static uint8_t buf[128];
    ipc_mq q;
    int64_t t0;
    mq_make(&q, mq_new_name(), 2, 64);
    EQ(ipc_mq_send(&q, buf, 65, 0, 0), -EMSGSIZE);
    EQ(ipc_mq_send(&q, buf, 65, 0, -1), -EMSGSIZE);
    EQ(mq_depth(&q), 0);
    EQ(ipc_mq_send(&q, buf, 64, 0, 0), 0);
    EQ(ipc_mq_send(&q, buf, 64, 0, 0), 0);
    t0 = ipc_now_ns();
    EQ(ipc_mq_send(&q, buf, 65, 0, -1), -EMSGSIZE); /* full: must not block */
    EQ(ipc_mq_send(&q, buf, SIZE_MAX, 0, 0), -EMSGSIZE);
    IN_MS(elapsed_ms(t0), 0, 1000);
    EQ(mq_depth(&q), 2);
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, recv_buffer_below_msgsize_is_emsgsize_before_touching_the_queue) {
    uint8_t buf[64];
    ipc_mq q;
    int64_t t0;
    mq_make(&q, mq_new_name(), 2, 64);
    t0 = ipc_now_ns();
    EQ(ipc_mq_recv(&q, buf, 63, NULL, -1), -EMSGSIZE); /* empty queue, timeout -1: still at once */
    IN_MS(elapsed_ms(t0), 0, 1000);
    EQ(ipc_mq_send(&q, "x", 1, 3, 0), 0);
    EQ(ipc_mq_recv(&q, buf, 63, NULL, 0), -EMSGSIZE);
    EQ(ipc_mq_recv(&q, buf, 1, NULL, 0), -EMSGSIZE);
    EQ(mq_depth(&q), 1); /* the message was not consumed */
    mq_expect(&q, "x", 1, 3);
    ipc_mq_close(&q);
    FD_CHECK();
}

static const struct {
    unsigned prio;
    char id;
} prio_sends[] = {{1, 'a'}, {5, 'b'}, {3, 'c'}, {5, 'd'}, {0, 'e'}, {32767, 'f'}, {3, 'g'}};
static const char prio_order[] = "fbdcgae"; /* highest first, FIFO within one */

MQ_TEST(mq_posix, recv_gives_highest_priority_first_fifo_within_a_priority) {
    ipc_mq q;
    size_t i;
    mq_make(&q, mq_new_name(), 10, 16);
    for (i = 0; i < sizeof prio_sends / sizeof prio_sends[0]; i++)
        EQ(ipc_mq_send(&q, &prio_sends[i].id, 1, prio_sends[i].prio, 0), 0);
    for (i = 0; prio_order[i]; i++) {
        unsigned want = 0;
        size_t k;
        for (k = 0; k < sizeof prio_sends / sizeof prio_sends[0]; k++)
            if (prio_sends[k].id == prio_order[i]) want = prio_sends[k].prio;
        mq_expect(&q, &prio_order[i], 1, want);
    }
    EQ(mq_depth(&q), 0);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* A child sends, the parent (another process, its own descriptor) receives. */
MQ_TEST(mq_posix, priority_order_holds_across_processes) {
    const char *name = mq_new_name();
    ipc_mq q;
    pid_t pid;
    size_t i;
    mq_make(&q, name, 10, 16);
    pid = fork_child();
    if (pid == 0) {
        ipc_mq c;
        CHKEQ(ipc_mq_open(&c, name, IPC_O_WRONLY, 0, 0, 0), 0);
        for (i = 0; i < sizeof prio_sends / sizeof prio_sends[0]; i++)
            CHKEQ(ipc_mq_send(&c, &prio_sends[i].id, 1, prio_sends[i].prio, 1000), 0);
        CHKEQ(ipc_mq_close(&c), 0);
        _exit(0);
    }
    assert_child_ok(pid, 5000, "sender");
    for (i = 0; prio_order[i]; i++) {
        char c = 0;
        unsigned prio = 0;
        EQ(ipc_mq_recv(&q, &c, 16, &prio, 1000), 1);
        cr_assert(c == prio_order[i], "message %zu: got '%c', expected '%c'", i, c, prio_order[i]);
    }
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, prio_32768_is_einval_and_queues_nothing) {
    ipc_mq q;
    mq_make(&q, mq_new_name(), 2, 16);
    EQ(ipc_mq_send(&q, "x", 1, 32768, 0), -EINVAL);
    EQ(ipc_mq_send(&q, "x", 1, UINT_MAX, 0), -EINVAL);
    EQ(mq_depth(&q), 0);
    EQ(ipc_mq_send(&q, "y", 1, 32767, 0), 0);
    mq_expect(&q, "y", 1, 32767);
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, access_mode_is_enforced_send_on_rdonly_and_recv_on_wronly_are_ebadf) {
    const char *name = mq_new_name();
    ipc_mq rw, ro, wo;
    char buf[16];
    mq_make(&rw, name, 2, 16);
    EQ(ipc_mq_open(&ro, name, IPC_O_RDONLY, 0, 0, 0), 0);
    EQ(ipc_mq_open(&wo, name, IPC_O_WRONLY, 0, 0, 0), 0);
    EQ(ipc_mq_send(&ro, "x", 1, 0, 0), -EBADF);
    EQ(ipc_mq_send(&wo, "w", 1, 0, 0), 0);
    EQ(ipc_mq_recv(&wo, buf, sizeof buf, NULL, 0), -EBADF);
    EQ(ipc_mq_recv(&ro, buf, sizeof buf, NULL, 0), 1);
    EQ(buf[0], 'w');
    ipc_mq_close(&rw);
    ipc_mq_close(&ro);
    ipc_mq_close(&wo);
    FD_CHECK();
}

MQ_TEST(mq_posix, close_twice_is_harmless_and_unlink_of_a_missing_name_is_enoent) {
    const char *name = mq_new_name();
    ipc_mq q;
    mq_make(&q, name, 1, 16);
    EQ(ipc_mq_close(&q), 0);
    EQ(q.fd, -1);
    EQ(ipc_mq_close(&q), 0);
    EQ(ipc_mq_unlink(name), 0);
    EQ(ipc_mq_unlink(name), -ENOENT);
    cr_assert(mq_gone(name));
    FD_CHECK();
}

MQ_TEST(mq_posix, stat_counts_queued_messages) {
    ipc_mq q;
    ipc_mq_info info;
    int i;
    mq_make(&q, mq_new_name(), 5, 32);
    for (i = 1; i <= 5; i++) {
        EQ(ipc_mq_send(&q, "m", 1, 0, 0), 0);
        EQ(ipc_mq_stat(&q, &info), 0);
        EQ(info.curmsgs, i);
        EQ(info.maxmsg, 5);
        EQ(info.msgsize, 32);
    }
    ipc_mq_close(&q);
    FD_CHECK();
}

/* ==== 3d. POSIX queues: waiting =========================================== */

MQ_TEST(mq_posix, empty_queue_try_recv_is_eagain_at_once) {
    ipc_mq q;
    char buf[16];
    int64_t t0;
    mq_make(&q, mq_new_name(), 2, 16);
    t0 = ipc_now_ns();
    EQ(ipc_mq_recv(&q, buf, sizeof buf, NULL, 0), -EAGAIN);
    IN_MS(elapsed_ms(t0), 0, 500);
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, empty_queue_timed_recv_is_etimedout_in_time) {
    ipc_mq q;
    char buf[16];
    int64_t t0;
    mq_make(&q, mq_new_name(), 2, 16);
    t0 = ipc_now_ns();
    EQ(ipc_mq_recv(&q, buf, sizeof buf, NULL, 100), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 100, 1500);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* A full queue (default msg_max 10): the try send is refused and what is
   queued is exactly what was accepted. */
MQ_TEST(mq_posix, full_queue_try_send_is_eagain_and_queues_nothing) {
    ipc_mq q;
    int64_t t0;
    long i;
    mq_make(&q, mq_new_name(), 0, 64);
    EQ(q.maxmsg, proc_long("/proc/sys/fs/mqueue/msg_default"));
    for (i = 0; i < q.maxmsg; i++) {
        char id = (char)('0' + i);
        EQ(ipc_mq_send(&q, &id, 1, 0, 0), 0);
    }
    t0 = ipc_now_ns();
    EQ(ipc_mq_send(&q, "X", 1, 0, 0), -EAGAIN);
    EQ(ipc_mq_send(&q, "Y", 1, 31000, 0), -EAGAIN);
    IN_MS(elapsed_ms(t0), 0, 500);
    EQ(mq_depth(&q), q.maxmsg);
    for (i = 0; i < q.maxmsg; i++) {
        char id = (char)('0' + i);
        mq_expect(&q, &id, 1, 0);
    }
    EQ(mq_depth(&q), 0);
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, full_queue_timed_send_is_etimedout_in_time) {
    ipc_mq q;
    int64_t t0;
    long i;
    mq_make(&q, mq_new_name(), 0, 64);
    for (i = 0; i < q.maxmsg; i++) EQ(ipc_mq_send(&q, "f", 1, 0, 0), 0);
    t0 = ipc_now_ns();
    EQ(ipc_mq_send(&q, "X", 1, 0, 100), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 100, 1500);
    EQ(mq_depth(&q), q.maxmsg);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* Fills q, then a child takes one message after 200 ms; the parent's send
   with timeout_ms must wait for that room and succeed. */
static void mq_send_waits_for_room(int timeout_ms) {
    ipc_mq q;
    int64_t t0;
    long i;
    pid_t pid;
    mq_make(&q, mq_new_name(), 0, 64);
    for (i = 0; i < q.maxmsg; i++) {
        char id = (char)('a' + i);
        EQ(ipc_mq_send(&q, &id, 1, 0, 0), 0);
    }
    t0 = ipc_now_ns();
    pid = fork_child();
    if (pid == 0) {
        char buf[64];
        sleep_ms(200);
        CHKEQ(ipc_mq_recv(&q, buf, sizeof buf, NULL, 1000), 1);
        CHKEQ(buf[0], 'a');
        _exit(0);
    }
    EQ(ipc_mq_send(&q, "Z", 1, 0, timeout_ms), 0);
    IN_MS(elapsed_ms(t0), 195, 4000);
    assert_child_ok(pid, 5000, "receiver");
    for (i = 1; i < q.maxmsg; i++) {
        char id = (char)('a' + i);
        mq_expect(&q, &id, 1, 0);
    }
    mq_expect(&q, "Z", 1, 0);
    ipc_mq_close(&q);
    FD_CHECK();
}
MQ_TEST(mq_posix, full_queue_blocking_send_waits_until_a_peer_receives) { mq_send_waits_for_room(-1); }
MQ_TEST(mq_posix, full_queue_timed_send_succeeds_when_a_peer_makes_room) { mq_send_waits_for_room(5000); }

MQ_TEST(mq_posix, blocked_recv_wakes_when_a_peer_sends) {
    ipc_mq q;
    char buf[64];
    int64_t t0;
    unsigned prio = 0;
    pid_t pid;
    mq_make(&q, mq_new_name(), 2, 64);
    t0 = ipc_now_ns();
    pid = fork_child();
    if (pid == 0) {
        sleep_ms(100);
        CHKEQ(ipc_mq_send(&q, "wake", 4, 9, 1000), 0);
        _exit(0);
    }
    EQ(ipc_mq_recv(&q, buf, sizeof buf, &prio, 5000), 4);
    IN_MS(elapsed_ms(t0), 95, 2500);
    cr_assert(memcmp(buf, "wake", 4) == 0);
    EQ(prio, 9);
    assert_child_ok(pid, 5000, "sender");
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, nonblock_flag_is_reported_and_switchable) {
    const char *name = mq_new_name();
    ipc_mq q;
    ipc_mq_info info;
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_EXCL | IPC_O_NONBLOCK, 0, 2, 16), 0);
    EQ(ipc_mq_stat(&q, &info), 0);
    EQ(info.nonblock, 1);
    cr_assert(fcntl(q.fd, F_GETFL) & O_NONBLOCK);
    EQ(ipc_mq_set_nonblock(&q, 0), 0);
    EQ(ipc_mq_stat(&q, &info), 0);
    EQ(info.nonblock, 0);
    cr_assert(!(fcntl(q.fd, F_GETFL) & O_NONBLOCK));
    EQ(ipc_mq_set_nonblock(&q, 1), 0);
    EQ(ipc_mq_stat(&q, &info), 0);
    EQ(info.nonblock, 1);
    EQ(info.maxmsg, 2); /* mq_setattr changed the flag only */
    EQ(info.msgsize, 16);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* A non-blocking descriptor keeps the timeout contract: try, timed and
   blocking calls behave as on a blocking one (the wait happens in poll). */
MQ_TEST(mq_posix, nonblocking_descriptor_still_honours_timeouts) {
    const char *name = mq_new_name();
    ipc_mq q;
    char buf[16];
    int64_t t0;
    pid_t pid;
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_EXCL | IPC_O_NONBLOCK, 0, 1, 16), 0);
    EQ(ipc_mq_recv(&q, buf, sizeof buf, NULL, 0), -EAGAIN);
    t0 = ipc_now_ns();
    EQ(ipc_mq_recv(&q, buf, sizeof buf, NULL, 100), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 100, 1500);
    t0 = ipc_now_ns();
    pid = fork_child();
    if (pid == 0) {
        sleep_ms(150);
        CHKEQ(ipc_mq_send(&q, "n", 1, 0, 1000), 0);
        _exit(0);
    }
    EQ(ipc_mq_recv(&q, buf, sizeof buf, NULL, -1), 1);
    IN_MS(elapsed_ms(t0), 145, 4000);
    EQ(buf[0], 'n');
    assert_child_ok(pid, 5000, "sender");
    EQ(ipc_mq_send(&q, "1", 1, 0, 0), 0); /* now full (maxmsg 1) */
    EQ(ipc_mq_send(&q, "2", 1, 0, 0), -EAGAIN);
    t0 = ipc_now_ns();
    EQ(ipc_mq_send(&q, "2", 1, 0, 100), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 100, 1500);
    EQ(mq_depth(&q), 1);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* EINTR: a 2 ms SIGALRM without SA_RESTART while the parent blocks; the
   receive restarts and gets the message a child sends after 300 ms. */
MQ_TEST(mq_posix, blocking_recv_survives_signals_without_sa_restart) {
    ipc_mq q;
    char buf[64];
    pid_t pid;
    mq_make(&q, mq_new_name(), 2, 64);
    pid = fork_child();
    if (pid == 0) {
        sleep_ms(300);
        CHKEQ(ipc_mq_send(&q, "late", 4, 2, 1000), 0);
        _exit(0);
    }
    itimer_start(2000);
    EQ(ipc_mq_recv(&q, buf, sizeof buf, NULL, -1), 4);
    itimer_stop();
    cr_assert(memcmp(buf, "late", 4) == 0);
    cr_assert(alarm_count > 10, "only %d signals arrived", (int)alarm_count);
    assert_child_ok(pid, 5000, "sender");
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, timed_recv_under_signals_still_times_out_in_time) {
    ipc_mq q;
    char buf[64];
    int64_t t0;
    mq_make(&q, mq_new_name(), 2, 64);
    itimer_start(2000);
    t0 = ipc_now_ns();
    EQ(ipc_mq_recv(&q, buf, sizeof buf, NULL, 300), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 300, 1500);
    itimer_stop();
    cr_assert(alarm_count > 10, "only %d signals arrived", (int)alarm_count);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* "Nothing lost": 300 self-checking messages of 12..msgsize bytes through a
   10-message queue, so the sender blocks on backpressure again and again. */
MQ_TEST(mq_posix, nothing_lost_300_messages_across_processes_with_backpressure) {
    enum { N = 300 };
    ipc_mq q;
    uint8_t *buf;
    pid_t pid;
    uint32_t seq;
    mq_make(&q, mq_new_name(), 0, 0);
    pid = fork_child();
    if (pid == 0) {
        uint8_t *m = (uint8_t *)malloc((size_t)q.msgsize);
        CHK(m != NULL);
        for (seq = 0; seq < N; seq++) {
            uint32_t len = 12 + (seq * 997u) % (uint32_t)(q.msgsize - 11);
            msg_make(m, seq, len);
            CHKEQ(ipc_mq_send(&q, m, len, 0, -1), 0);
        }
        free(m);
        _exit(0);
    }
    buf = (uint8_t *)guarded_alloc((size_t)q.msgsize);
    for (seq = 0; seq < N; seq++) {
        uint32_t len = 12 + (seq * 997u) % (uint32_t)(q.msgsize - 11);
        ssize_t n = ipc_mq_recv(&q, buf, (size_t)q.msgsize, NULL, 5000);
        EQ(n, len);
        cr_assert(msg_check(buf, (size_t)n, seq), "message %u corrupt or out of order", seq);
    }
    assert_child_ok(pid, 5000, "sender");
    EQ(mq_depth(&q), 0);
    guarded_free(buf, (size_t)q.msgsize);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* ==== 3d. POSIX queues: unlink while a peer waits ========================= */

/* mq_unlink removes the name only: a receiver blocked on the queue is not
   woken; its wait runs to its own timeout. */
MQ_TEST(mq_posix, unlink_while_a_peer_waits_does_not_wake_it) {
    const char *name = mq_new_name();
    ipc_mq q;
    gate g;
    pid_t pid;
    mq_make(&q, name, 2, 16);
    gate_make(&g);
    pid = fork_child();
    if (pid == 0) {
        char buf[16];
        int64_t t0;
        gate_pass(&g);
        t0 = ipc_now_ns();
        CHKEQ(ipc_mq_recv(&q, buf, sizeof buf, NULL, 700), -ETIMEDOUT);
        CHK(elapsed_ms(t0) >= 700);
        _exit(0);
    }
    gate_wait(&g, 1);
    sleep_ms(100);
    EQ(ipc_mq_unlink(name), 0);
    cr_assert(mq_gone(name));
    assert_child_ok(pid, 5000, "waiter");
    gate_close(&g);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* The unlinked queue lives until its last descriptor closes: a message sent
   after the unlink reaches the waiter, and a new queue under the old name is
   another, empty queue. */
MQ_TEST(mq_posix, unlinked_queue_lives_until_its_last_descriptor_closes) {
    const char *name = mq_new_name();
    ipc_mq q, fresh;
    gate g;
    pid_t pid;
    mq_make(&q, name, 2, 16);
    gate_make(&g);
    pid = fork_child();
    if (pid == 0) {
        char buf[16];
        gate_pass(&g);
        CHKEQ(ipc_mq_recv(&q, buf, sizeof buf, NULL, 5000), 5);
        CHK(memcmp(buf, "after", 5) == 0);
        _exit(0);
    }
    gate_wait(&g, 1);
    sleep_ms(100);
    EQ(ipc_mq_unlink(name), 0);
    cr_assert(mq_gone(name));
    mq_make(&fresh, name, 2, 16);
    EQ(ipc_mq_send(&q, "after", 5, 0, 1000), 0);
    assert_child_ok(pid, 5000, "waiter");
    EQ(mq_depth(&fresh), 0);
    EQ(ipc_mq_send(&q, "still", 5, 0, 0), 0);
    EQ(mq_depth(&q), 1);
    EQ(mq_depth(&fresh), 0);
    gate_close(&g);
    ipc_mq_close(&q);
    ipc_mq_close(&fresh);
    FD_CHECK();
}

/* ==== 3d. POSIX queues: notification ====================================== */

static int note_marker;

MQ_TEST(mq_posix, notify_signal_raises_signo_with_arg_when_a_message_arrives) {
    ipc_mq q;
    pid_t pid;
    mq_make(&q, mq_new_name(), 2, 16);
    note_handler_install(SIGUSR1);
    EQ(ipc_mq_notify_signal(&q, SIGUSR1, &note_marker), 0);
    sleep_ms(50);
    EQ(note_hits, 0);
    pid = fork_child();
    if (pid == 0) {
        CHKEQ(ipc_mq_send(&q, "n", 1, 0, 1000), 0);
        _exit(0);
    }
    EQ(note_wait(1, 5000), 1);
    cr_assert(note_ptr == &note_marker, "si_value %p, expected %p", note_ptr, (void *)&note_marker);
    EQ(note_code, SI_MESGQ);
    EQ(note_pid, pid);
    assert_child_ok(pid, 5000, "sender");
    mq_expect(&q, "n", 1, 0); /* the notification does not consume it */
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, notify_is_one_shot_and_can_be_renewed) {
    ipc_mq q;
    mq_make(&q, mq_new_name(), 4, 16);
    note_handler_install(SIGUSR1);
    EQ(ipc_mq_notify_signal(&q, SIGUSR1, NULL), 0);
    EQ(ipc_mq_send(&q, "1", 1, 0, 0), 0);
    EQ(note_wait(1, 5000), 1);
    mq_expect(&q, "1", 1, 0);
    EQ(ipc_mq_send(&q, "2", 1, 0, 0), 0); /* empty -> non-empty again, no registration */
    sleep_ms(200);
    EQ(note_hits, 1);
    mq_expect(&q, "2", 1, 0);
    EQ(ipc_mq_notify_signal(&q, SIGUSR1, NULL), 0); /* the one-shot was used up: renewable */
    EQ(ipc_mq_send(&q, "3", 1, 0, 0), 0);
    EQ(note_wait(2, 5000), 2);
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, notify_cancel_stops_the_notification) {
    ipc_mq q;
    mq_make(&q, mq_new_name(), 2, 16);
    note_handler_install(SIGUSR1);
    EQ(ipc_mq_notify_signal(&q, SIGUSR1, NULL), 0);
    EQ(ipc_mq_notify_cancel(&q), 0);
    EQ(ipc_mq_send(&q, "x", 1, 0, 0), 0);
    sleep_ms(200);
    EQ(note_hits, 0);
    mq_expect(&q, "x", 1, 0);
    EQ(ipc_mq_notify_signal(&q, SIGUSR1, NULL), 0); /* free again after the cancel */
    EQ(ipc_mq_notify_cancel(&q), 0);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* One registration per queue: a second one, from this process or another,
   is -EBUSY until the first is cancelled. */
MQ_TEST(mq_posix, notify_second_registration_is_ebusy_in_any_process) {
    const char *name = mq_new_name();
    ipc_mq q;
    pid_t pid;
    mq_make(&q, name, 2, 16);
    note_handler_install(SIGUSR1);
    EQ(ipc_mq_notify_signal(&q, SIGUSR1, NULL), 0);
    EQ(ipc_mq_notify_signal(&q, SIGUSR1, NULL), -EBUSY);
    pid = fork_child();
    if (pid == 0) {
        ipc_mq c;
        CHKEQ(ipc_mq_open(&c, name, 0, 0, 0, 0), 0);
        CHKEQ(ipc_mq_notify_signal(&c, SIGUSR2, NULL), -EBUSY);
        CHKEQ(ipc_mq_notify_cancel(&c), 0); /* not the owner: changes nothing */
        _exit(0);
    }
    assert_child_ok(pid, 5000, "second registrant");
    EQ(ipc_mq_notify_signal(&q, SIGUSR1, NULL), -EBUSY); /* the child's cancel did not remove ours */
    EQ(ipc_mq_notify_cancel(&q), 0);
    pid = fork_child();
    if (pid == 0) {
        ipc_mq c;
        CHKEQ(ipc_mq_open(&c, name, 0, 0, 0, 0), 0);
        CHKEQ(ipc_mq_notify_signal(&c, SIGUSR2, NULL), 0);
        _exit(0);
    }
    assert_child_ok(pid, 5000, "registrant after cancel");
    ipc_mq_close(&q);
    FD_CHECK();
}

typedef struct thread_note {
    sem_t sem;
    int calls;
    pthread_t who;
} thread_note;
static void on_thread_note(void *arg) {
    thread_note *t = (thread_note *)arg;
    t->who = pthread_self();
    __atomic_add_fetch(&t->calls, 1, __ATOMIC_SEQ_CST);
    sem_post(&t->sem);
}

MQ_TEST(mq_posix, notify_thread_runs_fn_with_arg_in_another_thread) {
    ipc_mq q;
    thread_note t;
    pid_t pid;
    int64_t t0;
    memset(&t, 0, sizeof t);
    cr_assert(sem_init(&t.sem, 0, 0) == 0);
    mq_make(&q, mq_new_name(), 2, 16);
    /* glibc's SIGEV_THREAD opens one netlink socket per process, on first
       use, and keeps it: register and cancel once before the fd snapshot. */
    EQ(ipc_mq_notify_thread(&q, on_thread_note, &t), 0);
    EQ(ipc_mq_notify_cancel(&q), 0);
    fdset_take(&fd_start);
    EQ(ipc_mq_notify_thread(&q, on_thread_note, &t), 0);
    pid = fork_child();
    if (pid == 0) {
        CHKEQ(ipc_mq_send(&q, "t", 1, 0, 1000), 0);
        _exit(0);
    }
    t0 = ipc_now_ns();
    while (sem_trywait(&t.sem) < 0 && elapsed_ms(t0) < 5000) sleep_ms(1);
    EQ(__atomic_load_n(&t.calls, __ATOMIC_SEQ_CST), 1);
    cr_assert(!pthread_equal(t.who, pthread_self()), "fn ran on the test's own thread");
    assert_child_ok(pid, 5000, "sender");
    mq_expect(&q, "t", 1, 0);
    EQ(ipc_mq_send(&q, "u", 1, 0, 0), 0); /* one-shot: no second call */
    sleep_ms(200);
    EQ(__atomic_load_n(&t.calls, __ATOMIC_SEQ_CST), 1);
    ipc_mq_close(&q);
    sem_destroy(&t.sem);
    FD_CHECK();
}

/* ==== 3d. POSIX queues: poll and epoll ==================================== */

static short poll_now(int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    int rc = poll(&p, 1, 0);
    cr_assert(rc >= 0, "poll: %s", strerror(errno));
    return p.revents;
}

MQ_TEST(mq_posix, descriptor_polls_pollout_when_room_pollin_when_a_message_waits) {
    ipc_mq q;
    mq_make(&q, mq_new_name(), 2, 16);
    EQ(poll_now(q.fd), POLLOUT);
    EQ(ipc_mq_send(&q, "1", 1, 0, 0), 0);
    EQ(poll_now(q.fd), POLLIN | POLLOUT);
    EQ(ipc_mq_send(&q, "2", 1, 0, 0), 0);
    EQ(poll_now(q.fd), POLLIN); /* full */
    mq_expect(&q, "1", 1, 0);
    mq_expect(&q, "2", 1, 0);
    EQ(poll_now(q.fd), POLLOUT);
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, poll_wakes_when_a_peer_sends) {
    ipc_mq q;
    struct pollfd p;
    int64_t t0;
    pid_t pid;
    mq_make(&q, mq_new_name(), 2, 16);
    t0 = ipc_now_ns();
    pid = fork_child();
    if (pid == 0) {
        sleep_ms(100);
        CHKEQ(ipc_mq_send(&q, "p", 1, 0, 1000), 0);
        _exit(0);
    }
    p.fd = q.fd, p.events = POLLIN, p.revents = 0;
    EQ(poll(&p, 1, 5000), 1);
    IN_MS(elapsed_ms(t0), 95, 4000);
    EQ(p.revents, POLLIN);
    mq_expect(&q, "p", 1, 0);
    assert_child_ok(pid, 5000, "sender");
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, descriptor_works_in_epoll) {
    ipc_mq q;
    struct epoll_event ev, out[4];
    int ep;
    mq_make(&q, mq_new_name(), 2, 16);
    ep = epoll_create1(EPOLL_CLOEXEC);
    cr_assert(ep >= 0);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u32 = 42;
    cr_assert(epoll_ctl(ep, EPOLL_CTL_ADD, q.fd, &ev) == 0, "epoll_ctl: %s", strerror(errno));
    EQ(epoll_wait(ep, out, 4, 0), 0);
    EQ(ipc_mq_send(&q, "e", 1, 0, 0), 0);
    EQ(epoll_wait(ep, out, 4, 1000), 1);
    EQ(out[0].data.u32, 42);
    cr_assert(out[0].events & EPOLLIN);
    mq_expect(&q, "e", 1, 0);
    EQ(epoll_wait(ep, out, 4, 0), 0);
    close(ep);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* ==== 3d. POSIX queues: security ========================================== */

MQ_TEST(mq_posix, descriptor_is_close_on_exec) {
    const char *name = mq_new_name();
    ipc_mq a, ro, wo, nb;
    int plain;
    mq_make(&a, name, 2, 16);
    EQ(ipc_mq_open(&ro, name, IPC_O_RDONLY, 0, 0, 0), 0);
    EQ(ipc_mq_open(&wo, name, IPC_O_WRONLY, 0, 0, 0), 0);
    EQ(ipc_mq_open(&nb, name, IPC_O_NONBLOCK | IPC_O_CREATE, 0, 0, 0), 0);
    cr_assert(fcntl(a.fd, F_GETFD) & FD_CLOEXEC);
    cr_assert(fcntl(ro.fd, F_GETFD) & FD_CLOEXEC);
    cr_assert(fcntl(wo.fd, F_GETFD) & FD_CLOEXEC);
    cr_assert(fcntl(nb.fd, F_GETFD) & FD_CLOEXEC);
    EQ(fd_survives_exec(a.fd), 0);
    EQ(fd_survives_exec(nb.fd), 0);
    plain = dup(a.fd); /* the control: a descriptor without FD_CLOEXEC does survive */
    cr_assert(plain >= 0);
    EQ(fd_survives_exec(plain), 1);
    close(plain);
    ipc_mq_close(&a), ipc_mq_close(&ro), ipc_mq_close(&wo), ipc_mq_close(&nb);
    FD_CHECK();
}

MQ_TEST(mq_posix, created_under_umask_000_is_0600_and_owned_by_the_caller) {
    ipc_mq q;
    struct stat st;
    umask(0);
    mq_make(&q, mq_new_name(), 1, 16);
    cr_assert(fstat(q.fd, &st) == 0);
    EQ(st.st_mode & 07777, 0600);
    EQ(st.st_uid, geteuid());
    EQ(st.st_gid, getegid());
    ipc_mq_close(&q);
    FD_CHECK();
}

MQ_TEST(mq_posix, mode_given_is_exact_whatever_the_umask) {
    ipc_mq a, b;
    umask(077);
    EQ(ipc_mq_open(&a, mq_new_name(), IPC_O_CREATE | IPC_O_EXCL, 0660, 1, 16), 0);
    EQ(fd_mode(a.fd), 0660);
    umask(0);
    EQ(ipc_mq_open(&b, mq_new_name(), IPC_O_CREATE | IPC_O_EXCL, 0640, 1, 16), 0);
    EQ(fd_mode(b.fd), 0640);
    ipc_mq_close(&a), ipc_mq_close(&b);
    FD_CHECK();
}

/* The mode is for a queue the call creates: opening an existing queue
   (with or without IPC_O_CREATE) must not change its permissions. */
MQ_TEST(mq_posix, opening_an_existing_queue_leaves_its_mode_alone) {
    const char *name = mq_new_name();
    ipc_mq a, b, c;
    mq_make(&a, name, 1, 16);
    EQ(fd_mode(a.fd), 0600);
    EQ(ipc_mq_open(&b, name, 0, 0640, 0, 0), 0);
    cr_assert(fd_mode(a.fd) == 0600, "opening the existing queue with mode 0640 changed it to %o", fd_mode(a.fd));
    EQ(ipc_mq_open(&c, name, IPC_O_CREATE, 0666, 0, 0), 0);
    cr_assert(fd_mode(a.fd) == 0600, "opening the existing queue with mode 0666 changed it to %o", fd_mode(a.fd));
    ipc_mq_close(&a), ipc_mq_close(&b), ipc_mq_close(&c);
    FD_CHECK();
}

/* uid 65534: EACCES for every access mode; its unlink is refused too and
   the queue survives. */
MQ_TEST(mq_posix, another_uid_gets_eacces_and_cannot_unlink) {
    const char *name = mq_new_name();
    ipc_mq q;
    pid_t pid;
    mq_make(&q, name, 1, 16);
    pid = fork_child();
    if (pid == 0) {
        ipc_mq c;
        CHK(become_nobody() == 0);
        CHKEQ(ipc_mq_open(&c, name, 0, 0, 0, 0), -EACCES);
        CHKEQ(c.fd, -1);
        CHKEQ(ipc_mq_open(&c, name, IPC_O_RDONLY, 0, 0, 0), -EACCES);
        CHKEQ(ipc_mq_open(&c, name, IPC_O_WRONLY, 0, 0, 0), -EACCES);
        CHKEQ(ipc_mq_open(&c, name, IPC_O_CREATE, 0666, 0, 0), -EACCES);
        {
            int rc = ipc_mq_unlink(name); /* EACCES on Linux 6.x; EPERM (sticky root) is also a refusal */
            CHK(rc == -EACCES || rc == -EPERM);
        }
        _exit(0);
    }
    assert_child_ok(pid, 5000, "uid 65534");
    cr_assert(!mq_gone(name), "another uid removed the queue");
    EQ(fd_mode(q.fd), 0600);
    ipc_mq_close(&q);
    FD_CHECK();
}

/* A queue another uid planted under our name is refused (-EACCES) even
   though root could open it, and is left as it was. */
MQ_TEST(mq_posix, queue_planted_by_another_uid_is_refused) {
    const char *name = mq_new_name();
    ipc_mq q;
    pid_t pid = fork_child();
    struct mq_attr attr;
    mqd_t raw;
    if (pid == 0) {
        ipc_mq c;
        CHK(become_nobody() == 0);
        CHKEQ(ipc_mq_open(&c, name, IPC_O_CREATE | IPC_O_EXCL, 0666, 2, 16), 0);
        CHKEQ(ipc_mq_send(&c, "planted", 7, 0, 0), 0);
        _exit(0);
    }
    assert_child_ok(pid, 5000, "planter");
    q.fd = 12345;
    EQ(ipc_mq_open(&q, name, IPC_O_CREATE, 0, 0, 0), -EACCES);
    EQ(q.fd, -1);
    EQ(ipc_mq_open(&q, name, 0, 0666, 0, 0), -EACCES);
    FD_CHECK();
    raw = mq_open(name, O_RDONLY | O_NONBLOCK);
    cr_assert(raw != (mqd_t)-1, "mq_open: %s", strerror(errno));
    cr_assert(mq_getattr(raw, &attr) == 0);
    EQ(attr.mq_curmsgs, 1);
    EQ(fd_mode((int)raw), 0666);
    mq_close(raw);
    FD_CHECK();
}

/* Our own queue with group/other bits the caller did not ask for. */
MQ_TEST(mq_posix, existing_queue_with_bits_not_asked_for_is_refused) {
    const char *name = mq_new_name();
    ipc_mq a, b;
    EQ(ipc_mq_open(&a, name, IPC_O_CREATE | IPC_O_EXCL, 0644, 1, 16), 0);
    EQ(ipc_mq_open(&b, name, 0, 0, 0, 0), -EACCES);
    EQ(b.fd, -1);
    EQ(ipc_mq_open(&b, name, IPC_O_CREATE, 0600, 0, 0), -EACCES);
    EQ(ipc_mq_open(&b, name, 0, 0644, 0, 0), 0);
    ipc_mq_close(&a), ipc_mq_close(&b);
    FD_CHECK();
}

/* ==== 3c. System V: keys and open ========================================= */

MQ_TEST(mq_sysv, key_is_stable_for_a_path_and_differs_by_project) {
    char path[] = "/tmp/ipct-key-XXXXXX";
    key_t k1 = 0, k1b = 0, k2 = 0, k255 = 0;
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    EQ(ipc_sysv_key(path, 1, &k1), 0);
    EQ(ipc_sysv_key(path, 1, &k1b), 0);
    EQ(ipc_sysv_key(path, 2, &k2), 0);
    EQ(ipc_sysv_key(path, 255, &k255), 0);
    unlink(path);
    EQ(k1, k1b);
    cr_assert(k1 != k2 && k1 != k255 && k2 != k255);
    FD_CHECK();
}

MQ_TEST(mq_sysv, key_matches_ftok) {
    key_t k = 0;
    EQ(ipc_sysv_key("/", 7, &k), 0);
    EQ(k, ftok("/", 7));
    EQ(ipc_sysv_key("/proc", 200, &k), 0);
    EQ(k, ftok("/proc", 200));
}

MQ_TEST(mq_sysv, key_refuses_bad_project_null_path_and_missing_path) {
    key_t k = 1234;
    EQ(ipc_sysv_key("/", 0, &k), -EINVAL);
    EQ(ipc_sysv_key("/", 256, &k), -EINVAL);
    EQ(ipc_sysv_key("/", -1, &k), -EINVAL);
    EQ(ipc_sysv_key(NULL, 1, &k), -EINVAL);
    EQ(ipc_sysv_key("/nonexistent/ipct/path", 1, &k), -ENOENT);
    EQ(k, 1234); /* untouched on failure */
}

MQ_TEST(mq_sysv, open_private_creates_a_new_queue_each_time) {
    int a = sysv_private(), b = sysv_private();
    cr_assert(a != b);
    sysv_put(a, 1, "in a");
    EQ(sysv_info(b).messages, 0);
    EQ(sysv_info(a).messages, 1);
}

MQ_TEST(mq_sysv, open_explicit_key_create_excl_then_eexist_then_open_existing) {
    key_t key = fresh_key();
    int id, again;
    id = ipc_sysv_open(key, IPC_O_CREATE | IPC_O_EXCL, 0);
    cr_assert(id >= 0, "%s", ipc_strerror(id));
    reg_sysv(id);
    EQ(ipc_sysv_open(key, IPC_O_CREATE | IPC_O_EXCL, 0), -EEXIST);
    again = ipc_sysv_open(key, IPC_O_CREATE, 0);
    EQ(again, id);
    EQ(ipc_sysv_open(key, 0, 0), id);
}

MQ_TEST(mq_sysv, open_missing_key_without_create_is_enoent) {
    key_t key = fresh_key();
    EQ(ipc_sysv_open(key, 0, 0), -ENOENT);
    EQ(ipc_sysv_open(key, IPC_O_EXCL, 0), -ENOENT);
    EQ(msgget(key, 0) < 0 && errno == ENOENT, 1);
}

/* Two processes meet at a queue through ftok of one path. */
MQ_TEST(mq_sysv, ftok_key_lets_two_processes_meet) {
    char path[] = "/tmp/ipct-ftok-XXXXXX";
    key_t key = 0;
    int fd = mkstemp(path), id;
    pid_t pid;
    cr_assert(fd >= 0);
    close(fd);
    EQ(ipc_sysv_key(path, 'Q', &key), 0);
    if (msgget(key, 0) >= 0) { /* ftok keys can collide (documented): step aside */
        unlink(path);
        cr_skip_test("ftok key 0x%x already in use", (unsigned)key);
    }
    id = ipc_sysv_open(key, IPC_O_CREATE | IPC_O_EXCL, 0);
    cr_assert(id >= 0, "%s", ipc_strerror(id));
    reg_sysv(id);
    pid = fork_child();
    if (pid == 0) {
        key_t k = 0;
        int q;
        CHKEQ(ipc_sysv_key(path, 'Q', &k), 0);
        q = ipc_sysv_open(k, 0, 0);
        CHKEQ(q, id);
        CHKEQ(ipc_sysv_send(q, 3, "met", 3, 1000), 0);
        _exit(0);
    }
    assert_child_ok(pid, 5000, "ftok peer");
    unlink(path);
    sysv_expect(id, 0, 0, 3, "met");
}

MQ_TEST(mq_sysv, created_under_umask_000_is_0600_and_owned_by_the_caller) {
    ipc_sysv_info info;
    int id, id2;
    umask(0);
    id = sysv_private();
    info = sysv_info(id);
    EQ(info.mode, 0600);
    EQ(info.uid, geteuid());
    EQ(info.gid, getegid());
    id2 = ipc_sysv_open(IPC_PRIVATE, IPC_O_CREATE, 0640);
    cr_assert(id2 >= 0);
    reg_sysv(id2);
    EQ(sysv_info(id2).mode, 0640);
}

/* uid 65534 on a 0600 queue: EACCES for open, send, receive and stat;
   removal is EPERM (neither owner nor creator). The queue is untouched. */
MQ_TEST(mq_sysv, another_uid_gets_eacces) {
    key_t key = fresh_key();
    int id = ipc_sysv_open(key, IPC_O_CREATE | IPC_O_EXCL, 0);
    pid_t pid;
    cr_assert(id >= 0, "%s", ipc_strerror(id));
    reg_sysv(id);
    sysv_put(id, 1, "mine");
    pid = fork_child();
    if (pid == 0) {
        char buf[16];
        ipc_sysv_info info;
        CHK(become_nobody() == 0);
        CHKEQ(ipc_sysv_open(key, 0, 0), -EACCES);
        CHKEQ(ipc_sysv_open(key, IPC_O_CREATE, 0), -EACCES);
        CHKEQ(ipc_sysv_send(id, 1, "x", 1, 0), -EACCES);
        CHKEQ(ipc_sysv_send(id, 1, "x", 1, 100), -EACCES);
        CHKEQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, 0), -EACCES);
        CHKEQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, 100), -EACCES);
        CHKEQ(ipc_sysv_peek(id, 0, NULL, buf, sizeof buf), -EACCES);
        CHKEQ(ipc_sysv_stat(id, &info), -EACCES);
        CHKEQ(ipc_sysv_set_max_bytes(id, 100), -EACCES);
        CHKEQ(ipc_sysv_remove(id), -EPERM);
        _exit(0);
    }
    assert_child_ok(pid, 5000, "uid 65534");
    EQ(sysv_info(id).messages, 1);
    EQ(sysv_info(id).max_bytes, msgmnb());
    sysv_expect(id, 0, 0, 1, "mine");
}

/* ==== 3c. System V: messages ============================================== */

MQ_TEST(mq_sysv, send_type_below_1_is_einval_and_queues_nothing) {
    int id = sysv_private();
    EQ(ipc_sysv_send(id, 0, "x", 1, 0), -EINVAL);
    EQ(ipc_sysv_send(id, -1, "x", 1, 0), -EINVAL);
    EQ(ipc_sysv_send(id, LONG_MIN, "x", 1, -1), -EINVAL);
    EQ(sysv_info(id).messages, 0);
}

MQ_TEST(mq_sysv, send_recv_round_trip_is_byte_exact_with_its_type) {
    int id = sysv_private();
    size_t max = (size_t)msgmax();
    uint8_t *big = (uint8_t *)guarded_alloc(max), *buf = (uint8_t *)guarded_alloc(max);
    long type = 0;
    cr_assert(big && buf);
    msg_make(big, 5, (uint32_t)max);
    EQ(ipc_sysv_send(id, 1, NULL, 0, 0), 0);
    EQ(ipc_sysv_send(id, LONG_MAX, "\0", 1, 0), 0);
    EQ(ipc_sysv_send(id, 42, big, max, -1), 0);
    EQ(sysv_info(id).bytes, max + 1);
    EQ(ipc_sysv_recv(id, 0, 0, &type, NULL, 0, 0), 0);
    EQ(type, 1);
    EQ(ipc_sysv_recv(id, 0, 0, &type, buf, max, 0), 1);
    EQ(type, LONG_MAX);
    EQ(buf[0], 0);
    EQ(ipc_sysv_recv(id, 0, 0, &type, buf, max, -1), (long long)max);
    EQ(type, 42);
    cr_assert(msg_check(buf, max, 5), "the msgmax-byte message differs");
    EQ(sysv_info(id).messages, 0);
    guarded_free(big, max), guarded_free(buf, max);
}

MQ_TEST(mq_sysv, send_over_msgmax_is_emsgmax_at_once_for_every_timeout) {
    int id = sysv_private();
    size_t max = (size_t)msgmax();
    uint8_t *big = (uint8_t *)calloc(1, max + 1);
    int64_t t0 = ipc_now_ns();
    cr_assert(big != NULL);
    EQ(ipc_sysv_send(id, 1, big, max + 1, 0), IPC_EMSGMAX);
    EQ(ipc_sysv_send(id, 1, big, max + 1, 100), IPC_EMSGMAX);
    EQ(ipc_sysv_send(id, 1, big, max + 1, -1), IPC_EMSGMAX);
    IN_MS(elapsed_ms(t0), 0, 1000);
    EQ(sysv_info(id).messages, 0);
    EQ(ipc_sysv_send(id, 1, big, max, 0), 0); /* exactly msgmax fits */
    free(big);
}

/* Over 8 KiB the payload is assembled in one IPC_MALLOC: its failure is
   -ENOMEM with nothing sent; up to 8 KiB no allocation happens at all. */
MQ_TEST(mq_sysv, send_over_8kib_with_the_allocation_failing_is_enomem) {
    int id = sysv_private();
    static uint8_t buf[8193];
    unsigned long before;
    before = ipc_test.allocs;
    ipc_test.alloc_fail_at = before + 1;
    if (msgmax() > 8192) { /* a message this long is allowed: its buffer is allocated */
        EQ(ipc_sysv_send(id, 1, buf, 8193, 0), -ENOMEM);
        EQ(ipc_test.allocs - before, 1);
        before++;
    } else { /* not allowed at all: said before any allocation */
        EQ(ipc_sysv_send(id, 1, buf, 8193, 0), IPC_EMSGMAX);
        EQ(ipc_test.allocs - before, 0);
    }
    EQ(ipc_sysv_send(id, 1, buf, 8192, 0), 0); /* the stack path: no allocation */
    EQ(ipc_test.allocs - before, 0);
    ipc_test.alloc_fail_at = 0;
    EQ(sysv_info(id).messages, 1);
    EQ(sysv_info(id).bytes, 8192);
}

MQ_TEST(mq_sysv, send_of_8193_bytes_maps_the_kernels_einval_to_emsgmax) {
    int id = sysv_private();
    static uint8_t buf[8193];
    unsigned long before = ipc_test.allocs;
    if (msgmax() > 8192) cr_skip_test("kernel.msgmax is above 8192 here");
    EQ(ipc_sysv_send(id, 1, buf, 8193, 0), IPC_EMSGMAX);
    EQ(ipc_test.allocs - before, 0); /* refused before allocating a buffer for it */
    EQ(sysv_info(id).messages, 0);
}

MQ_TEST(mq_sysv, recv_into_a_large_buffer_allocates_at_most_msgmax) {
    int id = sysv_private();
    static uint8_t buf[1 << 20];
    unsigned long before = ipc_test.allocs;
    long type = 0;
    sysv_put(id, 6, "stays");
    ipc_test.alloc_fail_at = before + 1;
    if (msgmax() > 8192) { /* the buffer past the stack's 8 KiB is allocated: failure leaves the message */
        EQ(ipc_sysv_recv(id, 0, 0, &type, buf, sizeof buf, 0), -ENOMEM);
        ipc_test.alloc_fail_at = ipc_test.allocs + 1;
        EQ(ipc_sysv_recv(id, 4, IPC_SYSV_TRUNCATE, &type, buf, sizeof buf, -1), -ENOMEM);
        ipc_test.alloc_fail_at = 0;
        EQ(sysv_info(id).messages, 1);
    } else { /* no message can outgrow the stack buffer: a 1 MiB cap allocates nothing */
        EQ(ipc_sysv_recv(id, 0, 0, &type, buf, sizeof buf, 0), 5);
        EQ(ipc_test.allocs - before, 0);
        EQ(type, 6);
        EQ(memcmp(buf, "stays", 5), 0);
        ipc_test.alloc_fail_at = 0;
        sysv_put(id, 6, "stays");
    }
    EQ(ipc_sysv_recv(id, 0, 0, &type, buf, sizeof buf, 0), 5);
    EQ(type, 6);
}

/* ==== 3c. System V: type selection ======================================== */

/* The queue every selection test starts from: types 5 3 7 3 1 2. */
static int sysv_typed_queue(void) {
    int id = sysv_private();
    sysv_put(id, 5, "m0");
    sysv_put(id, 3, "m1");
    sysv_put(id, 7, "m2");
    sysv_put(id, 3, "m3");
    sysv_put(id, 1, "m4");
    sysv_put(id, 2, "m5");
    return id;
}

MQ_TEST(mq_sysv, recv_select_0_takes_messages_in_fifo_order) {
    int id = sysv_typed_queue();
    sysv_expect(id, 0, 0, 5, "m0");
    sysv_expect(id, 0, 0, 3, "m1");
    sysv_expect(id, 0, 0, 7, "m2");
    sysv_expect(id, 0, 0, 3, "m3");
    sysv_expect(id, 0, 0, 1, "m4");
    sysv_expect(id, 0, 0, 2, "m5");
    EQ(sysv_info(id).messages, 0);
}

MQ_TEST(mq_sysv, recv_select_positive_takes_the_first_of_that_type) {
    int id = sysv_typed_queue();
    char buf[8];
    sysv_expect(id, 3, 0, 3, "m1");
    sysv_expect(id, 3, 0, 3, "m3");
    EQ(ipc_sysv_recv(id, 3, 0, NULL, buf, sizeof buf, 0), -EAGAIN);
    sysv_expect(id, 2, 0, 2, "m5");
    sysv_expect(id, 0, 0, 5, "m0"); /* the rest, in order */
    sysv_expect(id, 0, 0, 7, "m2");
    sysv_expect(id, 0, 0, 1, "m4");
}

MQ_TEST(mq_sysv, recv_select_negative_takes_the_lowest_type_up_to_n) {
    int id = sysv_typed_queue();
    char buf[8];
    sysv_expect(id, -4, 0, 1, "m4");
    sysv_expect(id, -4, 0, 2, "m5");
    sysv_expect(id, -4, 0, 3, "m1");
    sysv_expect(id, -4, 0, 3, "m3");
    EQ(ipc_sysv_recv(id, -4, 0, NULL, buf, sizeof buf, 0), -EAGAIN); /* only 5 and 7 left */
    sysv_expect(id, -7, 0, 5, "m0");
    sysv_expect(id, LONG_MIN, 0, 7, "m2"); /* -LONG_MIN: every type */
    EQ(sysv_info(id).messages, 0);
}

MQ_TEST(mq_sysv, recv_except_takes_the_first_of_any_other_type) {
    int id = sysv_typed_queue();
    sysv_expect(id, 5, IPC_SYSV_EXCEPT, 3, "m1");
    sysv_expect(id, 3, IPC_SYSV_EXCEPT, 5, "m0");
    sysv_expect(id, 3, IPC_SYSV_EXCEPT, 7, "m2");
    sysv_expect(id, 3, IPC_SYSV_EXCEPT, 1, "m4");
    sysv_expect(id, 3, IPC_SYSV_EXCEPT, 2, "m5");
    {
        char buf[8];
        EQ(ipc_sysv_recv(id, 3, IPC_SYSV_EXCEPT, NULL, buf, sizeof buf, 0), -EAGAIN); /* only type 3 left */
    }
    EQ(sysv_info(id).messages, 1);
}

MQ_TEST(mq_sysv, recv_except_without_a_positive_select_is_einval) {
    int id = sysv_typed_queue();
    char buf[8];
    EQ(ipc_sysv_recv(id, 0, IPC_SYSV_EXCEPT, NULL, buf, sizeof buf, 0), -EINVAL);
    EQ(ipc_sysv_recv(id, -3, IPC_SYSV_EXCEPT, NULL, buf, sizeof buf, -1), -EINVAL);
    EQ(sysv_info(id).messages, 6);
}

MQ_TEST(mq_sysv, recv_of_an_absent_type_try_is_eagain_timed_is_etimedout_in_time) {
    int id = sysv_typed_queue();
    char buf[8];
    int64_t t0 = ipc_now_ns();
    EQ(ipc_sysv_recv(id, 9, 0, NULL, buf, sizeof buf, 0), -EAGAIN);
    IN_MS(elapsed_ms(t0), 0, 500);
    t0 = ipc_now_ns();
    EQ(ipc_sysv_recv(id, 9, 0, NULL, buf, sizeof buf, 100), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 100, 1500);
    EQ(sysv_info(id).messages, 6);
}

/* A dispatcher and three workers, each taking only its own type. */
MQ_TEST(mq_sysv, workers_in_children_take_only_their_own_types) {
    enum { WORKERS = 3, EACH = 20 };
    int id = sysv_private();
    pid_t pid[WORKERS];
    int w, i;
    for (w = 0; w < WORKERS; w++) {
        pid[w] = fork_child();
        if (pid[w] == 0) {
            for (i = 0; i < EACH; i++) {
                char buf[32], want[32];
                long type = 0;
                ssize_t n = ipc_sysv_recv(id, w + 1, 0, &type, buf, sizeof buf, 5000);
                int len = snprintf(want, sizeof want, "job %d.%d", w + 1, i);
                CHKEQ(n, len);
                CHKEQ(type, w + 1);
                CHK(memcmp(buf, want, (size_t)len) == 0);
            }
            _exit(0);
        }
    }
    for (i = 0; i < EACH; i++)
        for (w = 0; w < WORKERS; w++) {
            char job[32];
            int len = snprintf(job, sizeof job, "job %d.%d", w + 1, i);
            EQ(ipc_sysv_send(id, w + 1, job, (size_t)len, 5000), 0);
        }
    for (w = 0; w < WORKERS; w++) assert_child_ok(pid[w], 10000, "worker");
    EQ(sysv_info(id).messages, 0);
}

/* ==== 3c. System V: truncation and peek =================================== */

MQ_TEST(mq_sysv, recv_of_a_longer_message_without_truncate_is_e2big_and_it_stays_queued) {
    int id = sysv_private();
    uint8_t msg[100], buf[100];
    long type = 0;
    int64_t t0;
    msg_make(msg, 9, sizeof msg);
    EQ(ipc_sysv_send(id, 4, msg, sizeof msg, 0), 0);
    EQ(ipc_sysv_recv(id, 0, 0, &type, buf, 10, 0), -E2BIG);
    t0 = ipc_now_ns();
    EQ(ipc_sysv_recv(id, 0, 0, &type, buf, 99, 1000), -E2BIG); /* at once, not after the timeout */
    EQ(ipc_sysv_recv(id, 4, 0, &type, buf, 99, -1), -E2BIG);
    IN_MS(elapsed_ms(t0), 0, 500);
    EQ(sysv_info(id).messages, 1);
    EQ(sysv_info(id).bytes, 100);
    EQ(ipc_sysv_recv(id, 0, 0, &type, buf, sizeof buf, 0), 100);
    EQ(type, 4);
    cr_assert(msg_check(buf, 100, 9));
}

MQ_TEST(mq_sysv, recv_truncate_cuts_to_cap_and_drops_the_rest) {
    int id = sysv_private();
    uint8_t msg[100], *buf = (uint8_t *)guarded_alloc(10);
    long type = 0;
    msg_make(msg, 3, sizeof msg);
    EQ(ipc_sysv_send(id, 8, msg, sizeof msg, 0), 0);
    EQ(ipc_sysv_send(id, 2, "short", 5, 0), 0);
    EQ(ipc_sysv_recv(id, 0, IPC_SYSV_TRUNCATE, &type, buf, 10, 0), 10);
    EQ(type, 8);
    cr_assert(memcmp(buf, msg, 10) == 0);
    EQ(sysv_info(id).messages, 1);
    EQ(sysv_info(id).bytes, 5); /* the other 90 bytes are gone */
    EQ(ipc_sysv_recv(id, 0, IPC_SYSV_TRUNCATE, &type, buf, 10, 0), 5); /* shorter: whole */
    cr_assert(memcmp(buf, "short", 5) == 0);
    EQ(ipc_sysv_send(id, 1, "gone", 4, 0), 0);
    EQ(ipc_sysv_recv(id, 0, IPC_SYSV_TRUNCATE, &type, NULL, 0, 0), 0); /* cap 0: type only */
    EQ(type, 1);
    EQ(sysv_info(id).messages, 0);
    guarded_free(buf, 10);
}

MQ_TEST(mq_sysv, peek_copies_by_index_and_leaves_the_queue_alone) {
    int id = sysv_private();
    char buf[16];
    long type = 0;
    ssize_t n;
    sysv_put(id, 4, "alpha");
    sysv_put(id, 2, "beta");
    sysv_put(id, 9, "gamma");
    n = ipc_sysv_peek(id, 2, &type, buf, sizeof buf);
    if (n == -ENOSYS) cr_skip_test("MSG_COPY not in this kernel");
    EQ(n, 5);
    EQ(type, 9);
    cr_assert(memcmp(buf, "gamma", 5) == 0);
    EQ(ipc_sysv_peek(id, 0, &type, buf, sizeof buf), 5);
    EQ(type, 4);
    cr_assert(memcmp(buf, "alpha", 5) == 0);
    EQ(ipc_sysv_peek(id, 1, NULL, buf, sizeof buf), 4);
    cr_assert(memcmp(buf, "beta", 4) == 0);
    EQ(ipc_sysv_peek(id, 1, &type, buf, sizeof buf), 4); /* again: same copy */
    EQ(type, 2);
    EQ(sysv_info(id).messages, 3);
    EQ(sysv_info(id).bytes, 14);
    sysv_expect(id, 0, 0, 4, "alpha");
    sysv_expect(id, 0, 0, 2, "beta");
    sysv_expect(id, 0, 0, 9, "gamma");
}

MQ_TEST(mq_sysv, peek_past_the_end_is_enomsg_negative_index_einval_small_buffer_e2big) {
    int id = sysv_private();
    char buf[16];
    long type = 0;
    int64_t t0 = ipc_now_ns();
    ssize_t n = ipc_sysv_peek(id, 0, &type, buf, sizeof buf);
    if (n == -ENOSYS) cr_skip_test("MSG_COPY not in this kernel");
    EQ(n, -ENOMSG); /* empty queue: at once, never waits */
    sysv_put(id, 1, "one");
    sysv_put(id, 2, "two!");
    EQ(ipc_sysv_peek(id, 2, &type, buf, sizeof buf), -ENOMSG);
    EQ(ipc_sysv_peek(id, 1000, &type, buf, sizeof buf), -ENOMSG);
    EQ(ipc_sysv_peek(id, -1, &type, buf, sizeof buf), -EINVAL);
    EQ(ipc_sysv_peek(id, 1, &type, buf, 3), -E2BIG);
    IN_MS(elapsed_ms(t0), 0, 500);
    EQ(sysv_info(id).messages, 2);
    EQ(ipc_sysv_peek(id, 1, &type, buf, 4), 4);
    sysv_expect(id, 0, 0, 1, "one");
    sysv_expect(id, 0, 0, 2, "two!");
}

/* ==== 3c. System V: stat and capacity ===================================== */

MQ_TEST(mq_sysv, stat_reports_depth_bytes_capacity_pids_owner_and_times) {
    int id = sysv_private();
    ipc_sysv_info info = sysv_info(id);
    int64_t now = (int64_t)time(NULL);
    pid_t pid;
    char buf[16];
    EQ(info.messages, 0);
    EQ(info.bytes, 0);
    EQ(info.max_bytes, msgmnb());
    EQ(info.last_send_pid, 0);
    EQ(info.last_recv_pid, 0);
    EQ(info.send_time, 0);
    EQ(info.recv_time, 0);
    cr_assert(info.change_time >= now - 5 && info.change_time <= now + 5, "change_time %lld", (long long)info.change_time);
    EQ(info.uid, geteuid());
    EQ(info.mode, 0600);
    pid = fork_child();
    if (pid == 0) {
        CHKEQ(ipc_sysv_send(id, 1, "0123456789", 10, 1000), 0);
        _exit(0);
    }
    assert_child_ok(pid, 5000, "sender");
    info = sysv_info(id);
    EQ(info.messages, 1);
    EQ(info.bytes, 10);
    EQ(info.last_send_pid, pid);
    cr_assert(info.send_time >= now - 5 && info.send_time <= now + 5);
    EQ(info.recv_time, 0);
    EQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, 0), 10);
    info = sysv_info(id);
    EQ(info.messages, 0);
    EQ(info.bytes, 0);
    EQ(info.last_recv_pid, getpid());
    cr_assert(info.recv_time >= now - 5 && info.recv_time <= now + 5);
}

/* msg_qbytes: lowering is always allowed and bounds the queue; raising
   above kernel.msgmnb needs CAP_SYS_RESOURCE (-EPERM here). */
MQ_TEST(mq_sysv, set_max_bytes_lowers_capacity_and_raising_past_msgmnb_is_eperm) {
    int id = sysv_private();
    static uint8_t buf[128];
    long mnb = msgmnb();
    EQ(ipc_sysv_set_max_bytes(id, 100), 0);
    EQ(sysv_info(id).max_bytes, 100);
    EQ(ipc_sysv_send(id, 1, buf, 101, 0), -EAGAIN); /* larger than the whole queue */
    EQ(ipc_sysv_send(id, 1, buf, 100, 0), 0);
    EQ(ipc_sysv_send(id, 1, buf, 1, 0), -EAGAIN);
    EQ(sysv_info(id).messages, 1);
    EQ(ipc_sysv_set_max_bytes(id, (size_t)mnb + 1), -EPERM);
    EQ(sysv_info(id).max_bytes, 100);
    EQ(ipc_sysv_set_max_bytes(id, (size_t)mnb), 0);
    EQ(sysv_info(id).max_bytes, mnb);
    EQ(ipc_sysv_send(id, 1, buf, 1, 0), 0);
}

/* ==== 3c. System V: waiting =============================================== */

/* Full at msgmnb (16384 B): a 1-byte try send is -EAGAIN and queues nothing. */
MQ_TEST(mq_sysv, full_queue_try_send_is_eagain_and_queues_nothing) {
    int id = sysv_private();
    ipc_sysv_info before, after;
    int64_t t0;
    sysv_fill(id);
    before = sysv_info(id);
    t0 = ipc_now_ns();
    EQ(ipc_sysv_send(id, 1, "x", 1, 0), -EAGAIN);
    EQ(ipc_sysv_send(id, 2, "x", 1, 0), -EAGAIN);
    IN_MS(elapsed_ms(t0), 0, 500);
    after = sysv_info(id);
    EQ(after.messages, before.messages);
    EQ(after.bytes, before.bytes);
}

MQ_TEST(mq_sysv, full_queue_timed_send_is_etimedout_in_time) {
    int id = sysv_private();
    int64_t t0;
    size_t bytes;
    sysv_fill(id);
    bytes = sysv_info(id).bytes;
    t0 = ipc_now_ns();
    EQ(ipc_sysv_send(id, 1, "x", 1, 100), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 100, 1500);
    EQ(sysv_info(id).bytes, bytes);
}

static void sysv_send_waits_for_room(int timeout_ms) {
    int id = sysv_private();
    int64_t t0;
    pid_t pid;
    size_t first;
    uint8_t *buf = (uint8_t *)malloc((size_t)msgmax());
    long type = 0;
    cr_assert(buf != NULL);
    sysv_fill(id);
    first = sysv_info(id).messages;
    t0 = ipc_now_ns();
    pid = fork_child();
    if (pid == 0) {
        sleep_ms(200);
        CHK(ipc_sysv_recv(id, 0, 0, NULL, buf, (size_t)msgmax(), 1000) > 0);
        _exit(0);
    }
    EQ(ipc_sysv_send(id, 77, "room", 4, timeout_ms), 0);
    IN_MS(elapsed_ms(t0), 195, 4000);
    assert_child_ok(pid, 5000, "receiver");
    EQ(sysv_info(id).messages, first);
    EQ(ipc_sysv_recv(id, 77, 0, &type, buf, (size_t)msgmax(), 0), 4);
    cr_assert(memcmp(buf, "room", 4) == 0);
    free(buf);
}
MQ_TEST(mq_sysv, full_queue_blocking_send_waits_until_a_peer_receives) { sysv_send_waits_for_room(-1); }
MQ_TEST(mq_sysv, full_queue_timed_send_succeeds_when_a_peer_makes_room) { sysv_send_waits_for_room(5000); }

MQ_TEST(mq_sysv, empty_queue_try_recv_is_eagain_timed_is_etimedout_in_time) {
    int id = sysv_private();
    char buf[8];
    int64_t t0 = ipc_now_ns();
    EQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, 0), -EAGAIN);
    IN_MS(elapsed_ms(t0), 0, 500);
    t0 = ipc_now_ns();
    EQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, 100), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 100, 1500);
}

/* The finite timeout polls with sleeps of at most 4 ms: a message sent
   100 ms into a 2000 ms wait is seen long before the 2000 ms. */
MQ_TEST(mq_sysv, message_sent_while_a_receiver_waits_2000_ms_arrives_well_before) {
    int id = sysv_private();
    char buf[8];
    long type = 0;
    int64_t t0 = ipc_now_ns(), ms;
    pid_t pid = fork_child();
    if (pid == 0) {
        sleep_ms(100);
        CHKEQ(ipc_sysv_send(id, 12, "soon", 4, 1000), 0);
        _exit(0);
    }
    EQ(ipc_sysv_recv(id, 0, 0, &type, buf, sizeof buf, 2000), 4);
    ms = elapsed_ms(t0);
    IN_MS(ms, 100, 1000);
    EQ(type, 12);
    cr_assert(memcmp(buf, "soon", 4) == 0);
    assert_child_ok(pid, 5000, "sender");
}

static int64_t thread_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* System V has no timed msgrcv/msgsnd: the finite wait polls with sleeps
   of up to 4 ms. Over 500 ms that must cost little CPU, not a spin. */
MQ_TEST(mq_sysv, timed_waits_do_not_busy_wait_the_cpu) {
    int id = sysv_private();
    char buf[8];
    int64_t cpu0 = thread_cpu_ms(), t0 = ipc_now_ns();
    EQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, 500), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 500, 2000);
    sysv_fill(id);
    t0 = ipc_now_ns();
    EQ(ipc_sysv_send(id, 1, "x", 1, 500), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 500, 2000);
    cr_assert(thread_cpu_ms() - cpu0 < 150, "1 s of timed waiting cost %lld ms of CPU",
              (long long)(thread_cpu_ms() - cpu0));
}

MQ_TEST(mq_sysv, blocking_recv_survives_signals_without_sa_restart) {
    int id = sysv_private();
    char buf[8];
    pid_t pid = fork_child();
    if (pid == 0) {
        sleep_ms(300);
        CHKEQ(ipc_sysv_send(id, 1, "late", 4, 1000), 0);
        _exit(0);
    }
    itimer_start(2000);
    EQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, -1), 4);
    itimer_stop();
    cr_assert(memcmp(buf, "late", 4) == 0);
    cr_assert(alarm_count > 10, "only %d signals arrived", (int)alarm_count);
    assert_child_ok(pid, 5000, "sender");
}

MQ_TEST(mq_sysv, timed_recv_under_signals_still_times_out_in_time) {
    int id = sysv_private();
    char buf[8];
    int64_t t0;
    itimer_start(2000);
    t0 = ipc_now_ns();
    EQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, 300), -ETIMEDOUT);
    IN_MS(elapsed_ms(t0), 300, 1500);
    itimer_stop();
    cr_assert(alarm_count > 10, "only %d signals arrived", (int)alarm_count);
}

MQ_TEST(mq_sysv, nothing_lost_300_messages_across_processes_with_backpressure) {
    enum { N = 300 };
    int id = sysv_private();
    size_t max = (size_t)msgmax();
    uint8_t *buf = (uint8_t *)guarded_alloc(max);
    uint32_t seq;
    pid_t pid = fork_child();
    if (pid == 0) {
        uint8_t *m = (uint8_t *)malloc(max);
        CHK(m != NULL);
        for (seq = 0; seq < N; seq++) {
            uint32_t len = 12 + (seq * 997u) % (uint32_t)(max - 11);
            msg_make(m, seq, len);
            CHKEQ(ipc_sysv_send(id, 1 + seq % 3, m, len, -1), 0);
        }
        free(m);
        _exit(0);
    }
    for (seq = 0; seq < N; seq++) {
        uint32_t len = 12 + (seq * 997u) % (uint32_t)(max - 11);
        long type = 0;
        ssize_t n = ipc_sysv_recv(id, 0, 0, &type, buf, max, 5000);
        EQ(n, len);
        EQ(type, 1 + seq % 3);
        cr_assert(msg_check(buf, (size_t)n, seq), "message %u corrupt or out of order", seq);
    }
    assert_child_ok(pid, 5000, "sender");
    EQ(sysv_info(id).messages, 0);
    guarded_free(buf, max);
}

/* ==== 3c. System V: removal =============================================== */

/* Two receivers wait, one forever and one with a 5 s timeout; removing the
   queue wakes both with -EIDRM, long before 5 s. */
MQ_TEST(mq_sysv, remove_wakes_blocked_receivers_with_eidrm) {
    int id = sysv_private();
    static const int timeouts[2] = {-1, 5000};
    pid_t pid[2];
    gate g;
    int k;
    gate_make(&g);
    for (k = 0; k < 2; k++) {
        pid[k] = fork_child();
        if (pid[k] == 0) {
            char buf[8];
            int64_t t0;
            gate_pass(&g);
            t0 = ipc_now_ns();
            CHKEQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, timeouts[k]), -EIDRM);
            CHK(elapsed_ms(t0) < 3000);
            _exit(0);
        }
    }
    gate_wait(&g, 2);
    sleep_ms(200);
    sysv_rm(id);
    assert_child_ok(pid[0], 5000, "receiver waiting forever");
    assert_child_ok(pid[1], 5000, "receiver with a timeout");
    gate_close(&g);
    FD_CHECK();
}

MQ_TEST(mq_sysv, remove_wakes_blocked_senders_with_eidrm) {
    int id = sysv_private();
    static const int timeouts[2] = {-1, 5000};
    pid_t pid[2];
    gate g;
    int k;
    sysv_fill(id);
    gate_make(&g);
    for (k = 0; k < 2; k++) {
        pid[k] = fork_child();
        if (pid[k] == 0) {
            int64_t t0;
            gate_pass(&g);
            t0 = ipc_now_ns();
            CHKEQ(ipc_sysv_send(id, 1, "blocked", 7, timeouts[k]), -EIDRM);
            CHK(elapsed_ms(t0) < 3000);
            _exit(0);
        }
    }
    gate_wait(&g, 2);
    sleep_ms(200);
    sysv_rm(id);
    assert_child_ok(pid[0], 5000, "sender waiting forever");
    assert_child_ok(pid[1], 5000, "sender with a timeout");
    gate_close(&g);
    FD_CHECK();
}

/* After removal every call is -EINVAL (the id names nothing), at once. */
MQ_TEST(mq_sysv, calls_on_a_removed_queue_are_einval_at_once) {
    int id = sysv_private();
    char buf[8];
    ipc_sysv_info info;
    int64_t t0;
    sysv_rm(id);
    t0 = ipc_now_ns();
    EQ(ipc_sysv_send(id, 1, "x", 1, 0), -EINVAL);
    EQ(ipc_sysv_send(id, 1, "x", 1, 1000), -EINVAL);
    EQ(ipc_sysv_send(id, 1, "x", 1, -1), -EINVAL);
    EQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, 0), -EINVAL);
    EQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, 1000), -EINVAL);
    EQ(ipc_sysv_recv(id, 0, 0, NULL, buf, sizeof buf, -1), -EINVAL);
    EQ(ipc_sysv_peek(id, 0, NULL, buf, sizeof buf), -EINVAL);
    EQ(ipc_sysv_stat(id, &info), -EINVAL);
    EQ(ipc_sysv_set_max_bytes(id, 100), -EINVAL);
    EQ(ipc_sysv_remove(id), -EINVAL);
    IN_MS(elapsed_ms(t0), 0, 500);
}

/* In a private IPC namespace with msgmni 2: the third queue is refused with
   IPC_EMSGMNI; room again once one is removed. */
MQ_TEST(mq_sysv, open_past_msgmni_is_emsgmni) {
    pid_t pid = fork_child();
    int st;
    if (pid == 0) {
        int a, b;
        if (private_ipc_ns_with("/proc/sys/kernel/msgmni", "2") < 0) _exit(77);
        a = ipc_sysv_open(IPC_PRIVATE, IPC_O_CREATE, 0);
        b = ipc_sysv_open(IPC_PRIVATE, IPC_O_CREATE, 0);
        CHK(a >= 0 && b >= 0);
        CHKEQ(ipc_sysv_open(IPC_PRIVATE, IPC_O_CREATE, 0), IPC_EMSGMNI);
        CHKEQ(ipc_sysv_open((key_t)0x1234, IPC_O_CREATE | IPC_O_EXCL, 0), IPC_EMSGMNI);
        CHKEQ(ipc_sysv_remove(a), 0);
        CHK(ipc_sysv_open(IPC_PRIVATE, IPC_O_CREATE, 0) >= 0);
        _exit(0);
    }
    st = child_status(pid, 10000, "msgmni");
    if (st == 77) cr_skip_test("unshare(CLONE_NEWIPC) refused here");
    EQ(st, 0);
}
