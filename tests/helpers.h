/* Shared helpers for the Criterion unit tests: guard-page buffers, CRC32,
   self-checking test messages, and an open-fd snapshot for leak checks.
   Header-only (static functions) so each test file stands alone. */
#ifndef IPC_TEST_HELPERS_H
#define IPC_TEST_HELPERS_H

#include "ipc.h"
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* n bytes that end exactly at a PROT_NONE page: reading or writing one byte
   past the end faults at once. Free with guarded_free(p, n). */
static inline void *guarded_alloc(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = (n + page - 1) / page * page;
    uint8_t *base = (uint8_t *)mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    mprotect(base + span, page, PROT_NONE);
    return base + span - n;
}
static inline void guarded_free(void *p, size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = (n + page - 1) / page * page;
    munmap((uint8_t *)p + n - span, span + page);
}
/* A guarded copy of bytes, for feeding decoders. */
static inline uint8_t *guarded_copy(const void *src, size_t n) {
    uint8_t *p = (uint8_t *)guarded_alloc(n);
    if (p && n) memcpy(p, src, n);
    return p;
}

static inline uint32_t crc32_bytes(const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

/* A self-checking test message: seq (4 bytes BE), length (4), CRC32 of the
   filler (4), then filler derived from seq. len >= 12. */
static inline void msg_make(uint8_t *buf, uint32_t seq, uint32_t len) {
    uint32_t i, crc;
    for (i = 12; i < len; i++) buf[i] = (uint8_t)(seq * 31u + i * 7u + (i >> 8));
    crc = crc32_bytes(buf + 12, len - 12);
    buf[0] = (uint8_t)(seq >> 24), buf[1] = (uint8_t)(seq >> 16), buf[2] = (uint8_t)(seq >> 8), buf[3] = (uint8_t)seq;
    buf[4] = (uint8_t)(len >> 24), buf[5] = (uint8_t)(len >> 16), buf[6] = (uint8_t)(len >> 8), buf[7] = (uint8_t)len;
    buf[8] = (uint8_t)(crc >> 24), buf[9] = (uint8_t)(crc >> 16), buf[10] = (uint8_t)(crc >> 8), buf[11] = (uint8_t)crc;
}
static inline uint32_t be32_at(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
/* 1 when buf[0..n) is the message msg_make(seq, n) would make. */
static inline int msg_check(const uint8_t *buf, size_t n, uint32_t seq) {
    return n >= 12 && be32_at(buf) == seq && be32_at(buf + 4) == n && be32_at(buf + 8) == crc32_bytes(buf + 12, n - 12);
}

/* The set of open fds, as a bitmap of the first 1024. */
typedef struct fdset_snap {
    uint8_t open[1024];
} fdset_snap;
static inline void fdset_take(fdset_snap *s) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int self = d ? dirfd(d) : -1;
    memset(s, 0, sizeof *s);
    while (d && (e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != self && fd >= 0 && fd < 1024) s->open[fd] = 1;
    }
    if (d) closedir(d);
}
/* The lowest fd open now that was not open in before, or -1. */
static inline int fdset_leaked(const fdset_snap *before) {
    fdset_snap now;
    int i;
    fdset_take(&now);
    for (i = 0; i < 1024; i++)
        if (now.open[i] && !before->open[i]) return i;
    return -1;
}

/* ---- children (Criterion tests only) ---------------------------------------- */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

/* Sleeps ms milliseconds, through signals. */
static inline void sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* fork(); the child dies with the test and starts with no faults. */
static inline pid_t fork_child(void) {
    pid_t parent = getpid(), pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(99);
        memset(&ipc_test, 0, sizeof ipc_test);
    }
    return pid;
}
/* Reaps pid within timeout_ms, killing it when the time runs out.
   Returns the wait status, or -1 when it had to be killed. */
static inline int wait_child(pid_t pid, int timeout_ms) {
    int64_t end = ipc_now_ns() + (int64_t)timeout_ms * 1000000;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return st;
        if (r < 0 && errno != EINTR) return -2;
        if (ipc_now_ns() >= end) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
            }
            return -1;
        }
        sleep_ms(2);
    }
}
static inline void assert_child_ok(pid_t pid, int timeout_ms, const char *what) {
    int st = wait_child(pid, timeout_ms);
    cr_assert(st >= 0, "%s: the child did not finish within %d ms", what, timeout_ms);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: the child %s %d", what,
              WIFEXITED(st) ? "exited with status" : "was killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

#endif
