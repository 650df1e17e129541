/* Unit tests for section 2 of ipc.h, robust I/O: ipc_write_all,
   ipc_writev_all, ipc_read_full, ipc_read_some, ipc_wait_fd,
   ipc_fd_set_nonblock, the deadline helpers, ipc_send_frame /
   ipc_recv_frame, ipc_reader and ipc_sender.

   Everything runs over real pipes and AF_UNIX stream socketpairs, with the
   peer in a fork()ed child where the two sides must run at once. Faults come
   from the IPC_TEST_HOOKS build of tests/impl.c (short counts, EINTR at call
   N, allocation failure at call N) and from real signals (a 1 ms itimer
   whose handler is installed without SA_RESTART). Children always _exit and
   die with the test (PR_SET_PDEATHSIG); parents reap them with a bounded
   wait. Every test checks that it leaks no descriptor.

   Build alone:
     gcc -std=c11 -g -O1 -Wall -Wextra -Wpedantic -Werror -DIPC_TEST_HOOKS -I. \
         -o /tmp/io_unit tests/test_io.c tests/impl.c -lcriterion -pthread */
#define _GNU_SOURCE
#include "helpers.h"
#include "ipc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define IO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IO_ASAN 1
#endif
#endif
#ifdef IO_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#define MIB ((size_t)1 << 20)

/* ==== small helpers ======================================================= */

static int64_t elapsed_ms(int64_t t0_ns) { return (ipc_now_ns() - t0_ns) / 1000000; }


/* Table CRC-32, the polynomial of crc32_bytes, fast enough for 64 MiB. */
static uint32_t crc_tab[256];
static void crc_tab_init(void) {
    uint32_t i;
    int k;
    if (crc_tab[1]) return;
    for (i = 0; i < 256; i++) {
        uint32_t c = i;
        for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
        crc_tab[i] = c;
    }
}
static uint32_t crc_more(uint32_t state, const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    size_t i;
    for (i = 0; i < n; i++) state = (state >> 8) ^ crc_tab[(state ^ p[i]) & 0xFF];
    return state;
}
static uint32_t crc_fast(const void *data, size_t n) {
    crc_tab_init();
    return ~crc_more(0xFFFFFFFFu, data, n);
}

/* n pseudo-random bytes from seed (xorshift64). */
static uint8_t *pattern_new(size_t n, uint64_t seed) {
    uint8_t *p = (uint8_t *)malloc(n ? n : 1);
    uint64_t x = seed | 1;
    size_t i;
    cr_assert(p != NULL, "malloc(%zu)", n);
    for (i = 0; i < n; i += 8) {
        size_t k = n - i < 8 ? n - i : 8;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(p + i, &x, k);
    }
    return p;
}

static uint32_t mix32(uint32_t x) {
    x ^= x >> 16, x *= 0x7feb352du, x ^= x >> 15, x *= 0x846ca68bu, x ^= x >> 16;
    return x;
}

/* Descriptor-leak guard around a test body. */
#define FD_GUARD_BEGIN()                                                                                               \
    fdset_snap fd_before_;                                                                                             \
    fdset_take(&fd_before_)
#define FD_GUARD_END()                                                                                                 \
    do {                                                                                                               \
        int leaked_ = fdset_leaked(&fd_before_);                                                                       \
        cr_assert(leaked_ == -1, "descriptor %d leaked", leaked_);                                                     \
    } while (0)

enum { PIPE_PAIR, SOCK_PAIR };
static const char *kind_name(int kind) { return kind == SOCK_PAIR ? "socketpair" : "pipe"; }

/* A one-way byte stream: *rfd reads what *wfd writes. */
static void make_pair(int kind, int *rfd, int *wfd) {
    int f[2];
    if (kind == SOCK_PAIR)
        cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, f) == 0, "socketpair: %s", strerror(errno));
    else
        cr_assert(pipe(f) == 0, "pipe: %s", strerror(errno));
    *rfd = f[0];
    *wfd = f[1];
}

static void set_nonblock_raw(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    cr_assert(fl >= 0);
    cr_assert(fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) == 0);
}

static size_t fionread(int fd) {
    int n = -1;
    if (ioctl(fd, FIONREAD, &n) < 0) return (size_t)-1;
    return (size_t)n;
}

/* Test-side I/O that does not go through the library under test. */
static int raw_write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = (const uint8_t *)buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && errno == EAGAIN) {
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, 100);
            continue;
        }
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}
/* Reads exactly n bytes within timeout_ms: 0, -ETIMEDOUT, IPC_EOF or -errno. */
static int raw_read_exact(int fd, void *buf, size_t n, int timeout_ms) {
    int64_t end = ipc_now_ns() + (int64_t)timeout_ms * 1000000;
    size_t got = 0;
    while (got < n) {
        struct pollfd pf = {fd, POLLIN, 0};
        int64_t left = (end - ipc_now_ns()) / 1000000;
        ssize_t k;
        int r;
        if (left <= 0) return -ETIMEDOUT;
        r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) return -ETIMEDOUT;
        k = read(fd, (uint8_t *)buf + got, n - got);
        if (k == 0) return IPC_EOF;
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return -errno;
        }
        got += (size_t)k;
    }
    return 0;
}

/* A growable byte buffer, for capturing what a peer end received. */
typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;
static void bytes_add(bytes *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n) cap *= 2;
        b->p = (uint8_t *)realloc(b->p, cap);
        cr_assert(b->p != NULL);
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
/* Reads up to max bytes from a non-blocking fd into b; returns the count. */
static size_t drain_into(int fd, bytes *b, size_t max) {
    uint8_t tmp[16384];
    size_t total = 0;
    while (total < max) {
        size_t want = max - total < sizeof tmp ? max - total : sizeof tmp;
        ssize_t k = read(fd, tmp, want);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        bytes_add(b, tmp, (size_t)k);
        total += (size_t)k;
    }
    return total;
}

/* ---- children ------------------------------------------------------------- */


/* ---- signals -------------------------------------------------------------- */

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
    signal(SIGALRM, SIG_IGN); /* discards a pending one */
    signal(SIGALRM, SIG_DFL);
}

static int sigpipe_pending(void) {
    sigset_t p;
    sigemptyset(&p);
    sigpending(&p);
    return sigismember(&p, SIGPIPE) == 1;
}
static int masks_equal(const sigset_t *a, const sigset_t *b) {
    int s;
    for (s = 1; s < NSIG; s++)
        if (sigismember(a, s) != sigismember(b, s)) return 0;
    return 1;
}
/* SIGPIPE back to what a fresh program has: default action, unblocked, none
   pending. */
static void sigpipe_default(void) {
    sigset_t set;
    struct timespec zero = {0, 0};
    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    while (sigtimedwait(&set, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
typedef struct sig_state {
    struct sigaction pipe_action;
    sigset_t mask;
    int pending;
} sig_state;
static void sig_state_take(sig_state *s) {
    sigaction(SIGPIPE, NULL, &s->pipe_action);
    pthread_sigmask(SIG_BLOCK, NULL, &s->mask);
    s->pending = sigpipe_pending();
}
static void assert_sig_state_same(const sig_state *before, const char *what) {
    sig_state now;
    sig_state_take(&now);
    cr_assert(now.pipe_action.sa_handler == before->pipe_action.sa_handler,
              "%s: the SIGPIPE disposition changed", what);
    cr_assert(masks_equal(&now.mask, &before->mask), "%s: the thread's signal mask changed", what);
    cr_assert(now.pending == before->pending, "%s: SIGPIPE pending %d before, %d after", what, before->pending,
              now.pending);
}

/* ---- test messages -------------------------------------------------------- */

/* The framed battery: lengths 0, 1, 253..256, 4096, 70000 and more; with
   big, three 1 MiB frames among them. */
static const uint32_t small_lens[] = {0, 1, 2, 11, 12, 13, 100, 253, 254, 255, 256, 257, 508, 509, 510, 1000};
#define BATTERY 1000u
static uint32_t battery_len(uint32_t i, int big) {
    if (big && i % 333 == 100) return (uint32_t)MIB;
    if (i % 200 == 77) return 70000;
    if (i % 50 == 3) return 4096;
    return small_lens[(i * 7u) % (sizeof small_lens / sizeof small_lens[0])];
}
static void battery_make(uint8_t *buf, uint32_t seq, uint32_t len) {
    uint32_t k;
    if (len >= 12) {
        msg_make(buf, seq, len);
        return;
    }
    for (k = 0; k < len; k++) buf[k] = (uint8_t)(seq * 13u + k * 5u + 1u);
}
static int battery_check(const uint8_t *p, size_t n, uint32_t seq, int big) {
    uint32_t k;
    if (n != battery_len(seq, big)) return 0;
    if (n >= 12) return msg_check(p, n, seq);
    for (k = 0; k < n; k++)
        if (p[k] != (uint8_t)(seq * 13u + k * 5u + 1u)) return 0;
    return 1;
}

/* The encoded size of a frame. */
static size_t frame_size(ipc_codec codec, const void *payload, size_t n) {
    size_t bound = ipc_frame_bound(codec, n);
    uint8_t *tmp = (uint8_t *)malloc(bound);
    ssize_t k;
    cr_assert(tmp != NULL);
    k = ipc_frame_encode(codec, tmp, bound, payload, n);
    free(tmp);
    cr_assert(k > 0, "ipc_frame_encode: %s", ipc_strerror((int)k));
    return (size_t)k;
}

/* Checks that stream[0..len) holds exactly count msg_make frames with seq
   0..count-1 and lengths lens[], in order, nothing else. */
static void assert_stream_is_frames(ipc_codec codec, const uint8_t *stream, size_t len, const uint32_t *lens,
                                    size_t count) {
    ipc_decoder d;
    size_t off = 0, k = 0;
    ipc_decoder_init(&d, codec, 16 * MIB, NULL, 0);
    while (off < len) {
        size_t used, fl;
        const uint8_t *f;
        int rc = ipc_decoder_feed(&d, stream + off, len - off, &used, &f, &fl);
        off += used;
        cr_assert(rc >= 0, "stream byte %zu: %s", off, ipc_strerror(rc));
        if (rc == 0) break;
        cr_assert(k < count, "the stream holds more frames than the %zu accepted", count);
        cr_assert(fl == lens[k] && msg_check(f, fl, (uint32_t)k),
                  "frame %zu of the stream is not the accepted frame %zu (length %zu, expected %u)", k, k, fl, lens[k]);
        k++;
    }
    cr_assert(ipc_decoder_finish(&d) == 0, "the stream ends inside a frame");
    cr_assert(k == count, "the stream holds %zu frames, %zu were accepted", k, count);
    ipc_decoder_free(&d);
}

/* ==== byte streams across a fork ========================================== */

/* How one side of a transfer runs: faults, timeout, descriptor mode. */
typedef struct side_cfg {
    size_t max_io;
    uint64_t rng;
    unsigned long eintr_at, eintr_every;
    int timeout_ms;
    int nonblock;
    long itimer_us;
} side_cfg;

static void hooks_set(const side_cfg *c) {
    memset(&ipc_test, 0, sizeof ipc_test);
    ipc_test.max_io = c->max_io;
    ipc_test.rng = c->rng;
    ipc_test.eintr_at = c->eintr_at;
    ipc_test.eintr_every = c->eintr_every;
}

/* What the reading child reports back. */
typedef struct read_report {
    int rc;          /* first failure, 0 if none */
    int eof_rc;      /* ipc_read_full of one more byte after the stream */
    size_t eof_done; /* ...and its *done */
    uint64_t bytes;
    uint32_t crc;
    unsigned long io_calls;
    long signals;
} read_report;

typedef struct stream_result {
    int wr_rc;
    size_t wr_done;
    unsigned long wr_calls;
    long wr_signals;
    int64_t ms;
    int report_rc;
    read_report rd;
    int rd_status;
} stream_result;

/* The child: reads n bytes with ipc_read_full in chunks of `chunk`, then
   expects IPC_EOF; reports a CRC of what it read. */
static void stream_child(int fd, int res, size_t n, size_t chunk, const side_cfg *c) {
    read_report rep;
    uint8_t *buf = (uint8_t *)malloc(chunk);
    uint32_t st = 0xFFFFFFFFu;
    memset(&rep, 0, sizeof rep);
    crc_tab_init();
    if (!buf) _exit(20);
    if (c->nonblock && ipc_fd_set_nonblock(fd, 1) != 0) _exit(21);
    hooks_set(c);
    if (c->itimer_us) itimer_start(c->itimer_us);
    while (rep.bytes < n) {
        size_t want = n - rep.bytes < chunk ? n - rep.bytes : chunk, done = 12345;
        int rc = ipc_read_full(fd, buf, want, &done, c->timeout_ms);
        if (done > want) {
            rep.rc = -7777;
            break;
        }
        st = crc_more(st, buf, done);
        rep.bytes += done;
        if (rc != 0 || done != want) {
            rep.rc = rc ? rc : -8888;
            break;
        }
    }
    if (rep.rc == 0) {
        uint8_t x;
        rep.eof_done = 12345;
        rep.eof_rc = ipc_read_full(fd, &x, 1, &rep.eof_done, c->timeout_ms);
    }
    rep.io_calls = ipc_test.io_calls;
    if (c->itimer_us) itimer_stop();
    rep.signals = alarm_count;
    rep.crc = ~st;
    memset(&ipc_test, 0, sizeof ipc_test);
    if (raw_write_all(res, &rep, sizeof rep) != 0) _exit(22);
    _exit(0);
}

typedef int (*writer_fn)(int fd, const uint8_t *data, size_t n, size_t *done, int timeout_ms);
static int writer_write_all(int fd, const uint8_t *data, size_t n, size_t *done, int timeout_ms) {
    return ipc_write_all(fd, data, n, done, timeout_ms);
}

/* Parent writes data[0..n) with `writer` under wr's faults; a forked child
   reads it with ipc_read_full under rd's. */
static stream_result run_stream_with(int kind, const uint8_t *data, size_t n, size_t chunk, const side_cfg *wr,
                                     const side_cfg *rd, writer_fn writer) {
    stream_result r;
    int rfd, wfd, res[2];
    pid_t pid;
    memset(&r, 0, sizeof r);
    make_pair(kind, &rfd, &wfd);
    cr_assert(pipe(res) == 0);
    pid = fork_child();
    if (pid == 0) {
        close(wfd);
        close(res[0]);
        stream_child(rfd, res[1], n, chunk, rd);
    }
    close(rfd);
    close(res[1]);
    if (wr->nonblock) cr_assert(ipc_fd_set_nonblock(wfd, 1) == 0);
    hooks_set(wr);
    if (wr->itimer_us) itimer_start(wr->itimer_us);
    {
        int64_t t0 = ipc_now_ns();
        r.wr_done = 12345;
        r.wr_rc = writer(wfd, data, n, &r.wr_done, wr->timeout_ms);
        r.ms = elapsed_ms(t0);
    }
    r.wr_calls = ipc_test.io_calls;
    if (wr->itimer_us) itimer_stop();
    r.wr_signals = alarm_count;
    memset(&ipc_test, 0, sizeof ipc_test);
    close(wfd);
    r.report_rc = raw_read_exact(res[0], &r.rd, sizeof r.rd, 15000);
    close(res[0]);
    r.rd_status = wait_child(pid, 5000);
    return r;
}
static stream_result run_stream(int kind, const uint8_t *data, size_t n, size_t chunk, const side_cfg *wr,
                                const side_cfg *rd) {
    return run_stream_with(kind, data, n, chunk, wr, rd, writer_write_all);
}

static void assert_stream_intact(const stream_result *r, const uint8_t *data, size_t n, const char *what) {
    cr_assert(r->wr_rc == 0, "%s: ipc_write_all: %s after %zu of %zu bytes", what, ipc_strerror(r->wr_rc), r->wr_done,
              n);
    cr_assert(r->wr_done == n, "%s: *done %zu, wrote %zu", what, r->wr_done, n);
    cr_assert(r->report_rc == 0, "%s: no report from the reading child (%s)", what, ipc_strerror(r->report_rc));
    cr_assert(r->rd_status >= 0 && WIFEXITED(r->rd_status) && WEXITSTATUS(r->rd_status) == 0,
              "%s: the reading child failed (status %d)", what, r->rd_status);
    cr_assert(r->rd.rc == 0, "%s: ipc_read_full: %s (%d) after %llu bytes", what, ipc_strerror(r->rd.rc), r->rd.rc,
              (unsigned long long)r->rd.bytes);
    cr_assert(r->rd.bytes == n, "%s: read %llu of %zu bytes", what, (unsigned long long)r->rd.bytes, n);
    cr_assert(r->rd.crc == crc_fast(data, n), "%s: the stream arrived corrupted (CRC mismatch)", what);
    cr_assert(r->rd.eof_rc == IPC_EOF && r->rd.eof_done == 0,
              "%s: after the stream, read_full gave %s with *done %zu, not IPC_EOF", what, ipc_strerror(r->rd.eof_rc),
              r->rd.eof_done);
}

Test(io, crc_helper_matches_helpers_crc32, .timeout = 20) {
    uint8_t *p = pattern_new(5000, 7);
    cr_assert(crc_fast(p, 5000) == crc32_bytes(p, 5000));
    cr_assert(crc_fast("123456789", 9) == 0xCBF43926u);
    free(p);
}

Test(io, write_all_read_full_8mib_over_pipe_intact, .timeout = 20) {
    FD_GUARD_BEGIN();
    size_t n = 8 * MIB;
    uint8_t *data = pattern_new(n, 1);
    side_cfg wr = {0}, rd = {0};
    stream_result r;
    wr.timeout_ms = rd.timeout_ms = -1;
    r = run_stream(PIPE_PAIR, data, n, n, &wr, &rd); /* one read_full for all 8 MiB */
    assert_stream_intact(&r, data, n, "pipe, blocking, no deadline");
    free(data);
    FD_GUARD_END();
}

Test(io, write_all_read_full_8mib_over_socketpair_intact, .timeout = 20) {
    FD_GUARD_BEGIN();
    size_t n = 8 * MIB;
    uint8_t *data = pattern_new(n, 2);
    side_cfg wr = {0}, rd = {0};
    stream_result r;
    wr.timeout_ms = rd.timeout_ms = -1;
    r = run_stream(SOCK_PAIR, data, n, n, &wr, &rd);
    assert_stream_intact(&r, data, n, "socketpair, blocking, no deadline");
    free(data);
    FD_GUARD_END();
}

Test(io, write_all_read_full_8mib_with_deadlines_and_nonblocking_ends_intact, .timeout = 20) {
    FD_GUARD_BEGIN();
    size_t n = 8 * MIB;
    uint8_t *data = pattern_new(n, 3);
    int kind;
    for (kind = PIPE_PAIR; kind <= SOCK_PAIR; kind++) {
        side_cfg wr = {0}, rd = {0};
        stream_result r;
        /* blocking ends with a deadline: poll before each call */
        wr.timeout_ms = rd.timeout_ms = 15000;
        r = run_stream(kind, data, n, 100000, &wr, &rd);
        assert_stream_intact(&r, data, n, kind_name(kind));
        /* non-blocking ends, no deadline: EAGAIN then poll */
        wr.nonblock = rd.nonblock = 1;
        wr.timeout_ms = rd.timeout_ms = -1;
        r = run_stream(kind, data, n, 300000, &wr, &rd);
        assert_stream_intact(&r, data, n, kind_name(kind));
    }
    free(data);
    FD_GUARD_END();
}

/* Short counts of 1..7 bytes on every call, both sides: the same stream,
   every call moves at least one byte, and no call is wasted spinning. */
static void short_counts_case(int kind, int nonblock, int timeout_ms) {
    size_t n = 512 * 1024;
    uint8_t *data = pattern_new(n, 4 + (uint64_t)kind);
    side_cfg wr = {0}, rd = {0};
    stream_result r;
    char what[96];
    wr.max_io = rd.max_io = 7;
    wr.rng = 0x1234567890ABCDEFu + (uint64_t)kind;
    rd.rng = 0x0FEDCBA987654321u + (uint64_t)nonblock;
    wr.timeout_ms = rd.timeout_ms = timeout_ms;
    wr.nonblock = rd.nonblock = nonblock;
    snprintf(what, sizeof what, "%s, %s, timeout %d, 1..7 bytes a call", kind_name(kind),
             nonblock ? "non-blocking" : "blocking", timeout_ms);
    r = run_stream(kind, data, n, 65536, &wr, &rd);
    assert_stream_intact(&r, data, n, what);
    /* A write moves 1..7 bytes (4 on average): about n/4 calls. */
    cr_assert(r.wr_calls >= n / 7, "%s: %lu write calls cannot move %zu bytes 7 at a time", what, r.wr_calls, n);
    cr_assert(r.wr_calls <= n / 2, "%s: %lu write calls for %zu bytes (expected about %zu)", what, r.wr_calls, n,
              n / 4);
    /* A read moves at least one byte; a non-blocking one may also meet
       EAGAIN, but then it polls, so at most one EAGAIN per byte-moving read. */
    cr_assert(r.rd.io_calls >= n / 7, "%s: %lu read calls", what, r.rd.io_calls);
    cr_assert(r.rd.io_calls <= (nonblock ? 2 * n + 8 : n + 4), "%s: %lu read calls for %zu bytes: a busy loop?", what,
              r.rd.io_calls, n);
    free(data);
}

Test(io, short_counts_over_pipe_same_stream_bounded_calls, .timeout = 20) {
    FD_GUARD_BEGIN();
    short_counts_case(PIPE_PAIR, 0, -1);
    short_counts_case(PIPE_PAIR, 0, 10000);
    FD_GUARD_END();
}

Test(io, short_counts_over_socketpair_same_stream_bounded_calls, .timeout = 20) {
    FD_GUARD_BEGIN();
    short_counts_case(SOCK_PAIR, 1, -1);
    short_counts_case(SOCK_PAIR, 0, 10000);
    FD_GUARD_END();
}

Test(io, eintr_injected_at_call_1_to_20_transfer_intact, .timeout = 20) {
    FD_GUARD_BEGIN();
    size_t n = 256 * 1024;
    uint8_t *data = pattern_new(n, 5);
    unsigned long at;
    for (at = 1; at <= 20; at++) {
        side_cfg wr = {0}, rd = {0};
        stream_result r;
        char what[96];
        int kind = at % 2 ? PIPE_PAIR : SOCK_PAIR;
        wr.max_io = rd.max_io = 4096; /* at least 64 calls each side */
        wr.rng = at * 77 + 1, rd.rng = at * 91 + 3;
        wr.eintr_at = rd.eintr_at = at;
        wr.timeout_ms = rd.timeout_ms = (at % 4 < 2) ? -1 : 10000;
        wr.nonblock = rd.nonblock = at % 3 == 0;
        snprintf(what, sizeof what, "EINTR at call %lu, %s, timeout %d%s", at, kind_name(kind), wr.timeout_ms,
                 wr.nonblock ? ", non-blocking" : "");
        r = run_stream(kind, data, n, 50000, &wr, &rd);
        assert_stream_intact(&r, data, n, what);
        cr_assert(r.wr_calls > at && r.rd.io_calls > at, "%s: call %lu was never reached (%lu/%lu calls)", what, at,
                  r.wr_calls, r.rd.io_calls);
    }
    free(data);
    FD_GUARD_END();
}

Test(io, eintr_injected_every_kth_call_transfer_intact, .timeout = 20) {
    FD_GUARD_BEGIN();
    size_t n = 256 * 1024;
    uint8_t *data = pattern_new(n, 6);
    unsigned long k;
    for (k = 2; k <= 6; k++) {
        side_cfg wr = {0}, rd = {0};
        stream_result r;
        char what[96];
        int kind = k % 2 ? PIPE_PAIR : SOCK_PAIR;
        wr.max_io = rd.max_io = 2000;
        wr.rng = k * 5 + 11, rd.rng = k * 3 + 17;
        wr.eintr_at = rd.eintr_at = 1;
        wr.eintr_every = rd.eintr_every = k;
        wr.timeout_ms = rd.timeout_ms = k % 3 ? 10000 : -1;
        snprintf(what, sizeof what, "EINTR at call 1 and every %lu-th after, %s", k, kind_name(kind));
        r = run_stream(kind, data, n, 40000, &wr, &rd);
        assert_stream_intact(&r, data, n, what);
        /* a 1/k of the calls failed with EINTR: more calls than moves */
        cr_assert(r.wr_calls >= (n / 2000) * k / (k - 1), "%s: only %lu write calls", what, r.wr_calls);
    }
    free(data);
    FD_GUARD_END();
}

/* ---- EINTR from real signals ------------------------------------------------ */

Test(io, itimer_sigalrm_without_sa_restart_64mib_pipe_transfer_intact, .timeout = 20) {
    FD_GUARD_BEGIN();
    size_t n = 64 * MIB;
    uint8_t *data = pattern_new(n, 7);
    side_cfg wr = {0}, rd = {0};
    stream_result r;
    wr.timeout_ms = rd.timeout_ms = -1;
    wr.itimer_us = rd.itimer_us = 1000;
    r = run_stream(PIPE_PAIR, data, n, MIB, &wr, &rd);
    assert_stream_intact(&r, data, n, "64 MiB under a 1 ms SIGALRM");
    cr_assert(r.wr_signals > 0 && r.rd.signals > 0, "no SIGALRM arrived during the transfer (%ld/%ld)", r.wr_signals,
              r.rd.signals);
    free(data);
    FD_GUARD_END();
}

Test(io, itimer_sigalrm_during_transfers_with_deadlines_intact, .timeout = 20) {
    FD_GUARD_BEGIN();
    size_t n = 16 * MIB;
    uint8_t *data = pattern_new(n, 8);
    int kind;
    for (kind = PIPE_PAIR; kind <= SOCK_PAIR; kind++) {
        side_cfg wr = {0}, rd = {0};
        stream_result r;
        wr.timeout_ms = rd.timeout_ms = 15000; /* the poll-before-I/O path */
        wr.itimer_us = rd.itimer_us = 1000;
        r = run_stream(kind, data, n, 777777, &wr, &rd);
        assert_stream_intact(&r, data, n, kind_name(kind));
    }
    free(data);
    FD_GUARD_END();
}

Test(io, itimer_sigalrm_read_full_still_times_out_at_its_deadline, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], rc;
    uint8_t buf[8];
    size_t done = 99;
    int64_t t0, ms;
    long sigs;
    cr_assert(pipe(p) == 0);
    itimer_start(1000);
    t0 = ipc_now_ns();
    rc = ipc_read_full(p[0], buf, sizeof buf, &done, 300);
    ms = elapsed_ms(t0);
    itimer_stop();
    sigs = alarm_count;
    cr_assert(rc == -ETIMEDOUT, "got %s (%d)", ipc_strerror(rc), rc);
    cr_assert(done == 0);
    cr_assert(ms >= 290 && ms < 2000, "timed out after %lld ms, expected about 300", (long long)ms);
    cr_assert(sigs > 10, "only %ld SIGALRMs arrived: the test did not interrupt anything", sigs);
    close(p[0]);
    close(p[1]);
    FD_GUARD_END();
}

Test(io, itimer_sigalrm_write_all_to_full_pipe_still_times_out_at_its_deadline, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], rc, nb;
    size_t n = 256 * 1024;
    uint8_t *data = pattern_new(n, 9);
    for (nb = 0; nb <= 1; nb++) {
        size_t done = 99;
        int64_t t0, ms;
        cr_assert(pipe(p) == 0);
        if (nb) set_nonblock_raw(p[1], 1);
        itimer_start(1000);
        t0 = ipc_now_ns();
        rc = ipc_write_all(p[1], data, n, &done, 300);
        ms = elapsed_ms(t0);
        itimer_stop();
        cr_assert(rc == -ETIMEDOUT, "%s pipe: got %s (%d)", nb ? "non-blocking" : "blocking", ipc_strerror(rc), rc);
        cr_assert(done == fionread(p[0]), "*done %zu, the pipe holds %zu", done, fionread(p[0]));
        cr_assert(ms >= 290 && ms < 2000, "timed out after %lld ms, expected about 300", (long long)ms);
        close(p[0]);
        close(p[1]);
    }
    free(data);
    FD_GUARD_END();
}

/* ==== timeouts =============================================================== */

Test(io, read_full_timeout_0_on_empty_pipe_is_eagain_at_once, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], nb, kind;
    for (kind = PIPE_PAIR; kind <= SOCK_PAIR; kind++)
        for (nb = 0; nb <= 1; nb++) {
            uint8_t buf[16];
            size_t done = 99;
            int64_t t0;
            int rc;
            make_pair(kind, &p[0], &p[1]);
            if (nb) set_nonblock_raw(p[0], 1);
            t0 = ipc_now_ns();
            rc = ipc_read_full(p[0], buf, sizeof buf, &done, 0);
            cr_assert(rc == -EAGAIN, "%s %s: got %s", kind_name(kind), nb ? "non-blocking" : "blocking",
                      ipc_strerror(rc));
            cr_assert(done == 0);
            cr_assert(elapsed_ms(t0) < 500, "a try took %lld ms", (long long)elapsed_ms(t0));
            close(p[0]);
            close(p[1]);
        }
    FD_GUARD_END();
}

Test(io, read_full_timeout_100_on_empty_pipe_is_etimedout_in_time, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], nb, kind;
    for (kind = PIPE_PAIR; kind <= SOCK_PAIR; kind++)
        for (nb = 0; nb <= 1; nb++) {
            uint8_t buf[16];
            size_t done = 99;
            int64_t t0, ms;
            int rc;
            make_pair(kind, &p[0], &p[1]);
            if (nb) set_nonblock_raw(p[0], 1);
            t0 = ipc_now_ns();
            rc = ipc_read_full(p[0], buf, sizeof buf, &done, 100);
            ms = elapsed_ms(t0);
            cr_assert(rc == -ETIMEDOUT, "%s %s: got %s", kind_name(kind), nb ? "non-blocking" : "blocking",
                      ipc_strerror(rc));
            cr_assert(done == 0);
            cr_assert(ms >= 100 && ms <= 1000, "timed out after %lld ms, expected 100", (long long)ms);
            close(p[0]);
            close(p[1]);
        }
    FD_GUARD_END();
}

Test(io, read_full_blocking_pipe_partial_data_times_out_reporting_done, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], rc;
    uint8_t buf[8];
    size_t done = 99;
    int64_t t0, ms;
    cr_assert(pipe(p) == 0);
    cr_assert(write(p[1], "abc", 3) == 3);
    memset(buf, 0, sizeof buf);
    t0 = ipc_now_ns();
    rc = ipc_read_full(p[0], buf, 8, &done, 100);
    ms = elapsed_ms(t0);
    cr_assert(rc == -ETIMEDOUT, "got %s", ipc_strerror(rc));
    cr_assert(done == 3 && memcmp(buf, "abc", 3) == 0, "*done %zu", done);
    cr_assert(ms >= 100 && ms <= 1000, "took %lld ms", (long long)ms);
    close(p[0]);
    close(p[1]);
    FD_GUARD_END();
}

static size_t pipe_capacity(int fd) {
    int sz = fcntl(fd, F_GETPIPE_SZ);
    cr_assert(sz > 0);
    return (size_t)sz;
}

/* An empty pipe takes exactly its capacity, then a try says -EAGAIN; what
   went in is exactly the front of what was passed. */
Test(io, write_all_timeout_0_to_full_pipe_is_eagain_with_bytes_that_fit, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], nb, rc;
    size_t n = MIB;
    uint8_t *data = pattern_new(n, 10);
    for (nb = 0; nb <= 1; nb++) {
        size_t done = 99, cap;
        bytes got = {0};
        int64_t t0;
        cr_assert(pipe(p) == 0);
        cap = pipe_capacity(p[1]);
        if (nb) set_nonblock_raw(p[1], 1);
        t0 = ipc_now_ns();
        rc = ipc_write_all(p[1], data, n, &done, 0);
        cr_assert(rc == -EAGAIN, "%s pipe: got %s", nb ? "non-blocking" : "blocking", ipc_strerror(rc));
        cr_assert(done == cap, "%s pipe: *done %zu, the pipe holds %zu", nb ? "non-blocking" : "blocking", done, cap);
        cr_assert(elapsed_ms(t0) < 500, "a try took %lld ms", (long long)elapsed_ms(t0));
        /* now full: nothing more fits */
        rc = ipc_write_all(p[1], data, 1, &done, 0);
        cr_assert(rc == -EAGAIN && done == 0, "full pipe: got %s, *done %zu", ipc_strerror(rc), done);
        set_nonblock_raw(p[0], 1);
        drain_into(p[0], &got, SIZE_MAX);
        cr_assert(got.len == cap && memcmp(got.p, data, cap) == 0, "the pipe does not hold the front of the data");
        free(got.p);
        close(p[0]);
        close(p[1]);
    }
    free(data);
    FD_GUARD_END();
}

Test(io, write_all_timeout_0_to_full_socketpair_reports_exact_prefix, .timeout = 20) {
    FD_GUARD_BEGIN();
    int rfd, wfd, nb, rc;
    size_t n = 8 * MIB;
    uint8_t *data = pattern_new(n, 11);
    for (nb = 0; nb <= 1; nb++) {
        size_t done = 99;
        bytes got = {0};
        make_pair(SOCK_PAIR, &rfd, &wfd);
        if (nb) set_nonblock_raw(wfd, 1);
        rc = ipc_write_all(wfd, data, n, &done, 0);
        cr_assert(rc == -EAGAIN, "got %s", ipc_strerror(rc));
        cr_assert(done > 0 && done < n, "*done %zu", done);
        set_nonblock_raw(rfd, 1);
        drain_into(rfd, &got, SIZE_MAX);
        cr_assert(got.len == done, "*done %zu but the peer received %zu", done, got.len);
        cr_assert(memcmp(got.p, data, done) == 0, "the peer did not receive the front of the data");
        free(got.p);
        close(rfd);
        close(wfd);
    }
    free(data);
    FD_GUARD_END();
}

Test(io, write_all_timeout_100_to_full_pipe_is_etimedout_in_time, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], nb, rc;
    size_t n = MIB;
    uint8_t *data = pattern_new(n, 12);
    for (nb = 0; nb <= 1; nb++) {
        size_t done = 99, cap;
        int64_t t0, ms;
        cr_assert(pipe(p) == 0);
        cap = pipe_capacity(p[1]);
        if (nb) set_nonblock_raw(p[1], 1);
        t0 = ipc_now_ns();
        rc = ipc_write_all(p[1], data, n, &done, 100);
        ms = elapsed_ms(t0);
        cr_assert(rc == -ETIMEDOUT, "%s pipe: got %s", nb ? "non-blocking" : "blocking", ipc_strerror(rc));
        cr_assert(done == cap, "*done %zu, capacity %zu", done, cap);
        cr_assert(ms >= 100 && ms <= 1000, "took %lld ms", (long long)ms);
        close(p[0]);
        close(p[1]);
    }
    free(data);
    FD_GUARD_END();
}

/* A blocking pipe with no free slot (its last page partly used) would block
   a plain write of 1000 bytes forever: with a deadline it must not. */
Test(io, write_all_blocking_pipe_with_timeout_never_blocks_past_deadline, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], rc;
    size_t cap, done = 99;
    uint8_t *data;
    int64_t t0, ms;
    cr_assert(pipe(p) == 0);
    cap = pipe_capacity(p[1]);
    data = pattern_new(cap, 13);
    set_nonblock_raw(p[1], 1);
    cr_assert(write(p[1], data, cap - 100) == (ssize_t)(cap - 100));
    set_nonblock_raw(p[1], 0);
    t0 = ipc_now_ns();
    rc = ipc_write_all(p[1], data, 1000, &done, 100);
    ms = elapsed_ms(t0);
    cr_assert(rc == -ETIMEDOUT, "got %s", ipc_strerror(rc));
    cr_assert(done == 0, "*done %zu", done);
    cr_assert(ms >= 100 && ms <= 1000, "took %lld ms", (long long)ms);
    /* and the send_frame path too */
    t0 = ipc_now_ns();
    rc = ipc_send_frame(p[1], IPC_LEN32, data, 1000, 100);
    ms = elapsed_ms(t0);
    cr_assert(rc == -ETIMEDOUT, "send_frame: got %s", ipc_strerror(rc));
    cr_assert(ms >= 100 && ms <= 1000, "send_frame took %lld ms", (long long)ms);
    close(p[0]);
    close(p[1]);
    free(data);
    FD_GUARD_END();
}

/* ==== end of stream ========================================================== */

Test(io, read_full_writer_closed_after_3_of_8_bytes_is_etrunc_done_3, .timeout = 20) {
    FD_GUARD_BEGIN();
    int kind, t;
    static const int timeouts[] = {-1, 0, 1000};
    for (kind = PIPE_PAIR; kind <= SOCK_PAIR; kind++)
        for (t = 0; t < 3; t++) {
            int rfd, wfd, rc;
            uint8_t buf[8];
            size_t done = 99;
            make_pair(kind, &rfd, &wfd);
            cr_assert(write(wfd, "xyz", 3) == 3);
            close(wfd);
            rc = ipc_read_full(rfd, buf, 8, &done, timeouts[t]);
            cr_assert(rc == IPC_ETRUNC, "%s, timeout %d: got %s", kind_name(kind), timeouts[t], ipc_strerror(rc));
            cr_assert(done == 3 && memcmp(buf, "xyz", 3) == 0, "*done %zu", done);
            close(rfd);
        }
    FD_GUARD_END();
}

Test(io, read_full_writer_closed_before_any_byte_is_eof, .timeout = 20) {
    FD_GUARD_BEGIN();
    int kind, t;
    static const int timeouts[] = {-1, 0, 1000};
    for (kind = PIPE_PAIR; kind <= SOCK_PAIR; kind++)
        for (t = 0; t < 3; t++) {
            int rfd, wfd, rc;
            uint8_t buf[8];
            size_t done = 99;
            make_pair(kind, &rfd, &wfd);
            close(wfd);
            rc = ipc_read_full(rfd, buf, 8, &done, timeouts[t]);
            cr_assert(rc == IPC_EOF, "%s, timeout %d: got %s", kind_name(kind), timeouts[t], ipc_strerror(rc));
            cr_assert(done == 0);
            cr_assert(ipc_read_some(rfd, buf, 8, timeouts[t]) == IPC_EOF);
            close(rfd);
        }
    FD_GUARD_END();
}

/* ==== SIGPIPE ================================================================ */

static void epipe_case(int kind) {
    sig_state before;
    int rfd, wfd, rc, t;
    static const int timeouts[] = {-1, 0, 1000};
    uint8_t big[100000];
    memset(big, 0x5A, sizeof big);
    sigpipe_default();
    sig_state_take(&before);
    cr_assert(before.pipe_action.sa_handler == SIG_DFL && !before.pending);
    make_pair(kind, &rfd, &wfd);
    close(rfd);
    for (t = 0; t < 3; t++) {
        size_t done = 99;
        rc = ipc_write_all(wfd, "hello", 5, &done, timeouts[t]);
        cr_assert(rc == -EPIPE, "%s, timeout %d: write_all gave %s", kind_name(kind), timeouts[t], ipc_strerror(rc));
        cr_assert(done == 0);
        rc = ipc_write_all(wfd, big, sizeof big, &done, timeouts[t]);
        cr_assert(rc == -EPIPE, "%s: write_all of 100000 bytes gave %s", kind_name(kind), ipc_strerror(rc));
        rc = ipc_send_frame(wfd, IPC_LEN32, "hello", 5, timeouts[t]);
        cr_assert(rc == -EPIPE, "%s: send_frame LEN32 gave %s", kind_name(kind), ipc_strerror(rc));
        rc = ipc_send_frame(wfd, IPC_COBS, big, sizeof big, timeouts[t]);
        cr_assert(rc == -EPIPE, "%s: send_frame COBS gave %s", kind_name(kind), ipc_strerror(rc));
        assert_sig_state_same(&before, kind_name(kind));
    }
    close(wfd);
}

Test(io, write_all_to_pipe_with_reader_gone_is_epipe_and_process_survives, .timeout = 20) {
    FD_GUARD_BEGIN();
    epipe_case(PIPE_PAIR);
    FD_GUARD_END();
}

Test(io, write_all_to_socketpair_with_reader_gone_is_epipe_and_process_survives, .timeout = 20) {
    FD_GUARD_BEGIN();
    epipe_case(SOCK_PAIR);
    FD_GUARD_END();
}

Test(io, write_all_epipe_keeps_an_applications_pending_sigpipe, .timeout = 20) {
    FD_GUARD_BEGIN();
    sigset_t set;
    sig_state before;
    int p[2], rc;
    struct timespec zero = {0, 0};
    sigpipe_default();
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    raise(SIGPIPE); /* the application's own, pending while blocked */
    sig_state_take(&before);
    cr_assert(before.pending);
    cr_assert(pipe(p) == 0);
    close(p[0]);
    rc = ipc_write_all(p[1], "x", 1, NULL, -1);
    cr_assert(rc == -EPIPE, "got %s", ipc_strerror(rc));
    assert_sig_state_same(&before, "SIGPIPE blocked and pending before the call");
    cr_assert(sigpipe_pending(), "the application's pending SIGPIPE was consumed");
    cr_assert(sigtimedwait(&set, NULL, &zero) == SIGPIPE);
    close(p[1]);
    sigpipe_default();
    FD_GUARD_END();
}

Test(io, write_all_epipe_with_sigpipe_blocked_leaves_nothing_pending, .timeout = 20) {
    FD_GUARD_BEGIN();
    sigset_t set;
    sig_state before;
    int p[2], rc;
    sigpipe_default();
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sig_state_take(&before);
    cr_assert(!before.pending);
    cr_assert(pipe(p) == 0);
    close(p[0]);
    rc = ipc_write_all(p[1], "x", 1, NULL, -1);
    cr_assert(rc == -EPIPE, "got %s", ipc_strerror(rc));
    assert_sig_state_same(&before, "SIGPIPE blocked, none pending");
    close(p[1]);
    sigpipe_default();
    FD_GUARD_END();
}

/* ==== framed: ipc_send_frame / ipc_recv_frame across a fork ================== */

static void framed_battery_case(int kind, ipc_codec codec, size_t max_io) {
    int rfd, wfd;
    pid_t pid;
    uint32_t i;
    size_t cap = 70000;
    uint8_t *buf = (uint8_t *)guarded_alloc(cap);
    make_pair(kind, &rfd, &wfd);
    pid = fork_child();
    if (pid == 0) {
        uint8_t *m = (uint8_t *)malloc(70000);
        close(rfd);
        if (!m) _exit(9);
        ipc_test.max_io = max_io;
        ipc_test.rng = 99;
        for (i = 0; i < BATTERY; i++) {
            uint32_t len = battery_len(i, 0);
            battery_make(m, i, len);
            if (ipc_send_frame(wfd, codec, m, len, 10000) != 0) _exit(10);
        }
        _exit(0);
    }
    close(wfd);
    ipc_test.max_io = max_io;
    ipc_test.rng = 1234;
    for (i = 0; i < BATTERY; i++) {
        ssize_t n = ipc_recv_frame(rfd, codec, buf, cap, 10000);
        cr_assert(n >= 0, "%s %s: frame %u: %s", ipc_codec_name(codec), kind_name(kind), i, ipc_strerror((int)n));
        cr_assert(battery_check(buf, (size_t)n, i, 0), "%s: frame %u wrong (%zd bytes, expected %u)",
                  ipc_codec_name(codec), i, n, battery_len(i, 0));
    }
    {
        ssize_t n = ipc_recv_frame(rfd, codec, buf, cap, 10000);
        cr_assert(n == IPC_EOF, "%s: after the last frame: %s", ipc_codec_name(codec), ipc_strerror((int)n));
    }
    memset(&ipc_test, 0, sizeof ipc_test);
    close(rfd);
    guarded_free(buf, cap);
    assert_child_ok(pid, 5000, ipc_codec_name(codec));
}

Test(io, send_recv_frame_len32_1000_messages_exactly_once_in_order, .timeout = 20) {
    FD_GUARD_BEGIN();
    framed_battery_case(PIPE_PAIR, IPC_LEN32, 0);
    FD_GUARD_END();
}

Test(io, send_recv_frame_varint_1000_messages_exactly_once_in_order, .timeout = 20) {
    FD_GUARD_BEGIN();
    framed_battery_case(PIPE_PAIR, IPC_VARINT, 0);
    FD_GUARD_END();
}

Test(io, send_recv_frame_cobs_1000_messages_exactly_once_in_order, .timeout = 20) {
    FD_GUARD_BEGIN();
    framed_battery_case(PIPE_PAIR, IPC_COBS, 0);
    FD_GUARD_END();
}

Test(io, send_recv_frame_over_socketpair_with_short_counts_in_order, .timeout = 20) {
    FD_GUARD_BEGIN();
    framed_battery_case(SOCK_PAIR, IPC_LEN32, 1000);
    framed_battery_case(SOCK_PAIR, IPC_VARINT, 333);
    FD_GUARD_END();
}

/* A frame longer than cap: IPC_ETOOBIG as soon as the length is known, the
   payload left unread, nothing written past cap. */
Test(io, recv_frame_cap_smaller_than_frame_is_etoobig_before_the_payload, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2];
    uint8_t frame[400], payload[300];
    ssize_t k, n;
    size_t cap;
    uint8_t *buf;
    msg_make(payload, 1, sizeof payload);
    /* LEN32 and VARINT: 300-byte payload, caps 299 and 50 */
    {
        ipc_codec codecs[2] = {IPC_LEN32, IPC_VARINT};
        int c;
        for (c = 0; c < 2; c++) {
            static const size_t caps[] = {299, 50, 0};
            int j;
            for (j = 0; j < 3; j++) {
                cap = caps[j];
                cr_assert(pipe(p) == 0);
                k = ipc_frame_encode(codecs[c], frame, sizeof frame, payload, sizeof payload);
                cr_assert(k > 0);
                cr_assert(write(p[1], frame, (size_t)k) == k);
                buf = (uint8_t *)guarded_alloc(cap ? cap : 1);
                memset(buf, 0xEE, cap ? cap : 1);
                n = ipc_recv_frame(p[0], codecs[c], cap ? buf : NULL, cap, 1000);
                cr_assert(n == IPC_ETOOBIG, "%s cap %zu: got %s", ipc_codec_name(codecs[c]), cap,
                          ipc_strerror((int)n));
                cr_assert(fionread(p[0]) == sizeof payload, "%s cap %zu: %zu payload bytes left unread, expected 300",
                          ipc_codec_name(codecs[c]), cap, fionread(p[0]));
                cr_assert(buf[0] == 0xEE, "the buffer was written");
                guarded_free(buf, cap ? cap : 1);
                close(p[0]);
                close(p[1]);
            }
        }
    }
    /* COBS: the length is known only as bytes come. IPC_ETOOBIG once the
       frame passes cap, nothing written past cap, and the stream is read on
       to the next 00 so the next call starts on the next frame. */
    {
        uint8_t nz[100];
        memset(nz, 0x41, sizeof nz);
        cap = 10;
        cr_assert(pipe(p) == 0);
        k = ipc_frame_encode(IPC_COBS, frame, sizeof frame, nz, sizeof nz);
        cr_assert(k == 102);
        cr_assert(write(p[1], frame, (size_t)k) == k);
        cr_assert(ipc_send_frame(p[1], IPC_COBS, "ok", 2, 1000) == 0);
        buf = (uint8_t *)guarded_alloc(cap);
        n = ipc_recv_frame(p[0], IPC_COBS, buf, cap, 1000);
        cr_assert(n == IPC_ETOOBIG, "COBS: got %s", ipc_strerror((int)n));
        cr_assert(fionread(p[0]) == 4, "COBS: %zu bytes left after the oversized frame, expected the next frame's 4",
                  fionread(p[0]));
        n = ipc_recv_frame(p[0], IPC_COBS, buf, cap, 1000);
        cr_assert(n == 2 && memcmp(buf, "ok", 2) == 0, "COBS: the frame after: got %s", ipc_strerror((int)n));
        guarded_free(buf, cap);
        close(p[0]);
        close(p[1]);
    }
    /* and a frame of exactly cap bytes fits */
    cr_assert(pipe(p) == 0);
    cap = sizeof payload;
    buf = (uint8_t *)guarded_alloc(cap);
    cr_assert(ipc_send_frame(p[1], IPC_LEN32, payload, sizeof payload, 1000) == 0);
    n = ipc_recv_frame(p[0], IPC_LEN32, buf, cap, 1000);
    cr_assert(n == (ssize_t)cap && msg_check(buf, cap, 1), "exact fit: got %zd", n);
    guarded_free(buf, cap);
    close(p[0]);
    close(p[1]);
    FD_GUARD_END();
}

Test(io, recv_frame_truncated_frame_then_close_is_etrunc, .timeout = 20) {
    FD_GUARD_BEGIN();
    ipc_codec codecs[3] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    uint8_t payload[300], frame[400], buf[300];
    int c;
    msg_make(payload, 2, sizeof payload);
    memset(payload + 12, 0x33, 100); /* a long non-zero run for COBS */
    for (c = 0; c < 3; c++) {
        ssize_t k = ipc_frame_encode(codecs[c], frame, sizeof frame, payload, sizeof payload);
        size_t cuts[4], j;
        cuts[0] = 1;              /* inside the header (LEN32/VARINT), after the first code byte (COBS) */
        cuts[1] = (size_t)k / 2;  /* inside the payload */
        cuts[2] = (size_t)k - 1;  /* one byte short */
        cuts[3] = codecs[c] == IPC_LEN32 ? 4 : 2; /* the whole header, no payload (COBS: inside the first block) */
        cr_assert(k > 0);
        for (j = 0; j < 4; j++) {
            int p[2];
            ssize_t n;
            cr_assert(pipe(p) == 0);
            cr_assert(write(p[1], frame, cuts[j]) == (ssize_t)cuts[j]);
            close(p[1]);
            n = ipc_recv_frame(p[0], codecs[c], buf, sizeof buf, 1000);
            cr_assert(n == IPC_ETRUNC, "%s cut after %zu of %zd bytes: got %s", ipc_codec_name(codecs[c]), cuts[j], k,
                      ipc_strerror((int)n));
            close(p[0]);
        }
    }
    FD_GUARD_END();
}

Test(io, recv_frame_clean_close_is_eof, .timeout = 20) {
    FD_GUARD_BEGIN();
    ipc_codec codecs[3] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    int c;
    for (c = 0; c < 3; c++) {
        int p[2];
        uint8_t buf[64];
        ssize_t n;
        cr_assert(pipe(p) == 0);
        cr_assert(ipc_send_frame(p[1], codecs[c], "abc", 3, 1000) == 0);
        cr_assert(ipc_send_frame(p[1], codecs[c], "", 0, 1000) == 0);
        close(p[1]);
        n = ipc_recv_frame(p[0], codecs[c], buf, sizeof buf, 1000);
        cr_assert(n == 3 && memcmp(buf, "abc", 3) == 0, "%s: got %zd", ipc_codec_name(codecs[c]), n);
        n = ipc_recv_frame(p[0], codecs[c], buf, sizeof buf, 1000);
        cr_assert(n == 0, "%s: the empty frame: got %s", ipc_codec_name(codecs[c]), ipc_strerror((int)n));
        n = ipc_recv_frame(p[0], codecs[c], buf, sizeof buf, 1000);
        cr_assert(n == IPC_EOF, "%s: at the clean end: got %s", ipc_codec_name(codecs[c]), ipc_strerror((int)n));
        close(p[0]);
    }
    FD_GUARD_END();
}

/* The child trickles bytes[0..trickle) one every 200 ms, then the rest. */
static pid_t spawn_trickler(int wfd, int rfd_to_close, const uint8_t *bytes, size_t n, size_t trickle) {
    pid_t pid = fork_child();
    if (pid == 0) {
        size_t i;
        close(rfd_to_close);
        for (i = 0; i < trickle && i < n; i++) {
            sleep_ms(200);
            if (raw_write_all(wfd, bytes + i, 1) != 0) _exit(10);
        }
        if (n > trickle && raw_write_all(wfd, bytes + trickle, n - trickle) != 0) _exit(11);
        _exit(0);
    }
    return pid;
}

Test(io, recv_frame_trickled_frame_times_out_as_a_whole, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2];
    uint8_t payload[100], frame[120], buf[100];
    ssize_t k, n;
    int64_t t0, ms;
    pid_t pid;
    msg_make(payload, 3, sizeof payload);
    k = ipc_frame_encode(IPC_LEN32, frame, sizeof frame, payload, sizeof payload);
    cr_assert(pipe(p) == 0);
    pid = spawn_trickler(p[1], p[0], frame, (size_t)k, 8); /* 8 bytes over 1.6 s */
    close(p[1]);
    t0 = ipc_now_ns();
    n = ipc_recv_frame(p[0], IPC_LEN32, buf, sizeof buf, 500);
    ms = elapsed_ms(t0);
    cr_assert(n == -ETIMEDOUT, "got %s", ipc_strerror((int)n));
    cr_assert(ms >= 500 && ms < 2000, "timed out after %lld ms, expected 500 for the whole call", (long long)ms);
    close(p[0]);
    wait_child(pid, 5000);
    FD_GUARD_END();
}

/* ==== ipc_reader ============================================================= */

static void reader_battery_case(ipc_codec codec, size_t bufsize) {
    int p[2];
    pid_t pid;
    uint32_t i;
    ipc_reader r;
    int in_place = 0;
    cr_assert(pipe(p) == 0);
    pid = fork_child();
    if (pid == 0) {
        uint8_t *m = (uint8_t *)malloc(MIB);
        close(p[0]);
        if (!m) _exit(9);
        for (i = 0; i < BATTERY; i++) {
            uint32_t len = battery_len(i, 1);
            battery_make(m, i, len);
            if (ipc_send_frame(p[1], codec, m, len, 10000) != 0) _exit(10);
        }
        _exit(0);
    }
    close(p[1]);
    cr_assert(ipc_reader_init(&r, p[0], codec, 2 * MIB, bufsize) == 0);
    for (i = 0; i < BATTERY; i++) {
        const uint8_t *f = NULL;
        unsigned long calls0 = ipc_test.io_calls;
        ssize_t n = ipc_reader_next(&r, &f, 10000);
        cr_assert(n >= 0, "%s bufsize %zu: frame %u: %s", ipc_codec_name(codec), bufsize, i, ipc_strerror((int)n));
        cr_assert(f != NULL, "frame pointer NULL");
        cr_assert(battery_check(f, (size_t)n, i, 1), "%s bufsize %zu: frame %u wrong (%zd bytes, expected %u)",
                  ipc_codec_name(codec), bufsize, i, n, battery_len(i, 1));
        if (n > 0 && f >= r.buf && f < r.buf + r.cap) in_place++;
        if ((size_t)n == MIB && codec != IPC_COBS && bufsize == 64)
            /* through a 64-byte buffer a MiB takes 16384 reads: these go
               straight into the frame buffer */
            cr_assert(ipc_test.io_calls - calls0 < MIB / 64 / 4, "a 1 MiB frame took %lu reads with bufsize 64",
                      ipc_test.io_calls - calls0);
    }
    {
        const uint8_t *f;
        ssize_t n = ipc_reader_next(&r, &f, 10000);
        cr_assert(n == IPC_EOF, "%s: after the last frame: %s", ipc_codec_name(codec), ipc_strerror((int)n));
        n = ipc_reader_next(&r, &f, 10000);
        cr_assert(n == IPC_EOF, "%s: IPC_EOF again: %s", ipc_codec_name(codec), ipc_strerror((int)n));
    }
    if (codec != IPC_COBS) cr_assert(in_place > 0, "no frame was handed back in place");
    ipc_reader_free(&r);
    close(p[0]);
    assert_child_ok(pid, 5000, ipc_codec_name(codec));
}

Test(io, reader_len32_battery_bufsize_64, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_battery_case(IPC_LEN32, 64);
    FD_GUARD_END();
}
Test(io, reader_len32_battery_bufsize_4096, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_battery_case(IPC_LEN32, 4096);
    FD_GUARD_END();
}
Test(io, reader_varint_battery_bufsize_64, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_battery_case(IPC_VARINT, 64);
    FD_GUARD_END();
}
Test(io, reader_varint_battery_bufsize_4096, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_battery_case(IPC_VARINT, 4096);
    FD_GUARD_END();
}
Test(io, reader_cobs_battery_bufsize_64, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_battery_case(IPC_COBS, 64);
    FD_GUARD_END();
}
Test(io, reader_cobs_battery_bufsize_4096, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_battery_case(IPC_COBS, 4096);
    FD_GUARD_END();
}

/* A hostile peer: the reader answers with an error and allocates nothing
   beyond its own read buffer. */
static void reader_hostile_case(ipc_codec codec, const uint8_t *bytes, size_t n, size_t max_frame, int expect) {
    int p[2];
    ipc_reader r;
    const uint8_t *f;
    ssize_t rc;
    cr_assert(pipe(p) == 0);
    cr_assert(write(p[1], bytes, n) == (ssize_t)n);
    memset(&ipc_test, 0, sizeof ipc_test);
    cr_assert(ipc_reader_init(&r, p[0], codec, max_frame, 4096) == 0);
    cr_assert(ipc_test.allocs == 1);
    rc = ipc_reader_next(&r, &f, 1000);
    cr_assert(rc == expect, "%s: got %s, expected %s", ipc_codec_name(codec), ipc_strerror((int)rc),
              ipc_strerror(expect));
    cr_assert(ipc_test.allocs == 1, "%s: %lu allocations for a hostile header", ipc_codec_name(codec),
              ipc_test.allocs);
    /* the stream has lost its framing: the error stays */
    rc = ipc_reader_next(&r, &f, 0);
    cr_assert(rc == expect, "%s: then %s", ipc_codec_name(codec), ipc_strerror((int)rc));
    cr_assert(ipc_test.allocs == 1);
    ipc_reader_free(&r);
    close(p[0]);
    close(p[1]);
}

Test(io, reader_len32_ffffffff_header_is_eframe_without_allocating, .timeout = 20) {
    FD_GUARD_BEGIN();
    uint8_t bad[104];
    size_t i;
    bad[0] = bad[1] = bad[2] = bad[3] = 0xFF;
    for (i = 4; i < sizeof bad; i++) bad[i] = (uint8_t)(i * 37);
    reader_hostile_case(IPC_LEN32, bad, sizeof bad, 0, IPC_EFRAME);
    FD_GUARD_END();
}

Test(io, reader_varint_over_64_bits_is_eframe_without_allocating, .timeout = 20) {
    FD_GUARD_BEGIN();
    uint8_t bad[20];
    memset(bad, 0xFF, sizeof bad);
    reader_hostile_case(IPC_VARINT, bad, sizeof bad, 0, IPC_EFRAME);
    FD_GUARD_END();
}

Test(io, reader_header_claiming_1gib_over_max_frame_is_etoobig_without_allocating, .timeout = 20) {
    FD_GUARD_BEGIN();
    uint8_t hdr[IPC_HEADER_MAX + 50];
    int h;
    memset(hdr, 0x77, sizeof hdr);
    cr_assert(ipc_len32_header(hdr, (size_t)1 << 30) == 4);
    reader_hostile_case(IPC_LEN32, hdr, 54, MIB, IPC_ETOOBIG);
    h = ipc_varint_encode(hdr, (uint64_t)1 << 30);
    memset(hdr + h, 0x77, 50);
    reader_hostile_case(IPC_VARINT, hdr, (size_t)h + 50, MIB, IPC_ETOOBIG);
    /* one byte over the limit too, and exactly the limit is fine */
    cr_assert(ipc_len32_header(hdr, MIB + 1) == 4);
    reader_hostile_case(IPC_LEN32, hdr, 54, MIB, IPC_ETOOBIG);
    FD_GUARD_END();
}

Test(io, reader_cobs_resynchronises_after_an_oversized_frame, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2];
    ipc_reader r;
    const uint8_t *f;
    ssize_t n;
    uint8_t big[5000], good[500], enc[6000];
    ssize_t k;
    memset(big, 0x42, sizeof big);
    msg_make(good, 0, sizeof good);
    cr_assert(pipe(p) == 0);
    k = ipc_frame_encode(IPC_COBS, enc, sizeof enc, big, sizeof big);
    cr_assert(k > 0 && write(p[1], enc, (size_t)k) == k);
    k = ipc_frame_encode(IPC_COBS, enc, sizeof enc, good, sizeof good);
    cr_assert(k > 0 && write(p[1], enc, (size_t)k) == k);
    close(p[1]);
    cr_assert(ipc_reader_init(&r, p[0], IPC_COBS, 1000, 256) == 0);
    n = ipc_reader_next(&r, &f, 1000);
    cr_assert(n == IPC_ETOOBIG, "got %s", ipc_strerror((int)n));
    n = ipc_reader_next(&r, &f, 1000);
    cr_assert(n == (ssize_t)sizeof good && msg_check(f, (size_t)n, 0), "after resync: got %s",
              ipc_strerror((int)n));
    n = ipc_reader_next(&r, &f, 1000);
    cr_assert(n == IPC_EOF, "got %s", ipc_strerror((int)n));
    ipc_reader_free(&r);
    close(p[0]);
    FD_GUARD_END();
}

/* A peer trickles the start of a frame, a byte every 200 ms: the call times
   out as a whole, and the next call goes on with the same frame. */
static void reader_trickle_case(ipc_codec codec, uint32_t len) {
    int p[2];
    uint8_t *payload = (uint8_t *)malloc(len), *frame;
    size_t bound = ipc_frame_bound(codec, len);
    ssize_t k, n;
    ipc_reader r;
    const uint8_t *f;
    int64_t t0, ms;
    pid_t pid;
    frame = (uint8_t *)malloc(bound);
    cr_assert(payload && frame);
    msg_make(payload, 42, len);
    k = ipc_frame_encode(codec, frame, bound, payload, len);
    cr_assert(k > 4);
    cr_assert(pipe(p) == 0);
    pid = spawn_trickler(p[1], p[0], frame, (size_t)k, 4); /* bytes at 200, 400, 600, 800 ms */
    close(p[1]);
    cr_assert(ipc_reader_init(&r, p[0], codec, MIB, 4096) == 0);
    t0 = ipc_now_ns();
    n = ipc_reader_next(&r, &f, 500);
    ms = elapsed_ms(t0);
    cr_assert(n == -ETIMEDOUT, "%s: got %s", ipc_codec_name(codec), ipc_strerror((int)n));
    cr_assert(ms >= 500 && ms < 2000, "%s: timed out after %lld ms, expected 500", ipc_codec_name(codec),
              (long long)ms);
    n = ipc_reader_next(&r, &f, 5000);
    cr_assert(n == (ssize_t)len, "%s: the resumed frame: got %s", ipc_codec_name(codec), ipc_strerror((int)n));
    cr_assert(msg_check(f, len, 42), "%s: the resumed frame is corrupt", ipc_codec_name(codec));
    n = ipc_reader_next(&r, &f, 5000);
    cr_assert(n == IPC_EOF, "%s: got %s", ipc_codec_name(codec), ipc_strerror((int)n));
    ipc_reader_free(&r);
    close(p[0]);
    assert_child_ok(pid, 5000, "trickler");
    free(payload);
    free(frame);
}

Test(io, reader_len32_trickled_header_times_out_then_resumes_same_frame, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_trickle_case(IPC_LEN32, 3000);
    FD_GUARD_END();
}
Test(io, reader_varint_trickled_header_times_out_then_resumes_same_frame, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_trickle_case(IPC_VARINT, 70000);
    FD_GUARD_END();
}
Test(io, reader_cobs_trickled_frame_times_out_then_resumes_same_frame, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_trickle_case(IPC_COBS, 3000);
    FD_GUARD_END();
}

/* The writer sends whole frames, then a header and half a payload, then is
   SIGKILLed: the reader gets every whole frame, then IPC_ETRUNC. */
static void reader_killed_writer_case(ipc_codec codec) {
    int p[2], st;
    pid_t pid;
    ipc_reader r;
    uint32_t i;
    const uint32_t whole = 10;
    cr_assert(pipe(p) == 0);
    pid = fork_child();
    if (pid == 0) {
        uint8_t m[5000], enc[6000];
        ssize_t k;
        close(p[0]);
        for (i = 0; i < whole; i++) {
            uint32_t len = 12 + i * 333;
            msg_make(m, i, len);
            if (ipc_send_frame(p[1], codec, m, len, 5000) != 0) _exit(10);
        }
        msg_make(m, whole, sizeof m);
        k = ipc_frame_encode(codec, enc, sizeof enc, m, sizeof m);
        if (k <= 0) _exit(11);
        /* header and half the payload (COBS: half the encoded frame) */
        if (ipc_write_all(p[1], enc, codec == IPC_COBS ? (size_t)k / 2 : (size_t)(k - 2500), NULL, 5000) != 0)
            _exit(12);
        kill(getpid(), SIGKILL);
        _exit(13);
    }
    close(p[1]);
    cr_assert(ipc_reader_init(&r, p[0], codec, MIB, 1024) == 0);
    for (i = 0; i < whole; i++) {
        const uint8_t *f;
        ssize_t n = ipc_reader_next(&r, &f, 5000);
        cr_assert(n == (ssize_t)(12 + i * 333) && msg_check(f, (size_t)n, i), "%s: frame %u: got %s",
                  ipc_codec_name(codec), i, ipc_strerror((int)n));
    }
    {
        const uint8_t *f;
        ssize_t n = ipc_reader_next(&r, &f, 5000);
        cr_assert(n == IPC_ETRUNC, "%s: after the whole frames: got %s (%zd)", ipc_codec_name(codec),
                  ipc_strerror((int)n), n);
        n = ipc_reader_next(&r, &f, 5000);
        cr_assert(n == IPC_ETRUNC, "%s: and again: got %s", ipc_codec_name(codec), ipc_strerror((int)n));
    }
    ipc_reader_free(&r);
    close(p[0]);
    st = wait_child(pid, 5000);
    cr_assert(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the writer was not SIGKILLed (status %d)", st);
}

Test(io, reader_len32_writer_sigkilled_mid_frame_whole_frames_then_etrunc, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_killed_writer_case(IPC_LEN32);
    FD_GUARD_END();
}
Test(io, reader_varint_writer_sigkilled_mid_frame_whole_frames_then_etrunc, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_killed_writer_case(IPC_VARINT);
    FD_GUARD_END();
}
Test(io, reader_cobs_writer_sigkilled_mid_frame_whole_frames_then_etrunc, .timeout = 20) {
    FD_GUARD_BEGIN();
    reader_killed_writer_case(IPC_COBS);
    FD_GUARD_END();
}

Test(io, recv_frame_writer_sigkilled_mid_frame_is_etrunc, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], st;
    pid_t pid;
    uint8_t buf[5000];
    ssize_t n;
    cr_assert(pipe(p) == 0);
    pid = fork_child();
    if (pid == 0) {
        uint8_t m[5000], enc[5004];
        close(p[0]);
        msg_make(m, 0, 100);
        if (ipc_send_frame(p[1], IPC_LEN32, m, 100, 5000) != 0) _exit(10);
        msg_make(m, 1, sizeof m);
        if (ipc_frame_encode(IPC_LEN32, enc, sizeof enc, m, sizeof m) != 5004) _exit(11);
        if (ipc_write_all(p[1], enc, 2504, NULL, 5000) != 0) _exit(12);
        kill(getpid(), SIGKILL);
        _exit(13);
    }
    close(p[1]);
    n = ipc_recv_frame(p[0], IPC_LEN32, buf, sizeof buf, 5000);
    cr_assert(n == 100 && msg_check(buf, 100, 0), "got %s", ipc_strerror((int)n));
    n = ipc_recv_frame(p[0], IPC_LEN32, buf, sizeof buf, 5000);
    cr_assert(n == IPC_ETRUNC, "got %s", ipc_strerror((int)n));
    close(p[0]);
    st = wait_child(pid, 5000);
    cr_assert(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    FD_GUARD_END();
}

/* ==== allocation failure ===================================================== */

static void assert_no_leaks(void) {
#ifdef IO_ASAN
    cr_assert(__lsan_do_recoverable_leak_check() == 0, "LeakSanitizer found leaks");
#endif
}

Test(io, reader_init_allocation_failure_is_enomem, .timeout = 20) {
    FD_GUARD_BEGIN();
    ipc_reader r;
    memset(&ipc_test, 0, sizeof ipc_test);
    ipc_test.alloc_fail_at = 1;
    cr_assert(ipc_reader_init(&r, 0, IPC_LEN32, 0, 0) == -ENOMEM);
    cr_assert(ipc_test.allocs == 1);
    ipc_test.alloc_fail_at = 0;
    cr_assert(ipc_reader_init(&r, 0, IPC_LEN32, 0, 0) == 0);
    ipc_reader_free(&r);
    assert_no_leaks();
    FD_GUARD_END();
}

/* Fail allocation N for N = 1, 2, ... until N is past every allocation the
   run makes: each run either delivers every frame intact (the library may
   recover from a failed allocation) or answers -ENOMEM; never a crash, a
   wrong frame or a leak. */
Test(io, reader_frame_allocation_failure_at_each_step_is_enomem_without_leak, .timeout = 20) {
    FD_GUARD_BEGIN();
    ipc_codec codecs[3] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    /* lens[0] is set per codec so that the 5000-byte frame's header ends
       exactly at the end of the first 64-byte read: its payload then goes
       straight into a frame buffer allocated for it */
    uint32_t lens[] = {0, 5000, 100, 0, 30000, 12, 20000};
    const uint32_t nframes = sizeof lens / sizeof lens[0];
    int c;
    uint8_t *m = (uint8_t *)malloc(30000);
    for (c = 0; c < 3; c++) {
        unsigned long at;
        int past_all = 0, failing_runs = 0;
        lens[0] = codecs[c] == IPC_VARINT ? 61 : 56; /* 1+61+2 or 4+56+4 = 64 */
        for (at = 1; at <= 40 && !past_all; at++) {
            int p[2], rc, failed = 0;
            uint32_t i;
            ipc_reader r;
            cr_assert(pipe(p) == 0);
            cr_assert(fcntl(p[1], F_SETPIPE_SZ, 256 * 1024) >= 256 * 1024); /* all frames fit */
            for (i = 0; i < nframes; i++) {
                battery_make(m, i, lens[i]);
                cr_assert(ipc_send_frame(p[1], codecs[c], m, lens[i], 1000) == 0);
            }
            close(p[1]);
            memset(&ipc_test, 0, sizeof ipc_test);
            ipc_test.alloc_fail_at = at;
            rc = ipc_reader_init(&r, p[0], codecs[c], MIB, 64);
            if (rc != 0) {
                cr_assert(rc == -ENOMEM && at == 1, "%s: reader_init gave %s at allocation %lu",
                          ipc_codec_name(codecs[c]), ipc_strerror(rc), at);
                failing_runs++;
                close(p[0]);
                continue;
            }
            for (i = 0; i < nframes; i++) {
                const uint8_t *f;
                ssize_t n = ipc_reader_next(&r, &f, 1000);
                if (n == -ENOMEM) {
                    failed = 1;
                    break;
                }
                cr_assert(n == (ssize_t)lens[i], "%s, allocation %lu fails: frame %u gave %s",
                          ipc_codec_name(codecs[c]), at, i, ipc_strerror((int)n));
                if (n >= 12) cr_assert(msg_check(f, (size_t)n, i), "%s, allocation %lu fails: frame %u is corrupt",
                                       ipc_codec_name(codecs[c]), at, i);
            }
            if (!failed) {
                const uint8_t *f;
                ssize_t n = ipc_reader_next(&r, &f, 1000);
                cr_assert(n == IPC_EOF, "%s: got %s", ipc_codec_name(codecs[c]), ipc_strerror((int)n));
            }
            if (ipc_test.allocs >= at)
                failing_runs++; /* allocation `at` was made, and failed */
            else
                past_all = !failed;
            ipc_reader_free(&r);
            close(p[0]);
        }
        cr_assert(past_all, "%s: never ran past the last allocation", ipc_codec_name(codecs[c]));
        cr_assert(failing_runs >= 2, "%s: only %d runs met a failing allocation: the frames never needed the "
                  "frame buffer", ipc_codec_name(codecs[c]), failing_runs);
    }
    memset(&ipc_test, 0, sizeof ipc_test);
    free(m);
    assert_no_leaks();
    FD_GUARD_END();
}

/* ==== ipc_sender ============================================================= */

/* In one process, over a pipe or a socketpair whose read end the test
   drains by hand: sends succeed until more than high_water bytes are
   queued, then -EAGAIN (nothing queued); as the queue drains, sends stay
   refused while it is above low_water and are accepted once it is at or
   below; the captured stream is exactly the accepted frames; the
   statistics agree. Short counts and EINTR injected all along. */
static void sender_hysteresis_case(int kind, ipc_codec codec) {
    enum { TOTAL = 300 };
    const size_t high = 16384, low = 8192;
    int rfd, wfd, rc, it;
    ipc_sender s;
    uint32_t lens[TOTAL], seq = 0, len = 0;
    uint64_t acc_bytes = 0;
    unsigned long refused = 0;
    size_t p, max_pending = 0, maxbound = ipc_frame_bound(codec, 12 + 1499);
    uint8_t msg[1600];
    bytes col = {0};
    int saw_band = 0, accepted_again = 0;
    const char *what = ipc_codec_name(codec);

    make_pair(kind, &rfd, &wfd);
    set_nonblock_raw(rfd, 1);
    memset(&ipc_test, 0, sizeof ipc_test);
    ipc_test.max_io = 1500;
    ipc_test.rng = 0xC0FFEEu + (uint64_t)kind * 7 + (uint64_t)codec;
    ipc_test.eintr_at = 3;
    ipc_test.eintr_every = 11;
    cr_assert(ipc_sender_init(&s, wfd, codec, high) == 0);
    cr_assert(s.high_water == high && s.low_water == low);
    cr_assert(fcntl(wfd, F_GETFL) & O_NONBLOCK, "sender_init did not make the fd non-blocking");

#define NEXT_LEN(q) (12u + ((q) * 397u) % 1500u)
#define ACCEPT()                                                                                                       \
    do {                                                                                                               \
        lens[seq] = len;                                                                                               \
        acc_bytes += frame_size(codec, msg, len);                                                                      \
        seq++;                                                                                                         \
        if (ipc_sender_pending(&s) > max_pending) max_pending = ipc_sender_pending(&s);                                \
    } while (0)

    /* fill: the peer reads nothing */
    for (;;) {
        cr_assert(seq < TOTAL / 2, "%s %s: the queue never filled", what, kind_name(kind));
        len = NEXT_LEN(seq);
        msg_make(msg, seq, len);
        rc = ipc_sender_send(&s, msg, len);
        if (rc != 0) break;
        ACCEPT();
    }
    cr_assert(rc == -EAGAIN, "%s %s: send gave %s", what, kind_name(kind), ipc_strerror(rc));
    refused++;
    p = ipc_sender_pending(&s);
    cr_assert(p > high, "%s: refused with %zu bytes queued, high_water %zu", what, p, high);
    cr_assert(p <= high + maxbound, "%s: %zu bytes queued, more than high_water plus one frame", what, p);
    cr_assert(s.frames == seq, "%s: frames %llu, accepted %u", what, (unsigned long long)s.frames, seq);
    cr_assert(s.backpressure == 1);
    cr_assert(s.peak == max_pending, "%s: peak %zu, highest seen %zu", what, s.peak, max_pending);
    cr_assert(s.bytes_out + p == acc_bytes, "%s: bytes_out %llu + queued %zu != accepted %llu", what,
              (unsigned long long)s.bytes_out, p, (unsigned long long)acc_bytes);
    /* refused again: nothing queued */
    rc = ipc_sender_send(&s, msg, len);
    refused++;
    cr_assert(rc == -EAGAIN && ipc_sender_pending(&s) == p && s.frames == seq && s.backpressure == 2);

    /* drain a little at a time */
    for (it = 0; it < 20000 && !accepted_again; it++) {
        int fr;
        drain_into(rfd, &col, 1024);
        fr = ipc_sender_flush(&s, 0);
        cr_assert(fr == 0 || fr == -EAGAIN, "%s: flush gave %s", what, ipc_strerror(fr));
        p = ipc_sender_pending(&s);
        cr_assert((fr == 0) == (p == 0), "%s: flush said %s with %zu bytes queued", what, ipc_strerror(fr), p);
        rc = ipc_sender_send(&s, msg, len);
        if (rc == 0) {
            cr_assert(p <= low, "%s %s: accepted with %zu bytes queued, above low_water %zu", what, kind_name(kind), p,
                      low);
            ACCEPT();
            accepted_again = 1;
        } else {
            cr_assert(rc == -EAGAIN, "%s: send gave %s", what, ipc_strerror(rc));
            refused++;
            cr_assert(p > low,
                      "%s %s: the queue is down to %zu bytes (low_water %zu) yet send still answers -EAGAIN",
                      what, kind_name(kind), p, low);
            if (p <= high) saw_band = 1;
        }
    }
    cr_assert(accepted_again, "%s: sends were never accepted again", what);
    cr_assert(saw_band, "%s: never saw a refusal with the queue between low_water and high_water", what);

    /* the rest, draining whenever refused */
    for (it = 0; seq < TOTAL && it < 100000; it++) {
        len = NEXT_LEN(seq);
        msg_make(msg, seq, len);
        rc = ipc_sender_send(&s, msg, len);
        if (rc == 0) {
            ACCEPT();
            continue;
        }
        cr_assert(rc == -EAGAIN, "%s: send gave %s", what, ipc_strerror(rc));
        refused++;
        drain_into(rfd, &col, SIZE_MAX);
        rc = ipc_sender_flush(&s, 0);
        cr_assert(rc == 0 || rc == -EAGAIN);
    }
    cr_assert(seq == TOTAL);
    for (it = 0; it < 100000; it++) {
        drain_into(rfd, &col, SIZE_MAX);
        rc = ipc_sender_flush(&s, 0);
        if (rc == 0) break;
        cr_assert(rc == -EAGAIN, "%s: flush gave %s", what, ipc_strerror(rc));
    }
    cr_assert(ipc_sender_pending(&s) == 0);
    drain_into(rfd, &col, SIZE_MAX);
#undef NEXT_LEN
#undef ACCEPT
    memset(&ipc_test, 0, sizeof ipc_test);

    cr_assert(s.frames == TOTAL, "%s: frames %llu", what, (unsigned long long)s.frames);
    cr_assert(s.backpressure == refused, "%s: backpressure %llu, refusals %lu", what,
              (unsigned long long)s.backpressure, refused);
    cr_assert(s.bytes_out == acc_bytes && col.len == acc_bytes, "%s: bytes_out %llu, received %zu, accepted %llu",
              what, (unsigned long long)s.bytes_out, col.len, (unsigned long long)acc_bytes);
    cr_assert(s.peak == max_pending, "%s: peak %zu, highest seen %zu", what, s.peak, max_pending);
    assert_stream_is_frames(codec, col.p, col.len, lens, TOTAL);
    free(col.p);
    ipc_sender_free(&s);
    close(rfd);
    close(wfd);
}

Test(io, sender_pipe_backpressure_high_low_water_exact_stream, .timeout = 20) {
    FD_GUARD_BEGIN();
    sender_hysteresis_case(PIPE_PAIR, IPC_LEN32);
    FD_GUARD_END();
}
Test(io, sender_socketpair_backpressure_high_low_water_exact_stream, .timeout = 20) {
    FD_GUARD_BEGIN();
    sender_hysteresis_case(SOCK_PAIR, IPC_VARINT);
    FD_GUARD_END();
}
Test(io, sender_cobs_backpressure_high_low_water_exact_stream, .timeout = 20) {
    FD_GUARD_BEGIN();
    sender_hysteresis_case(PIPE_PAIR, IPC_COBS);
    FD_GUARD_END();
}

/* A forked peer that reads nothing until told, then drains: flush with a
   timeout empties the queue while it drains, sends are accepted again, and
   the peer receives exactly the accepted frames. */
static void sender_flush_case(int kind) {
    int rfd, wfd, go[2], res[2], rc;
    pid_t pid;
    ipc_sender s;
    uint32_t seq = 0, accepted, peer_count = 0;
    unsigned long refusals = 0;
    uint8_t msg[3100];
    int64_t t0, ms;
    make_pair(kind, &rfd, &wfd);
    cr_assert(pipe(go) == 0 && pipe(res) == 0);
    pid = fork_child();
    if (pid == 0) {
        ipc_reader r;
        uint8_t c;
        uint32_t expect = 0;
        close(wfd), close(go[1]), close(res[0]);
        if (raw_read_exact(go[0], &c, 1, 15000) != 0) _exit(30);
        if (ipc_reader_init(&r, rfd, IPC_LEN32, MIB, 0) != 0) _exit(31);
        for (;;) {
            const uint8_t *f;
            ssize_t n = ipc_reader_next(&r, &f, 10000);
            if (n == IPC_EOF) break;
            if (n < 0) _exit(32);
            if (n != (ssize_t)(1000 + expect * 7 % 2000) || !msg_check(f, (size_t)n, expect)) _exit(33);
            expect++;
        }
        ipc_reader_free(&r);
        if (raw_write_all(res[1], &expect, sizeof expect) != 0) _exit(34);
        _exit(0);
    }
    close(rfd), close(go[0]), close(res[1]);
    ipc_test.max_io = 3000;
    ipc_test.rng = 77;
    cr_assert(ipc_sender_init(&s, wfd, IPC_LEN32, 65536) == 0);
    for (;;) {
        uint32_t len = 1000 + seq * 7 % 2000;
        cr_assert(seq < 10000, "the queue never filled");
        msg_make(msg, seq, len);
        rc = ipc_sender_send(&s, msg, len);
        if (rc == -EAGAIN) break;
        cr_assert(rc == 0, "send gave %s", ipc_strerror(rc));
        seq++;
    }
    refusals++;
    cr_assert(ipc_sender_pending(&s) > 65536);
    cr_assert(ipc_sender_flush(&s, 0) == -EAGAIN, "flush with timeout 0 on a full fd");
    cr_assert(ipc_sender_flush(&s, 50) == -ETIMEDOUT, "flush with timeout 50 on a fd nobody drains");
    cr_assert(write(go[1], "g", 1) == 1);
    t0 = ipc_now_ns();
    rc = ipc_sender_flush(&s, 2000);
    ms = elapsed_ms(t0);
    cr_assert(rc == 0, "flush while the peer drains: %s after %lld ms", ipc_strerror(rc), (long long)ms);
    cr_assert(ipc_sender_pending(&s) == 0);
    accepted = seq;
    /* accepted again, many more than a queue's worth */
    while (seq < accepted + 300) {
        uint32_t len = 1000 + seq * 7 % 2000;
        msg_make(msg, seq, len);
        rc = ipc_sender_send(&s, msg, len);
        if (rc == -EAGAIN) {
            refusals++;
            cr_assert(ipc_sender_flush(&s, 2000) == 0);
            continue;
        }
        cr_assert(rc == 0, "send gave %s", ipc_strerror(rc));
        seq++;
    }
    cr_assert(ipc_sender_flush(&s, 2000) == 0);
    memset(&ipc_test, 0, sizeof ipc_test);
    cr_assert(s.frames == seq && s.backpressure == refusals);
    ipc_sender_free(&s);
    close(wfd);
    close(go[1]);
    cr_assert(raw_read_exact(res[0], &peer_count, sizeof peer_count, 15000) == 0, "no count from the peer");
    close(res[0]);
    assert_child_ok(pid, 5000, "draining peer");
    cr_assert(peer_count == seq, "the peer received %u frames, %u were accepted", peer_count, seq);
}

Test(io, sender_flush_empties_the_queue_while_a_forked_peer_drains_pipe, .timeout = 20) {
    FD_GUARD_BEGIN();
    sender_flush_case(PIPE_PAIR);
    FD_GUARD_END();
}
Test(io, sender_flush_empties_the_queue_while_a_forked_peer_drains_socketpair, .timeout = 20) {
    FD_GUARD_BEGIN();
    sender_flush_case(SOCK_PAIR);
    FD_GUARD_END();
}

Test(io, sender_peer_closed_is_sticky_epipe_without_sigpipe, .timeout = 20) {
    FD_GUARD_BEGIN();
    int kind, queued;
    uint8_t msg[1000];
    msg_make(msg, 0, sizeof msg);
    for (kind = PIPE_PAIR; kind <= SOCK_PAIR; kind++)
        for (queued = 0; queued <= 1; queued++) {
            sig_state before;
            int rfd, wfd, rc, i;
            ipc_sender s;
            sigpipe_default();
            sig_state_take(&before);
            make_pair(kind, &rfd, &wfd);
            cr_assert(ipc_sender_init(&s, wfd, IPC_LEN32, 4 * MIB) == 0);
            if (queued) { /* the fd is full and frames wait in the queue */
                for (i = 0; i < 100000 && ipc_sender_pending(&s) == 0; i++)
                    cr_assert(ipc_sender_send(&s, msg, sizeof msg) == 0);
                cr_assert(ipc_sender_pending(&s) > 0);
                close(rfd);
                rc = ipc_sender_flush(&s, 1000);
                cr_assert(rc == -EPIPE, "%s: flush gave %s", kind_name(kind), ipc_strerror(rc));
            } else {
                close(rfd);
                rc = ipc_sender_send(&s, msg, sizeof msg);
                cr_assert(rc == -EPIPE, "%s: send gave %s", kind_name(kind), ipc_strerror(rc));
                cr_assert(s.frames == 0, "a failed send counted as a frame");
            }
            /* sticky */
            cr_assert(ipc_sender_send(&s, msg, sizeof msg) == -EPIPE);
            cr_assert(ipc_sender_send(&s, "", 0) == -EPIPE);
            cr_assert(ipc_sender_flush(&s, 0) == -EPIPE);
            cr_assert(ipc_sender_flush(&s, 100) == -EPIPE);
            assert_sig_state_same(&before, kind_name(kind));
            ipc_sender_free(&s);
            close(wfd);
        }
    FD_GUARD_END();
}

/* Fail allocation N for N = 1, 2, ...: a send answers 0, -EAGAIN or
   -ENOMEM, and the stream holds exactly the frames that were accepted. */
Test(io, sender_allocation_failure_at_each_step_loses_and_duplicates_nothing, .timeout = 20) {
    FD_GUARD_BEGIN();
    enum { N = 40 };
    uint8_t *msg = (uint8_t *)malloc(20012);
    unsigned long at;
    int completed = 0, enomems = 0;
    for (at = 1; at <= 40 && !completed; at++) {
        int rfd, wfd, rc, it;
        ipc_sender s;
        uint32_t i, acc = 0, lens[N];
        bytes col = {0};
        int failed = 0;
        make_pair(PIPE_PAIR, &rfd, &wfd);
        set_nonblock_raw(rfd, 1);
        memset(&ipc_test, 0, sizeof ipc_test);
        ipc_test.alloc_fail_at = at;
        cr_assert(ipc_sender_init(&s, wfd, IPC_LEN32, 16384) == 0);
        for (i = 0; i < N; i++) {
            /* the message carries its index in the accepted stream */
            uint32_t len = 12 + mix32(i) % 20000;
            msg_make(msg, acc, len);
            for (it = 0; it < 1000; it++) {
                rc = ipc_sender_send(&s, msg, len);
                if (rc != -EAGAIN) break;
                drain_into(rfd, &col, SIZE_MAX);
                ipc_sender_flush(&s, 0);
            }
            if (rc == -ENOMEM) {
                failed = 1;
                continue; /* that message was not accepted: the next one takes its seq */
            }
            cr_assert(rc == 0, "allocation %lu fails: send gave %s", at, ipc_strerror(rc));
            lens[acc++] = len;
        }
        for (it = 0; it < 100000; it++) {
            drain_into(rfd, &col, SIZE_MAX);
            rc = ipc_sender_flush(&s, 0);
            if (rc == 0) break;
            cr_assert(rc == -EAGAIN, "flush gave %s", ipc_strerror(rc));
        }
        drain_into(rfd, &col, SIZE_MAX);
        cr_assert(s.frames == acc);
        assert_stream_is_frames(IPC_LEN32, col.p, col.len, lens, acc);
        if (failed)
            enomems++;
        else
            completed = ipc_test.allocs < at;
        free(col.p);
        ipc_sender_free(&s);
        close(rfd);
        close(wfd);
    }
    memset(&ipc_test, 0, sizeof ipc_test);
    cr_assert(completed, "never ran without an allocation failure");
    cr_assert(enomems >= 1, "no run saw -ENOMEM");
    free(msg);
    assert_no_leaks();
    FD_GUARD_END();
}

/* "Send queues a frame and writes as much as the fd takes now": once the
   peer has drained, the next send writes the queued bytes and the new frame. */
Test(io, sender_send_writes_queued_bytes_once_the_fd_has_room, .timeout = 20) {
    FD_GUARD_BEGIN();
    ipc_codec codecs[3] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    int c;
    uint8_t msg[1000];
    for (c = 0; c < 3; c++) {
        int rfd, wfd, i;
        ipc_sender s;
        bytes col = {0};
        size_t before;
        make_pair(PIPE_PAIR, &rfd, &wfd);
        set_nonblock_raw(rfd, 1);
        cr_assert(ipc_sender_init(&s, wfd, codecs[c], MIB) == 0);
        for (i = 0; i < 1000 && ipc_sender_pending(&s) == 0; i++) {
            msg_make(msg, (uint32_t)i, sizeof msg);
            cr_assert(ipc_sender_send(&s, msg, sizeof msg) == 0);
        }
        before = ipc_sender_pending(&s);
        cr_assert(before > 0 && before < 2000, "%s: %zu queued", ipc_codec_name(codecs[c]), before);
        drain_into(rfd, &col, SIZE_MAX); /* the pipe is empty again */
        msg_make(msg, (uint32_t)i, sizeof msg);
        cr_assert(ipc_sender_send(&s, msg, sizeof msg) == 0);
        cr_assert(ipc_sender_pending(&s) == 0,
                  "%s: the fd has room for everything, yet send left %zu bytes queued (%zu before it)",
                  ipc_codec_name(codecs[c]), ipc_sender_pending(&s), before);
        free(col.p);
        ipc_sender_free(&s);
        close(rfd);
        close(wfd);
    }
    FD_GUARD_END();
}

/* "The queue is allocated on the first send, sized for the frame before any
   byte of it is written": when that allocation fails, not a byte goes out. */
Test(io, sender_first_send_allocation_failure_writes_nothing, .timeout = 20) {
    FD_GUARD_BEGIN();
    ipc_codec codecs[3] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    int c;
    uint8_t msg[1000];
    msg_make(msg, 0, sizeof msg);
    for (c = 0; c < 3; c++) {
        int rfd, wfd, rc;
        ipc_sender s;
        uint8_t got[2000];
        make_pair(SOCK_PAIR, &rfd, &wfd);
        memset(&ipc_test, 0, sizeof ipc_test);
        cr_assert(ipc_sender_init(&s, wfd, codecs[c], 0) == 0);
        cr_assert(ipc_test.allocs == 0, "sender_init allocated");
        ipc_test.alloc_fail_at = 1;
        rc = ipc_sender_send(&s, msg, sizeof msg);
        cr_assert(rc == -ENOMEM, "%s: got %s", ipc_codec_name(codecs[c]), ipc_strerror(rc));
        cr_assert(fionread(rfd) == 0, "%s: %zu bytes went out for a send that failed", ipc_codec_name(codecs[c]),
                  fionread(rfd));
        cr_assert(s.frames == 0 && s.bytes_out == 0 && ipc_sender_pending(&s) == 0);
        /* not sticky: the next send goes out whole */
        rc = ipc_sender_send(&s, msg, sizeof msg);
        cr_assert(rc == 0, "%s: then %s", ipc_codec_name(codecs[c]), ipc_strerror(rc));
        cr_assert(s.frames == 1 && ipc_sender_pending(&s) == 0);
        {
            size_t fl = frame_size(codecs[c], msg, sizeof msg);
            uint32_t len = sizeof msg;
            cr_assert(fionread(rfd) == fl);
            cr_assert(raw_read_exact(rfd, got, fl, 1000) == 0);
            assert_stream_is_frames(codecs[c], got, fl, &len, 1);
        }
        memset(&ipc_test, 0, sizeof ipc_test);
        ipc_sender_free(&s);
        close(rfd);
        close(wfd);
    }
    FD_GUARD_END();
}

/* "Memory: the queue ... never exceeds high_water plus one frame." (The
   only window onto the queue's size is its capacity field.) */
Test(io, sender_queue_memory_stays_within_high_water_plus_one_frame, .timeout = 20) {
    FD_GUARD_BEGIN();
    ipc_codec codecs[3] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    static const size_t highs[] = {16384, 100000};
    int c, h;
    uint8_t msg[1512];
    for (c = 0; c < 3; c++)
        for (h = 0; h < 2; h++) {
            int rfd, wfd, rc = 0;
            uint32_t seq;
            ipc_sender s;
            size_t limit = highs[h] + ipc_frame_bound(codecs[c], sizeof msg);
            make_pair(PIPE_PAIR, &rfd, &wfd);
            cr_assert(ipc_sender_init(&s, wfd, codecs[c], highs[h]) == 0);
            for (seq = 0; seq < 10000 && rc == 0; seq++) {
                uint32_t len = 12 + seq * 397u % 1500u;
                msg_make(msg, seq, len);
                rc = ipc_sender_send(&s, msg, len);
            }
            {
                size_t peak = s.peak, bufsize = s.cap, pending = ipc_sender_pending(&s);
                ipc_sender_free(&s); /* before asserting: a failure leaks nothing */
                close(rfd);
                close(wfd);
                cr_assert(rc == -EAGAIN, "%s: the queue never filled", ipc_codec_name(codecs[c]));
                cr_assert(peak <= limit, "%s: peak %zu", ipc_codec_name(codecs[c]), peak);
                cr_assert(bufsize <= limit,
                          "%s, high_water %zu: the queue holds %zu bytes but its buffer is %zu bytes, over "
                          "high_water plus one frame (%zu)",
                          ipc_codec_name(codecs[c]), highs[h], pending, bufsize, limit);
            }
        }
    FD_GUARD_END();
}

/* ==== both sides write at once =============================================== */

static uint32_t duplex_len(uint32_t seed, uint32_t i) { return 12 + mix32(seed * 0x9E3779B9u + i) % 60000; }
static uint32_t duplex_frames(uint32_t seed) {
    uint64_t total = 0;
    uint32_t i = 0;
    while (total < 6 * MIB) total += duplex_len(seed, i++);
    return i;
}
static const char *duplex_why[] = {"ok", "sender_init", "reader_init", "send failed", "no progress for 10 s",
                                   "poll failed", "flush failed", "reader_next failed", "wrong frame",
                                   "frame count", "malloc"};

/* One side: sends its 6 MiB with ipc_sender and reads the peer's with
   ipc_reader, both from one poll() loop. Returns 0 or an index into
   duplex_why. Closes wfd (pipes) or shuts it down (sockets) when done. */
static int duplex_run(int rfd, int wfd, int is_sock, ipc_codec codec, uint32_t my_seed, uint32_t peer_seed) {
    ipc_sender s;
    ipc_reader r;
    uint8_t *msg = (uint8_t *)malloc(60012);
    uint32_t to_send = duplex_frames(my_seed), sent = 0, to_recv = duplex_frames(peer_seed), got = 0;
    int wclosed = 0, eof = 0, fail = 0, rc;
    if (!msg) return 10;
    if (ipc_sender_init(&s, wfd, codec, 256 * 1024) != 0) return 1;
    if (ipc_reader_init(&r, rfd, codec, MIB, 0) != 0) return 2;
    while (!fail && (!eof || !wclosed)) {
        struct pollfd pf[2];
        int np = 0, ir = -1, iw = -1, pr;
        while (sent < to_send) {
            uint32_t len = duplex_len(my_seed, sent);
            msg_make(msg, sent, len);
            rc = ipc_sender_send(&s, msg, len);
            if (rc == -EAGAIN) break;
            if (rc != 0) {
                fail = 3;
                break;
            }
            sent++;
        }
        if (fail) break;
        if (sent == to_send && ipc_sender_pending(&s) == 0 && !wclosed) {
            if (is_sock)
                shutdown(wfd, SHUT_WR);
            else
                close(wfd);
            wclosed = 1;
        }
        if (!eof) {
            pf[np].fd = rfd, pf[np].events = POLLIN, pf[np].revents = 0;
            ir = np++;
        }
        if (!wclosed && ipc_sender_pending(&s) > 0) {
            if (ir >= 0 && is_sock) {
                pf[ir].events |= POLLOUT;
                iw = ir;
            } else {
                pf[np].fd = wfd, pf[np].events = POLLOUT, pf[np].revents = 0;
                iw = np++;
            }
        }
        if (np == 0) continue;
        pr = poll(pf, (nfds_t)np, 10000);
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) {
            fail = 5;
            break;
        }
        if (pr == 0) {
            fail = 4;
            break;
        }
        if (iw >= 0 && (pf[iw].revents & (POLLOUT | POLLERR | POLLHUP))) {
            rc = ipc_sender_flush(&s, 0);
            if (rc != 0 && rc != -EAGAIN) {
                fail = 6;
                break;
            }
        }
        if (ir >= 0 && (pf[ir].revents & (POLLIN | POLLERR | POLLHUP))) {
            for (;;) {
                const uint8_t *f;
                ssize_t n = ipc_reader_next(&r, &f, 0);
                if (n == -EAGAIN) break;
                if (n == IPC_EOF) {
                    eof = 1;
                    break;
                }
                if (n < 0) {
                    fail = 7;
                    break;
                }
                if (got >= to_recv || (uint32_t)n != duplex_len(peer_seed, got) || !msg_check(f, (size_t)n, got)) {
                    fail = 8;
                    break;
                }
                got++;
            }
        }
    }
    if (!fail && got != to_recv) fail = 9;
    if (!is_sock && !wclosed) close(wfd);
    ipc_sender_free(&s);
    ipc_reader_free(&r);
    free(msg);
    return fail;
}

static void duplex_case(int kind, ipc_codec codec) {
    int a_r, a_w, b_r, b_w, rc;
    pid_t pid;
    if (kind == SOCK_PAIR) {
        int sv[2];
        cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        a_r = a_w = sv[0];
        b_r = b_w = sv[1];
    } else {
        int p2c[2], c2p[2];
        cr_assert(pipe(p2c) == 0 && pipe(c2p) == 0);
        a_w = p2c[1], b_r = p2c[0];
        b_w = c2p[1], a_r = c2p[0];
    }
    pid = fork_child();
    if (pid == 0) {
        close(a_r);
        if (a_w != a_r) close(a_w);
        _exit(duplex_run(b_r, b_w, kind == SOCK_PAIR, codec, 222, 111));
    }
    if (kind == SOCK_PAIR) {
        close(b_r);
    } else {
        close(b_r);
        close(b_w);
    }
    rc = duplex_run(a_r, a_w, kind == SOCK_PAIR, codec, 111, 222);
    close(a_r);
    cr_assert(rc == 0, "%s parent: %s", kind_name(kind), duplex_why[rc]);
    {
        int st = wait_child(pid, 15000);
        cr_assert(st >= 0 && WIFEXITED(st), "%s child: did not finish (status %d)", kind_name(kind), st);
        cr_assert(WEXITSTATUS(st) == 0, "%s child: %s", kind_name(kind),
                  WEXITSTATUS(st) < 11 ? duplex_why[WEXITSTATUS(st)] : "exit status");
    }
}

Test(io, both_sides_write_6mib_at_once_over_one_socketpair_no_deadlock, .timeout = 20) {
    FD_GUARD_BEGIN();
    duplex_case(SOCK_PAIR, IPC_LEN32);
    FD_GUARD_END();
}
Test(io, both_sides_write_6mib_at_once_over_two_pipes_no_deadlock, .timeout = 20) {
    FD_GUARD_BEGIN();
    duplex_case(PIPE_PAIR, IPC_COBS);
    FD_GUARD_END();
}

/* ==== ipc_writev_all ========================================================= */

/* 3000 iovecs (more than IOV_MAX), empty ones among them, over a stream. */
static struct iovec *g_iov; /* set by writev_many's caller */
static int g_iovcnt;
static int writer_writev_many(int fd, const uint8_t *data, size_t n, size_t *done, int timeout_ms) {
    (void)data, (void)n;
    return ipc_writev_all(fd, g_iov, g_iovcnt, done, timeout_ms);
}

Test(io, writev_all_3000_iovecs_with_empty_entries_stream_intact, .timeout = 20) {
    FD_GUARD_BEGIN();
    enum { CNT = 3000 };
    struct iovec *iov = (struct iovec *)malloc(CNT * sizeof *iov);
    size_t n = 0, i;
    uint8_t *data;
    int kind, faults;
    for (i = 0; i < CNT; i++) n += (i * 7) % 97; /* lengths 0..96, some zero */
    data = pattern_new(n, 14);
    for (kind = PIPE_PAIR; kind <= SOCK_PAIR; kind++)
        for (faults = 0; faults <= 1; faults++) {
            side_cfg wr = {0}, rd = {0};
            stream_result r;
            size_t off = 0;
            char what[64];
            for (i = 0; i < CNT; i++) {
                iov[i].iov_base = data + off;
                iov[i].iov_len = (i * 7) % 97;
                off += iov[i].iov_len;
            }
            g_iov = iov, g_iovcnt = CNT;
            wr.timeout_ms = rd.timeout_ms = faults ? 10000 : -1;
            if (faults) {
                wr.max_io = 333, wr.rng = 5, wr.eintr_at = 2, wr.eintr_every = 9;
                rd.max_io = 1000, rd.rng = 6;
            }
            snprintf(what, sizeof what, "writev_all, %s%s", kind_name(kind), faults ? ", short counts + EINTR" : "");
            r = run_stream_with(kind, data, n, n, &wr, &rd, writer_writev_many);
            assert_stream_intact(&r, data, n, what);
        }
    /* nothing at all, and only empty entries */
    {
        int p[2];
        size_t done = 99;
        cr_assert(pipe(p) == 0);
        cr_assert(ipc_writev_all(p[1], iov, 0, &done, 0) == 0 && done == 0);
        iov[0].iov_len = iov[1].iov_len = 0;
        cr_assert(ipc_writev_all(p[1], iov, 2, &done, 0) == 0 && done == 0);
        cr_assert(fionread(p[0]) == 0);
        close(p[0]);
        close(p[1]);
    }
    free(iov);
    free(data);
    FD_GUARD_END();
}

/* ==== no busy loops ========================================================== */

Test(io, read_full_on_nonblocking_pipe_waits_in_poll_not_a_busy_loop, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], rc;
    pid_t pid;
    uint8_t buf[10];
    size_t done = 0;
    cr_assert(pipe(p) == 0);
    set_nonblock_raw(p[0], 1);
    pid = fork_child();
    if (pid == 0) {
        int i;
        close(p[0]);
        for (i = 0; i < 10; i++) {
            sleep_ms(30);
            if (write(p[1], &"0123456789"[i], 1) != 1) _exit(10);
        }
        _exit(0);
    }
    close(p[1]);
    memset(&ipc_test, 0, sizeof ipc_test);
    rc = ipc_read_full(p[0], buf, 10, &done, 5000);
    cr_assert(rc == 0 && done == 10 && memcmp(buf, "0123456789", 10) == 0, "got %s", ipc_strerror(rc));
    cr_assert(ipc_test.io_calls <= 25, "%lu read calls for 10 bytes arriving 30 ms apart: a busy loop",
              ipc_test.io_calls);
    close(p[0]);
    assert_child_ok(pid, 5000, "slow writer");
    FD_GUARD_END();
}

Test(io, write_all_on_nonblocking_pipe_waits_in_poll_not_a_busy_loop, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], rc;
    pid_t pid;
    size_t cap, n, done = 0;
    uint8_t *data;
    cr_assert(pipe(p) == 0);
    cap = pipe_capacity(p[1]);
    n = cap + 10 * 4096;
    data = pattern_new(n, 15);
    set_nonblock_raw(p[1], 1);
    pid = fork_child();
    if (pid == 0) {
        uint8_t buf[4096];
        uint32_t st = 0xFFFFFFFFu;
        size_t total = 0;
        int i;
        ssize_t k;
        close(p[1]);
        set_nonblock_raw(p[0], 0);
        crc_tab_init();
        for (i = 0; i < 12; i++) {
            sleep_ms(30);
            k = read(p[0], buf, sizeof buf);
            if (k <= 0) break;
            st = crc_more(st, buf, (size_t)k);
            total += (size_t)k;
        }
        while ((k = read(p[0], buf, sizeof buf)) > 0) {
            st = crc_more(st, buf, (size_t)k);
            total += (size_t)k;
        }
        _exit(total == n && ~st == crc_fast(data, n) ? 0 : 10);
    }
    close(p[0]);
    memset(&ipc_test, 0, sizeof ipc_test);
    rc = ipc_write_all(p[1], data, n, &done, 10000);
    cr_assert(rc == 0 && done == n, "got %s, *done %zu", ipc_strerror(rc), done);
    cr_assert(ipc_test.io_calls <= 60, "%lu write calls while a slow reader drained 10 pages: a busy loop",
              ipc_test.io_calls);
    close(p[1]);
    assert_child_ok(pid, 5000, "slow reader");
    free(data);
    FD_GUARD_END();
}

/* ==== ipc_read_some ========================================================== */

Test(io, read_some_returns_what_is_there, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2];
    uint8_t buf[100];
    ssize_t n;
    int64_t t0, ms;
    cr_assert(pipe(p) == 0);
    cr_assert(write(p[1], "hello", 5) == 5);
    n = ipc_read_some(p[0], buf, sizeof buf, 1000);
    cr_assert(n == 5 && memcmp(buf, "hello", 5) == 0, "got %zd", n);
    cr_assert(write(p[1], "0123456789", 10) == 10);
    n = ipc_read_some(p[0], buf, 4, 0);
    cr_assert(n == 4 && memcmp(buf, "0123", 4) == 0, "got %zd", n);
    n = ipc_read_some(p[0], buf, sizeof buf, -1);
    cr_assert(n == 6 && memcmp(buf, "456789", 6) == 0, "got %zd", n);
    n = ipc_read_some(p[0], buf, sizeof buf, 0);
    cr_assert(n == -EAGAIN, "empty, timeout 0: got %s", ipc_strerror((int)n));
    t0 = ipc_now_ns();
    n = ipc_read_some(p[0], buf, sizeof buf, 100);
    ms = elapsed_ms(t0);
    cr_assert(n == -ETIMEDOUT && ms >= 100 && ms <= 1000, "empty, timeout 100: got %s after %lld ms",
              ipc_strerror((int)n), (long long)ms);
    close(p[1]);
    n = ipc_read_some(p[0], buf, sizeof buf, 1000);
    cr_assert(n == IPC_EOF, "closed: got %s", ipc_strerror((int)n));
    close(p[0]);
    FD_GUARD_END();
}

/* ==== ipc_wait_fd, ipc_fd_set_nonblock, deadlines ============================ */

Test(io, wait_fd_semantics, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], rc, dead;
    int64_t t0, ms;
    uint8_t c;
    cr_assert(pipe(p) == 0);
    cr_assert(ipc_wait_fd(p[0], POLLIN, IPC_DEADLINE_TRY) == -EAGAIN);
    cr_assert(ipc_wait_fd(p[1], POLLOUT, IPC_DEADLINE_TRY) == 0);
    cr_assert(ipc_wait_fd(p[1], POLLOUT, IPC_DEADLINE_NEVER) == 0);
    t0 = ipc_now_ns();
    rc = ipc_wait_fd(p[0], POLLIN, ipc_deadline(100));
    ms = elapsed_ms(t0);
    cr_assert(rc == -ETIMEDOUT && ms >= 100 && ms <= 1000, "got %s after %lld ms", ipc_strerror(rc), (long long)ms);
    /* a deadline already past that is not "try": -ETIMEDOUT at once */
    t0 = ipc_now_ns();
    rc = ipc_wait_fd(p[0], POLLIN, ipc_now_ns() - 1000);
    cr_assert(rc == -ETIMEDOUT && elapsed_ms(t0) < 500, "past deadline: got %s", ipc_strerror(rc));
    cr_assert(write(p[1], "x", 1) == 1);
    cr_assert(ipc_wait_fd(p[0], POLLIN, IPC_DEADLINE_NEVER) == 0);
    cr_assert(ipc_wait_fd(p[0], POLLIN, IPC_DEADLINE_TRY) == 0);
    cr_assert(read(p[0], &c, 1) == 1);
    close(p[1]);
    cr_assert(ipc_wait_fd(p[0], POLLIN, ipc_deadline(1000)) == 0, "a hangup counts as ready");
    dead = dup(p[0]);
    close(dead);
    cr_assert(ipc_wait_fd(dead, POLLIN, ipc_deadline(1000)) == -EBADF);
    close(p[0]);
    FD_GUARD_END();
}

Test(io, fd_set_nonblock_sets_and_clears_only_o_nonblock, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], fl0, dead;
    cr_assert(pipe(p) == 0);
    fl0 = fcntl(p[0], F_GETFL);
    cr_assert(!(fl0 & O_NONBLOCK));
    cr_assert(ipc_fd_set_nonblock(p[0], 1) == 0);
    cr_assert(fcntl(p[0], F_GETFL) == (fl0 | O_NONBLOCK));
    cr_assert(ipc_fd_set_nonblock(p[0], 1) == 0, "setting it twice");
    cr_assert(fcntl(p[0], F_GETFL) == (fl0 | O_NONBLOCK));
    cr_assert(!(fcntl(p[1], F_GETFL) & O_NONBLOCK), "the other end changed");
    cr_assert(ipc_fd_set_nonblock(p[0], 0) == 0);
    cr_assert(fcntl(p[0], F_GETFL) == fl0);
    cr_assert(ipc_fd_set_nonblock(p[0], 0) == 0);
    cr_assert(fcntl(p[0], F_GETFL) == fl0);
    dead = dup(p[0]);
    close(dead);
    cr_assert(ipc_fd_set_nonblock(dead, 1) == -EBADF);
    close(p[0]);
    close(p[1]);
    FD_GUARD_END();
}

/* ipc_deadline_left_ms(now + x) for a deadline x ns ahead, with the bounds
   the rounding allows given the time the call itself took. */
static void assert_left_rounds_up(int64_t x) {
    int64_t t1 = ipc_now_ns(), t2;
    int left = ipc_deadline_left_ms(t1 + x);
    int64_t lo, hi;
    t2 = ipc_now_ns();
    hi = (x + 999999) / 1000000;
    lo = x - (t2 - t1) <= 0 ? 0 : (x - (t2 - t1) + 999999) / 1000000;
    cr_assert(left >= lo && left <= hi, "deadline %lld ns ahead: %d ms left, expected %lld..%lld", (long long)x, left,
              (long long)lo, (long long)hi);
}

Test(io, deadline_semantics, .timeout = 20) {
    int64_t t0, d;
    int left;
    cr_assert(ipc_deadline(-1) == IPC_DEADLINE_NEVER);
    cr_assert(ipc_deadline(-1000) == IPC_DEADLINE_NEVER);
    cr_assert(ipc_deadline(0) == IPC_DEADLINE_TRY);
    cr_assert(ipc_deadline_left_ms(IPC_DEADLINE_NEVER) == -1);
    cr_assert(ipc_deadline_left_ms(IPC_DEADLINE_TRY) == 0);
    cr_assert(ipc_deadline_error(IPC_DEADLINE_TRY) == -EAGAIN);
    t0 = ipc_now_ns();
    d = ipc_deadline(100);
    cr_assert(d >= t0 + 100000000 && d <= ipc_now_ns() + 100000000, "ipc_deadline(100) is not now + 100 ms");
    left = ipc_deadline_left_ms(d);
    cr_assert(left > 0 && left <= 100, "left %d", left);
    cr_assert(ipc_deadline_error(d) == -ETIMEDOUT);
    /* past: 0 left, -ETIMEDOUT */
    d = ipc_now_ns() - 5000000;
    cr_assert(ipc_deadline_left_ms(d) == 0);
    cr_assert(ipc_deadline_error(d) == -ETIMEDOUT);
    cr_assert(ipc_deadline_left_ms(1) == 0 && ipc_deadline_error(1) == -ETIMEDOUT);
    /* rounded up, so poll never wakes before the deadline */
    assert_left_rounds_up(1);
    assert_left_rounds_up(999999);
    assert_left_rounds_up(1000000);
    assert_left_rounds_up(1000001);
    assert_left_rounds_up(10300000);
    assert_left_rounds_up(5000000000LL);
    /* huge timeouts do not overflow */
    d = ipc_deadline(INT_MAX);
    cr_assert(d > ipc_now_ns() && d != IPC_DEADLINE_NEVER);
    left = ipc_deadline_left_ms(d);
    cr_assert(left > INT_MAX - 1000, "left %d", left);
    cr_assert(ipc_deadline_left_ms(ipc_now_ns() + ((int64_t)1 << 60)) == INT_MAX, "clamped to INT_MAX");
}

Test(io, bad_descriptor_is_ebadf_everywhere, .timeout = 20) {
    FD_GUARD_BEGIN();
    int p[2], dead, t;
    static const int timeouts[] = {-1, 0, 100};
    uint8_t buf[8];
    ipc_sender s;
    cr_assert(pipe(p) == 0);
    dead = p[0];
    close(p[0]);
    close(p[1]);
    for (t = 0; t < 3; t++) {
        size_t done = 99;
        int rc = ipc_write_all(dead, "abc", 3, &done, timeouts[t]);
        cr_assert(rc == -EBADF && done == 0, "write_all timeout %d: %s", timeouts[t], ipc_strerror(rc));
        rc = ipc_read_full(dead, buf, 3, &done, timeouts[t]);
        cr_assert(rc == -EBADF && done == 0, "read_full timeout %d: %s", timeouts[t], ipc_strerror(rc));
        cr_assert(ipc_read_some(dead, buf, 3, timeouts[t]) == -EBADF);
        cr_assert(ipc_send_frame(dead, IPC_LEN32, "abc", 3, timeouts[t]) == -EBADF);
        cr_assert(ipc_send_frame(dead, IPC_COBS, "abc", 3, timeouts[t]) == -EBADF);
        cr_assert(ipc_recv_frame(dead, IPC_VARINT, buf, sizeof buf, timeouts[t]) == -EBADF);
    }
    cr_assert(ipc_sender_init(&s, dead, IPC_LEN32, 0) == -EBADF);
    FD_GUARD_END();
}
