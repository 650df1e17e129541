/* bench_ring.c - the shared-memory ring (ipc.h section 4) beside the kernel's
   mechanisms, memcpy, and a minimal hand-written C11 SPSC ring.

   Usage: bench_ring [--quick] [--csv] [-v] [-r REPS] [--cap-small KIB] [--cap-large KIB]
          bench_ring --inproc ring|spin|c11 [N]

   Producer and consumer are separate processes (fork), pinned to two
   different cores with sched_setaffinity when two are allowed. Every message
   carries a sequence number in its first 8 bytes; the consumer checks it and
   the length of every message, so nothing can be optimised away, and the
   program exits 1 if any check fails (0 otherwise, targets met or not).

   Throughput, 64 B and 64 KiB records, for
     pipe     LEN32 frames over a pipe, the naive loop: writev(header,
              payload), then read(header) and read(payload);
     stream   the same over a Unix SOCK_STREAM socketpair;
     seqpkt   a Unix SOCK_SEQPACKET socketpair, one send and one recv;
     ring     ipc_ring_send / ipc_ring_recv, default ring (futex waits);
     ring-spin  the same, IPC_RING_SPIN (waits never sleep);
     c11      a 40-line SPSC ring in C11 atomics (cached indices, release
              stores, variable-length records laid out as ipc.h's, no
              validation): what the hardware allows;
     memcpy   (64 KiB only) one process copying 64 KiB blocks between two
              8 MiB sets, larger than L2: the ceiling.
   For 64 KiB the producer copies from an 8 MiB source set and the consumer
   into an 8 MiB destination set, as memcpy does; the buffers are malloc's
   (build with -DSRC_SHIFT=N -DDST_SHIFT=N for buffers N bytes past a page
   boundary: memcpy's speed depends on where source and destination fall
   relative to each other). The producer sends for a warm-up (uncounted),
   then for the timed span; the consumer times from the first timed message
   to a final STOP message. The 64 B rows name the fastest kernel mechanism
   as the reference, the 64 KiB rows memcpy. full%: the share of sends that
   found the ring full (0: the consumer kept up). csw/kmsg: voluntary context
   switches (futex and syscall sleeps) of both processes per 1000 messages.

   Latency: a 64 B ping-pong over two rings (one each way), or one stream
   socketpair (plain 64 B write and read: the fastest socket round trip, a
   conservative baseline). Every round trip is timed (the TSC on x86,
   calibrated against CLOCK_MONOTONIC; one timer read, whose cost is printed,
   is part of each); p50, p99 and p99.9 in microseconds.

   Each measurement is repeated (5 times, interleaved across mechanisms so a
   noisy moment hurts all alike); the tables show the median and the min-max
   spread, wall-clock time (two processes: thread CPU time would miss the
   waiting). A run during which either process waited for a CPU (another
   process had it: /proc/self/schedstat) for more than 3% of its time is
   run again, up to twice (30 retries in all); -v prints every run. The
   last line says how many stayed disturbed.

   -DRING_TIMEOUT=MS builds every ipc_ring_send/recv with that timeout
   instead of -1 (a finite one reads the clock on every call).

   --inproc runs N (default 2,000,000) 64 B records through one ring type
   in a single process, in batches of 64 (send 64, receive 64), for
   valgrind --tool=callgrind --toggle-collect='inproc_*': instructions per
   message with no second core involved. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SMALL 64u
#define LARGE (64u << 10)
#define SET_BYTES (8u << 20)        /* 64 KiB records: source and destination sets */
#define POOL_BYTES (4u << 10)       /* 64 B records: cycled through, stays in L1 */
#define F_TIMED ((uint64_t)1 << 62) /* sequence-word flags: after the warm-up */
#define F_STOP ((uint64_t)1 << 63)  /*                      the last message */
#define SEQ(v) ((v) & ~(F_TIMED | F_STOP))

/* The timeout every ipc_ring_send and ipc_ring_recv is given (-1: none).
   Build with -DRING_TIMEOUT=1000 to see what a finite one costs. */
#ifndef RING_TIMEOUT
#define RING_TIMEOUT -1
#endif

#define ALWAYS static inline __attribute__((always_inline))
#define CLOBBER(p) __asm__ volatile("" : : "r"(p) : "memory")
#if defined(__x86_64__) || defined(__i386__)
#define PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define PAUSE() __asm__ __volatile__("yield")
#else
#define PAUSE() ((void)0)
#endif

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The round-trip timer: on x86 the TSC (a read costs about half of a
   clock_gettime in a VM with kvm-clock, which here is 50-100 ns),
   calibrated against CLOCK_MONOTONIC at start; elsewhere the clock. */
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static double tick_ns = 1;
static int64_t ticks(void) {
    return (int64_t)__rdtsc();
}
static void calibrate(void) {
    int64_t t0 = now_ns(), k0 = ticks();
    while (now_ns() - t0 < 20000000) {
    }
    tick_ns = (double)(now_ns() - t0) / (double)(ticks() - k0);
}
#else
static const double tick_ns = 1;
static int64_t ticks(void) {
    return now_ns();
}
static void calibrate(void) {}
#endif

/* What one timer read costs, ns: included once in every round trip. */
static double timer_cost(void) {
    int64_t t0 = now_ns(), s = 0;
    for (int i = 0; i < 100000; i++)
        s += ticks();
    CLOBBER(&s);
    return (double)(now_ns() - t0) / 100000;
}

/* ---- the reference: a minimal SPSC ring in C11 atomics -------------------- */
/* Records as in ipc.h (u32 length, u32 spare, payload padded to 8; a record
   never wraps, a pad marker skips the end). Each side keeps its own index
   and a cached copy of the other's, refreshed only when it must be. */
#define CR_PAD 0xFFFFFFFFu
#ifndef CR_ALIGN
#define CR_ALIGN 128
#endif
typedef struct cring {
    _Alignas(128) _Atomic uint64_t tail; /* bytes published (producer) */
    _Alignas(128) _Atomic uint64_t head; /* bytes released (consumer) */
    _Alignas(CR_ALIGN) uint8_t data[];
} cring;
typedef struct cside {
    cring *r;
    uint64_t mask, pos, peer; /* pos: own index; peer: the other's, as last read */
    uint64_t full;            /* producer: sends that found no room */
    _Atomic int *abort;       /* set when the other side gave up */
} cside;

ALWAYS int cr_send(cside *s, const void *p, uint32_t n) {
    uint64_t need = 8 + ((n + 7) & ~7ull), off = s->pos & s->mask, contig = s->mask + 1 - off;
    uint64_t total = need <= contig ? need : contig + need;
    if (s->mask + 1 - (s->pos - s->peer) < total) { /* full as last seen: look again */
        int waited = 0;
        while (s->peer = atomic_load_explicit(&s->r->head, memory_order_acquire),
               s->mask + 1 - (s->pos - s->peer) < total) {
            if (atomic_load_explicit(s->abort, memory_order_relaxed)) return -1;
            waited = 1;
            PAUSE();
        }
        s->full += waited;
    }
    if (need > contig) {
        memcpy(s->r->data + off, &(uint32_t){CR_PAD}, 4);
        s->pos += contig, off = 0;
    }
    memcpy(s->r->data + off, &n, 4);
    memcpy(s->r->data + off + 8, p, n);
    atomic_store_explicit(&s->r->tail, s->pos += need, memory_order_release);
    return 0;
}

ALWAYS long cr_recv(cside *s, void *buf) {
    for (;;) {
        while (s->pos == s->peer) {
            s->peer = atomic_load_explicit(&s->r->tail, memory_order_acquire);
            if (s->pos != s->peer) break;
            if (atomic_load_explicit(s->abort, memory_order_relaxed)) return -1;
            PAUSE();
        }
        uint64_t off = s->pos & s->mask;
        uint32_t n;
        memcpy(&n, s->r->data + off, 4);
        if (n == CR_PAD) {
            s->pos += s->mask + 1 - off;
            continue;
        }
        memcpy(buf, s->r->data + off + 8, n);
        atomic_store_explicit(&s->r->head, s->pos += 8 + ((n + 7) & ~7ull), memory_order_release);
        return n;
    }
}

/* ---- the mechanisms behind one interface ----------------------------------- */
enum { M_MEMCPY, M_PIPE, M_STREAM, M_SEQPKT, M_STREAM64, M_RING, M_SPIN, M_C11, NMECH };
static const char *const mech_name[NMECH] = {"memcpy, 1 process (ceiling)",  "pipe writev + 2 reads",
                                             "unix stream writev + 2 reads", "unix seqpacket send/recv",
                                             "unix stream 64 B w/r",         "ipc_ring (futex, default)",
                                             "ipc_ring (IPC_RING_SPIN)",     "C11 SPSC ring (reference)"};
static const char *const mech_key[NMECH] = {"memcpy",   "pipe", "stream",    "seqpacket",
                                            "stream64", "ring", "ring-spin", "c11"};

typedef struct shared { /* between the parent and the child of one measurement */
    _Atomic int abort, ready;
    int64_t t0, t1; /* the consumer's clock: first timed message, STOP */
    uint64_t msgs;  /* messages after t0, STOP included */
    long csw;       /* the child's voluntary context switches */
    int64_t delay;  /* the child's time spent runnable but not running, ns */
    char why[200];  /* what failed */
} shared;
static shared *S;

/* One direction (or, for sockets and latency, a pair). Ring kinds use rg or
   cr; descriptor kinds fd[0] (the parent's end) and fd[1] (the child's). */
typedef struct chan {
    int m;
    int fd[2];
    ipc_ring rg;
    cring *cr;
    size_t cr_bytes;
    cside cs;
} chan;

static int chan_open(chan *c, int m, size_t cap) {
    int rc = 0;
    memset(c, 0, sizeof *c);
    c->m = m;
    c->fd[0] = c->fd[1] = -1;
    switch (m) {
    case M_PIPE:
        if (pipe(c->fd) < 0)
            rc = -errno; /* fd[0] read (child), fd[1] write (parent) */
        else {
            int t = c->fd[0];
            c->fd[0] = c->fd[1], c->fd[1] = t;
        }
        break;
    case M_STREAM:
    case M_STREAM64:
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, c->fd) < 0) rc = -errno;
        break;
    case M_SEQPKT:
        if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, c->fd) < 0) rc = -errno;
        break;
    case M_RING:
    case M_SPIN: rc = ipc_ring_open(&c->rg, NULL, IPC_O_CREATE | (m == M_SPIN ? IPC_RING_SPIN : 0), 0, cap); break;
    case M_C11:
        c->cr_bytes = sizeof(cring) + cap;
        c->cr = mmap(NULL, c->cr_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (c->cr == MAP_FAILED) {
            c->cr = NULL;
            rc = -errno;
            break;
        }
        c->cs = (cside){.r = c->cr, .mask = cap - 1, .abort = &S->abort};
        break;
    }
    return rc;
}

/* side 0: the parent, 1: the child. Drops what the other side uses. */
static void chan_side(chan *c, int side) {
    if (c->fd[1 - side] >= 0) close(c->fd[1 - side]);
    c->fd[1 - side] = -1;
}

static void chan_close(chan *c) {
    for (int i = 0; i < 2; i++)
        if (c->fd[i] >= 0) close(c->fd[i]);
    if (c->m == M_RING || c->m == M_SPIN) ipc_ring_close(&c->rg);
    if (c->cr) munmap(c->cr, c->cr_bytes);
    c->cr = NULL;
}

static int write_all(int fd, struct iovec *iov, int cnt) {
    while (cnt > 0) {
        ssize_t n = writev(fd, iov, cnt);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        while (cnt > 0 && (size_t)n >= iov->iov_len)
            n -= (ssize_t)iov->iov_len, iov++, cnt--;
        if (cnt > 0) iov->iov_base = (char *)iov->iov_base + n, iov->iov_len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t n) {
    for (size_t got = 0; got < n;) {
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k <= 0) {
            if (k < 0 && errno == EINTR) continue;
            return k == 0 ? IPC_EOF : -errno;
        }
        got += (size_t)k;
    }
    return 0;
}

/* Sends n bytes at p as one message. 0 or < 0. */
ALWAYS int ch_send(int m, chan *c, int side, const uint8_t *p, size_t n) {
    switch (m) {
    case M_PIPE:
    case M_STREAM: {
        uint8_t hdr[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
        struct iovec iov[2] = {{hdr, 4}, {(void *)p, n}};
        return write_all(c->fd[side], iov, 2);
    }
    case M_SEQPKT: {
        ssize_t k = send(c->fd[side], p, n, MSG_NOSIGNAL);
        return k == (ssize_t)n ? 0 : k < 0 ? -errno : -EIO;
    }
    case M_STREAM64: {
        struct iovec iov = {(void *)p, n};
        return write_all(c->fd[side], &iov, 1);
    }
    case M_RING:
    case M_SPIN: return ipc_ring_send(&c->rg, p, n, RING_TIMEOUT);
    case M_C11: return cr_send(&c->cs, p, (uint32_t)n);
    }
    return -EINVAL;
}

/* Receives one message into buf (room for cap bytes): its length or < 0. */
ALWAYS ssize_t ch_recv(int m, chan *c, int side, uint8_t *buf, size_t cap) {
    switch (m) {
    case M_PIPE:
    case M_STREAM: {
        uint8_t hdr[4];
        int rc = read_all(c->fd[side], hdr, 4);
        size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
        if (rc < 0) return rc;
        if (n > cap) return -EMSGSIZE;
        return (rc = read_all(c->fd[side], buf, n)) < 0 ? rc : (ssize_t)n;
    }
    case M_SEQPKT: {
        ssize_t k = recv(c->fd[side], buf, cap, 0);
        return k < 0 ? -errno : k;
    }
    case M_STREAM64: {
        int rc = read_all(c->fd[side], buf, cap);
        return rc < 0 ? rc : (ssize_t)cap;
    }
    case M_RING:
    case M_SPIN: return ipc_ring_recv(&c->rg, buf, cap, RING_TIMEOUT);
    case M_C11: return cr_recv(&c->cs, buf);
    }
    return -EINVAL;
}

/* ---- pinning --------------------------------------------------------------- */
static int cpu_a = -1, cpu_b = -1, n_allowed, n_online;

static void find_cpus(void) {
    cpu_set_t set;
    n_online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_getaffinity(0, sizeof set, &set) < 0) return;
    n_allowed = CPU_COUNT(&set);
    for (int i = 0; i < CPU_SETSIZE && cpu_b < 0; i++)
        if (CPU_ISSET(i, &set)) *(cpu_a < 0 ? &cpu_a : &cpu_b) = i;
    if (cpu_b < 0) cpu_a = -1; /* one core: nothing to pin apart */
}

static void pin(int cpu) {
    cpu_set_t set;
    if (cpu < 0) return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Time this process spent runnable but waiting for a CPU (ns), from
   /proc/self/schedstat; 0 if unknown. Another process took our core. */
static int64_t run_delay(void) {
    char buf[128];
    long long run = 0, wait = 0;
    FILE *f = fopen("/proc/self/schedstat", "r");
    if (!f) return 0;
    if (!fgets(buf, sizeof buf, f) || sscanf(buf, "%lld %lld", &run, &wait) != 2) wait = 0;
    fclose(f);
    return (int64_t)wait;
}

static long vcsw(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw;
}

static __attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(S->why, sizeof S->why, fmt, ap);
    va_end(ap);
    atomic_store(&S->abort, 1);
}

/* ---- throughput ------------------------------------------------------------ */
/* Specialised per mechanism (m is a constant at each call site). */
ALWAYS int produce(int m, chan *c, size_t size, uint8_t *src, size_t src_len, int64_t warm_ns, int64_t run_ns,
                   uint64_t *sent) {
    uint64_t seq = 0, flag = 0, v;
    int64_t end = now_ns() + warm_ns;
    size_t off = 0;
    int rc;
    for (;; seq++) {
        if (!(seq & 63)) {
            int64_t t = now_ns();
            if (t >= end) {
                if (flag) break;
                flag = F_TIMED, end = t + run_ns;
            }
        }
        v = seq | flag;
        memcpy(src + off, &v, 8);
        if ((rc = ch_send(m, c, 0, src + off, size)) < 0) return rc;
        if ((off += size) + size > src_len) off = 0;
    }
    v = seq | F_STOP;
    memcpy(src + off, &v, 8);
    *sent = seq + 1;
    return ch_send(m, c, 0, src + off, size);
}

ALWAYS int consume(int m, chan *c, size_t size, uint8_t *dst, size_t dst_len) {
    uint64_t expect = 0, first = 0, v;
    int64_t t0 = 0;
    size_t off = 0;
    for (;;) {
        ssize_t n = ch_recv(m, c, 1, dst + off, size);
        if (n != (ssize_t)size) {
            if (n < 0)
                fail("receive failed at message %" PRIu64 ": %s", expect, ipc_strerror((int)n));
            else
                fail("length %zd at message %" PRIu64, n, expect);
            return -1;
        }
        memcpy(&v, dst + off, 8);
        if (SEQ(v) != expect) {
            fail("sequence %" PRIu64 " where %" PRIu64 " was due", SEQ(v), expect);
            return -1;
        }
        if (v & F_STOP) break;
        if ((v & F_TIMED) && !t0) t0 = now_ns(), first = expect;
        expect++;
        if ((off += size) + size > dst_len) off = 0;
    }
    S->t1 = now_ns();
    S->t0 = t0;
    S->msgs = expect - first;
    return 0;
}

/* Calls f(M, ...) with M a constant: one specialised copy per mechanism. */
#define DISPATCH(m, f, ...)                                                                                            \
    switch (m) {                                                                                                       \
    case M_PIPE: rc = f(M_PIPE, __VA_ARGS__); break;                                                                   \
    case M_STREAM: rc = f(M_STREAM, __VA_ARGS__); break;                                                               \
    case M_SEQPKT: rc = f(M_SEQPKT, __VA_ARGS__); break;                                                               \
    case M_STREAM64: rc = f(M_STREAM64, __VA_ARGS__); break;                                                           \
    case M_RING: rc = f(M_RING, __VA_ARGS__); break;                                                                   \
    case M_SPIN: rc = f(M_SPIN, __VA_ARGS__); break;                                                                   \
    default: rc = f(M_C11, __VA_ARGS__); break;                                                                        \
    }

static __attribute__((noinline)) int produce_any(chan *c, size_t size, uint8_t *src, size_t src_len, int64_t warm,
                                                 int64_t run, uint64_t *sent) {
    int rc;
    DISPATCH(c->m, produce, c, size, src, src_len, warm, run, sent)
    return rc;
}
static __attribute__((noinline)) int consume_any(chan *c, size_t size, uint8_t *dst, size_t dst_len) {
    int rc;
    DISPATCH(c->m, consume, c, size, dst, dst_len)
    return rc;
}

typedef struct sample {
    double rate;           /* messages a second */
    double csw_kmsg;       /* voluntary context switches per 1000 messages */
    double p50, p99, p999; /* latency, us */
    double disturbed;      /* time either process waited for a CPU / run time */
    double full;           /* rings: share of sends that found the ring full; -1: n/a */
} sample;

static void reset_shared(void) {
    memset(S->why, 0, sizeof S->why);
    atomic_store(&S->abort, 0);
    atomic_store(&S->ready, 0);
    S->t0 = S->t1 = 0, S->msgs = 0, S->csw = 0, S->delay = 0;
}

/* Waits for the child; returns 0 if it and the parent both succeeded. */
static int reap(pid_t pid, int prc, const char *what) {
    int st = 0;
    if (prc < 0) atomic_store(&S->abort, 1);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (prc < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_ring: %s: %s%s%s\n", what, S->why[0] ? S->why : "", S->why[0] && prc < 0 ? "; " : "",
                prc < 0 ? ipc_strerror(prc) : "");
        return -1;
    }
    return 0;
}

static uint8_t *src_set, *pool;

/* Buffers as malloc returns them (for blocks this large: 16 bytes past a
   page boundary), or, built with -DSRC_SHIFT=N / -DDST_SHIFT=N, N bytes past
   one: where a copy's source and destination fall relative to each other
   modulo 4096 changes memcpy's speed (4K aliasing). */
#ifndef SRC_SHIFT
#define SRC_SHIFT -1
#endif
#ifndef DST_SHIFT
#define DST_SHIFT -1
#endif
static uint8_t *buf_alloc(size_t len, int shift) {
    uint8_t *p;
    if (shift < 0) return malloc(len);
    p = mmap(NULL, len + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p + shift;
}

static int run_tput(int m, size_t size, size_t cap, int64_t warm, int64_t run, sample *out) {
    chan c;
    uint64_t sent = 0;
    int rc = chan_open(&c, m, cap), prc;
    char what[96];
    snprintf(what, sizeof what, "%s, %zu B", mech_name[m], size);
    if (rc < 0) {
        fprintf(stderr, "bench_ring: %s: %s\n", what, ipc_strerror(rc));
        return -1;
    }
    reset_shared();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        chan_close(&c);
        return -1;
    }
    if (pid == 0) { /* the consumer */
        size_t len = size == LARGE ? SET_BYTES : POOL_BYTES;
        uint8_t *dst = buf_alloc(len, DST_SHIFT);
        pin(cpu_b);
        chan_side(&c, 1);
        if (!dst) _exit(1);
        memset(dst, 0, len); /* faulted in before the clock starts */
        int64_t d0 = run_delay();
        atomic_store(&S->ready, 1);
        rc = consume_any(&c, size, dst, len);
        S->delay = run_delay() - d0;
        S->csw = vcsw();
        chan_close(&c);
        _exit(rc < 0 ? 1 : 0);
    }
    chan_side(&c, 0);
    while (!atomic_load(&S->ready))
        usleep(100);
    long csw0 = vcsw();
    int64_t d0 = run_delay(), t0 = now_ns();
    prc =
        produce_any(&c, size, size == LARGE ? src_set : pool, size == LARGE ? SET_BYTES : POOL_BYTES, warm, run, &sent);
    long csw = vcsw() - csw0;
    int64_t d = run_delay() - d0, span = now_ns() - t0;
    ipc_ring_info info;
    out->full = m == M_C11 ? (double)c.cs.full / (double)sent
                : (m == M_RING || m == M_SPIN) && ipc_ring_stat(&c.rg, &info) == 0
                    ? (double)info.full / (double)info.sent
                    : -1;
    chan_close(&c); /* a producer's close: the consumer's EOF */
    if (reap(pid, prc, what) < 0) return -1;
    out->rate = (double)S->msgs / ((double)(S->t1 - S->t0) / 1e9);
    out->csw_kmsg = (double)(csw + S->csw) * 1000.0 / (double)sent;
    out->disturbed = (double)(d + S->delay) / (double)span;
    return 0;
}

/* The ceiling: 64 KiB blocks copied between two 8 MiB sets in this process. */
static uint8_t *memcpy_dst;
static int run_memcpy(int64_t warm, int64_t run, sample *out) {
    uint64_t n = 0, t0 = 0;
    size_t off = 0;
    int64_t start = now_ns(), end = start + warm + run, t1, d0 = run_delay();
    int timed = 0;
    for (;; n++) {
        if (!(n & 7)) {
            int64_t t = now_ns();
            if (!timed && t >= start + warm) timed = 1, t0 = (uint64_t)t, n = 0;
            if (t >= end) {
                t1 = t;
                break;
            }
        }
        memcpy(memcpy_dst + off, src_set + off, LARGE);
        CLOBBER(memcpy_dst);
        if ((off += LARGE) + LARGE > SET_BYTES) off = 0;
    }
    out->rate = (double)n / ((double)(t1 - (int64_t)t0) / 1e9);
    out->csw_kmsg = 0, out->full = -1;
    out->disturbed = (double)(run_delay() - d0) / (double)(t1 - start);
    return 0;
}

/* ---- latency --------------------------------------------------------------- */
/* Round trips in a histogram: 2 ns bins to 16 us, then 1 us bins to 16 ms. */
#define H_FINE 8192
#define H_BINS (H_FINE + 16000)
static uint32_t hist[H_BINS];

static void hist_add(int64_t ns) {
    size_t b = ns < 2 * H_FINE ? (size_t)(ns < 0 ? 0 : ns) / 2 : H_FINE + (size_t)(ns - 2 * H_FINE) / 1000;
    hist[b < H_BINS ? b : H_BINS - 1]++;
}

static double hist_pct(double q) { /* microseconds, the bin's middle */
    uint64_t total = 0, acc = 0;
    for (size_t b = 0; b < H_BINS; b++)
        total += hist[b];
    uint64_t want = (uint64_t)(q * (double)total);
    for (size_t b = 0; b < H_BINS; b++)
        if ((acc += hist[b]) > want)
            return b < H_FINE ? (b * 2 + 1) / 1e3 : (2.0 * H_FINE + (double)(b - H_FINE) * 1000 + 500) / 1e3;
    return 0;
}

ALWAYS int ping(int m, chan *a, chan *b, int64_t warm, int64_t run, uint64_t *count) {
    uint8_t msg[SMALL] = {0}, back[SMALL];
    uint64_t seq = 0, v;
    int64_t start = ticks(), t_prev = start, t, warm_t = (int64_t)((double)warm / tick_ns),
            end_t = (int64_t)((double)(warm + run) / tick_ns);
    ssize_t n;
    int rc;
    for (;; seq++) {
        memcpy(msg, &seq, 8);
        if ((rc = ch_send(m, a, 0, msg, SMALL)) < 0) return rc;
        if ((n = ch_recv(m, b, 0, back, SMALL)) != SMALL) return n < 0 ? (int)n : -EIO;
        memcpy(&v, back, 8);
        if (v != seq) return -EIO;
        t = ticks();
        if (t - start >= warm_t) hist_add((int64_t)((double)(t - t_prev) * tick_ns));
        t_prev = t;
        if (t - start >= end_t) break;
    }
    v = (seq + 1) | F_STOP;
    memcpy(msg, &v, 8);
    *count = seq + 1;
    return ch_send(m, a, 0, msg, SMALL);
}

ALWAYS int pong(int m, chan *a, chan *b) {
    uint8_t msg[SMALL];
    uint64_t v, expect = 0;
    for (;; expect++) {
        ssize_t n = ch_recv(m, a, 1, msg, SMALL);
        if (n != SMALL) {
            if (n < 0)
                fail("receive failed at message %" PRIu64 ": %s", expect, ipc_strerror((int)n));
            else
                fail("length %zd at message %" PRIu64, n, expect);
            return -1;
        }
        memcpy(&v, msg, 8);
        if (SEQ(v) != expect) {
            fail("sequence %" PRIu64 " where %" PRIu64 " was due", SEQ(v), expect);
            return -1;
        }
        if (v & F_STOP) return 0;
        if (ch_send(m, b, 1, msg, SMALL) < 0) {
            fail("send back failed at message %" PRIu64, expect);
            return -1;
        }
    }
}

static __attribute__((noinline)) int ping_any(chan *a, chan *b, int64_t warm, int64_t run, uint64_t *count) {
    int rc;
    DISPATCH(a->m, ping, a, b, warm, run, count)
    return rc;
}
static __attribute__((noinline)) int pong_any(chan *a, chan *b) {
    int rc;
    DISPATCH(a->m, pong, a, b)
    return rc;
}

static int run_lat(int m, size_t cap, int64_t warm, int64_t run, sample *out) {
    chan a, b; /* a: parent to child; b: back (sockets: a alone, both ways) */
    uint64_t count = 0;
    int rc, prc;
    char what[96];
    snprintf(what, sizeof what, "%s, ping-pong", mech_name[m]);
    memset(&b, 0, sizeof b);
    b.fd[0] = b.fd[1] = -1;
    if ((rc = chan_open(&a, m, cap)) < 0 || (m != M_STREAM64 && (rc = chan_open(&b, m, cap)) < 0)) {
        fprintf(stderr, "bench_ring: %s: %s\n", what, ipc_strerror(rc));
        return -1;
    }
    chan *bb = m == M_STREAM64 ? &a : &b;
    bb->m = m;
    memset(hist, 0, sizeof hist);
    reset_shared();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        pin(cpu_b);
        chan_side(&a, 1);
        chan_side(&b, 1);
        int64_t d0 = run_delay();
        atomic_store(&S->ready, 1);
        rc = pong_any(&a, bb);
        S->delay = run_delay() - d0;
        S->csw = vcsw();
        chan_close(&a);
        chan_close(&b);
        _exit(rc < 0 ? 1 : 0);
    }
    chan_side(&a, 0);
    chan_side(&b, 0);
    while (!atomic_load(&S->ready))
        usleep(100);
    long csw0 = vcsw();
    int64_t d0 = run_delay(), t0 = now_ns();
    prc = ping_any(&a, bb, warm, run, &count);
    long csw = vcsw() - csw0;
    int64_t d = run_delay() - d0, span = now_ns() - t0;
    chan_close(&a);
    chan_close(&b);
    if (reap(pid, prc, what) < 0) return -1;
    out->p50 = hist_pct(0.50);
    out->p99 = hist_pct(0.99);
    out->p999 = hist_pct(0.999);
    out->rate = (double)count; /* round trips */
    out->csw_kmsg = (double)(csw + S->csw) * 1000.0 / (2.0 * (double)count);
    out->disturbed = (double)(d + S->delay) / (double)span;
    return 0;
}

/* ---- one measurement, repeated while another process disturbed it ---------- */
#define DISTURBED 0.03 /* waited for a CPU more than 3% of the run: run it again */
#define RETRIES 2
#define RETRY_BUDGET 30       /* in all: on a machine busy throughout, retrying is no use */
static int retries = RETRIES; /* --quick: none */
static int verbose, n_disturbed, n_retried;

enum { K_TPUT, K_MEMCPY, K_LAT };
static int measure(int kind, int m, size_t size, size_t cap, int64_t warm, int64_t run, sample *out) {
    sample s;
    for (int attempt = 0; attempt <= retries; attempt++) {
        int rc = kind == K_MEMCPY ? run_memcpy(warm, run, &s)
                 : kind == K_LAT  ? run_lat(m, cap, warm, run, &s)
                                  : run_tput(m, size, cap, warm, run, &s);
        if (rc < 0) return rc;
        if (verbose)
            fprintf(stderr, "  %-30s %6zu B  %s %12.4g  disturbed %5.1f%%\n", mech_name[m], size,
                    kind == K_LAT ? "p50 us" : "msgs/s", kind == K_LAT ? s.p50 : s.rate, s.disturbed * 100);
        if (attempt == 0 || s.disturbed < out->disturbed) *out = s;
        if (out->disturbed <= DISTURBED) return 0;
        if (attempt >= retries || n_retried >= RETRY_BUDGET) break;
        n_retried++;
    }
    n_disturbed++;
    return 0;
}

/* ---- --inproc: one process, for callgrind ------------------------------------ */
static __attribute__((noinline)) uint64_t inproc_ring(ipc_ring *r, uint64_t n) {
    uint8_t msg[SMALL] = {0}, back[SMALL];
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i += 64) {
        for (uint64_t j = i; j < i + 64; j++) {
            memcpy(msg, &j, 8);
            if (ipc_ring_send(r, msg, SMALL, -1) < 0) return 0;
        }
        for (uint64_t j = i; j < i + 64; j++) {
            uint64_t v;
            if (ipc_ring_recv(r, back, SMALL, -1) != SMALL) return 0;
            memcpy(&v, back, 8);
            if (v != j) return 0;
            sum += v;
        }
    }
    return sum;
}
static __attribute__((noinline)) uint64_t inproc_c11(cside *p, cside *q, uint64_t n) {
    uint8_t msg[SMALL] = {0}, back[SMALL];
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i += 64) {
        for (uint64_t j = i; j < i + 64; j++) {
            memcpy(msg, &j, 8);
            if (cr_send(p, msg, SMALL) < 0) return 0;
        }
        for (uint64_t j = i; j < i + 64; j++) {
            uint64_t v;
            if (cr_recv(q, back) != SMALL) return 0;
            memcpy(&v, back, 8);
            if (v != j) return 0;
            sum += v;
        }
    }
    return sum;
}

static int inproc(const char *kind, uint64_t n, size_t cap) {
    uint64_t sum, want = n / 64 * 64 * (n / 64 * 64 - 1) / 2;
    int64_t t0 = now_ns();
    chan c;
    int m = !strcmp(kind, "ring") ? M_RING : !strcmp(kind, "spin") ? M_SPIN : !strcmp(kind, "c11") ? M_C11 : -1;
    if (m < 0 || chan_open(&c, m, cap) < 0) {
        fprintf(stderr, "bench_ring: --inproc ring|spin|c11 [N]\n");
        return 2;
    }
    if (m == M_C11) {
        cside q = c.cs;
        sum = inproc_c11(&c.cs, &q, n);
    } else {
        sum = inproc_ring(&c.rg, n);
    }
    double s = (double)(now_ns() - t0) / 1e9;
    chan_close(&c);
    printf("%s: %" PRIu64 " x 64 B in one process, %.1f ns/msg %s\n", kind, n / 64 * 64, s * 1e9 / (double)n,
           sum == want ? "ok" : "WRONG");
    return sum == want ? 0 : 1;
}

/* ---- report ---------------------------------------------------------------- */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
typedef struct stat3 {
    double med, min, max;
} stat3;
static stat3 summarise(const double *v, int n) {
    double s[16];
    memcpy(s, v, sizeof *v * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return (stat3){n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, s[0], s[n - 1]};
}

static void human(char *out, size_t len, double v) {
    if (v >= 1e9)
        snprintf(out, len, "%.2f G", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, len, "%.2f M", v / 1e6);
    else if (v >= 1e3)
        snprintf(out, len, "%.1f k", v / 1e3);
    else
        snprintf(out, len, "%.0f", v);
}

static int csv;

static void row_tput(int m, size_t size, stat3 r, double csw, double full, double ref, double c11, const char *target,
                     const char *verdict) {
    double mb = r.med * (double)size / 1e6;
    char f[16] = "-";
    if (full >= 0) snprintf(f, sizeof f, "%.1f", full * 100);
    if (csv) {
        printf("tput,%s,%zu,%.0f,%.0f,%.0f,%.1f,%.4f,%.4f,%.3f,%s,,,,%s,%s\n", mech_key[m], size, r.med, r.min, r.max,
               mb, ref > 0 ? r.med / ref : 0, c11 > 0 ? r.med / c11 : 0, csw, full >= 0 ? f : "", target, verdict);
        return;
    }
    char a[24], b[24], c[24];
    human(a, sizeof a, r.med), human(b, sizeof b, r.min), human(c, sizeof c, r.max);
    printf("%-30s %6s %10s [%9s - %9s] %8.0f %7.3f %7.3f %8.2f %6s  %s%s%s\n", mech_name[m],
           size == SMALL ? "64 B" : "64 KiB", a, b, c, mb, ref > 0 ? r.med / ref : 0, c11 > 0 ? r.med / c11 : 0, csw, f,
           target, *target ? ": " : "", verdict);
}

static void usage(FILE *f) {
    fprintf(f, "usage: bench_ring [--quick] [--csv] [-v] [-r REPS] [--cap-small KIB] [--cap-large KIB]\n"
               "       bench_ring --inproc ring|spin|c11 [N]\n");
}

int main(int argc, char *argv[]) {
    int reps = 5, quick = 0, status = 0;
    size_t cap_small = 64 << 10, cap_large = 1 << 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1, reps = 1, retries = 0;
        else if (!strcmp(argv[i], "--csv"))
            csv = 1;
        else if (!strcmp(argv[i], "-v"))
            verbose = 1;
        else if (!strcmp(argv[i], "-r") && i + 1 < argc && (reps = atoi(argv[++i])) >= 1 && reps <= 15)
            continue;
        else if (!strcmp(argv[i], "--cap-small") && i + 1 < argc)
            cap_small = (size_t)atol(argv[++i]) << 10;
        else if (!strcmp(argv[i], "--cap-large") && i + 1 < argc)
            cap_large = (size_t)atol(argv[++i]) << 10;
        else if (!strcmp(argv[i], "--inproc") && i + 1 < argc) {
            S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
            if (S == MAP_FAILED) return 1;
            return inproc(argv[i + 1], i + 2 < argc ? strtoull(argv[i + 2], NULL, 10) : 2000000, cap_small);
        } else {
            usage(strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? stderr : stdout);
            return strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (cap_small < 4096 || cap_large < 2 * (LARGE + 8)) {
        fprintf(stderr, "bench_ring: --cap-small at least 4 KiB, --cap-large at least 129 KiB\n");
        return 2;
    }
    int64_t warm = quick ? 20000000 : 40000000, run = quick ? 100000000 : 250000000;
    int64_t lat_run = quick ? 100000000 : 200000000;

    signal(SIGPIPE, SIG_IGN);
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    src_set = buf_alloc(SET_BYTES, SRC_SHIFT), memcpy_dst = buf_alloc(SET_BYTES, DST_SHIFT), pool = malloc(POOL_BYTES);
    if (S == MAP_FAILED || !src_set || !memcpy_dst || !pool) {
        fprintf(stderr, "bench_ring: %s\n", strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < SET_BYTES; i++)
        src_set[i] = (uint8_t)(i * 131 + 7);
    memset(memcpy_dst, 0, SET_BYTES);
    memset(pool, 0x5a, POOL_BYTES);
    find_cpus();
    pin(cpu_a);
    calibrate();
    double tcost = timer_cost();

    if (!csv) {
        printf("cores: %d online, %d allowed; ", n_online, n_allowed);
        if (cpu_a >= 0)
            printf("producer pinned to cpu %d, consumer to cpu %d (separate processes)\n", cpu_a, cpu_b);
        else
            printf("ONE core: not pinned, spinning rings share it (figures are not meaningful)\n");
        printf("ring capacity: %zu KiB for 64 B records, %zu KiB for 64 KiB records; %d run%s of %.2f s each "
               "(+%.2f s warm-up), median [min - max]\n",
               cap_small >> 10, cap_large >> 10, reps, reps > 1 ? "s" : "", (double)run / 1e9, (double)warm / 1e9);
    } else {
        printf("section,mechanism,size,msgs_per_s,min,max,mb_per_s,ratio_ref,ratio_c11,csw_per_kmsg,full_pct,p50_us,"
               "p99_us,"
               "p999_us,target,verdict\n");
    }

    /* 64 B throughput: kernel mechanisms, the rings, the reference. */
    const int small_m[] = {M_PIPE, M_STREAM, M_SEQPKT, M_RING, M_SPIN, M_C11};
    const int large_m[] = {M_MEMCPY, M_PIPE, M_STREAM, M_SEQPKT, M_RING, M_SPIN, M_C11};
    const int lat_m[] = {M_STREAM64, M_RING, M_SPIN, M_C11};
    enum {
        NS = sizeof small_m / sizeof *small_m,
        NL = sizeof large_m / sizeof *large_m,
        NT = sizeof lat_m / sizeof *lat_m
    };
    double rs[NS][16], cs[NS][16], fs[NS][16], rl[NL][16], cl[NL][16], fl[NL][16];
    double l50[NT][16], l99[NT][16], l999[NT][16], lcsw[NT][16];
    for (int rep = 0; rep < reps; rep++) {
        sample s;
        for (int i = 0; i < NS; i++) {
            if (measure(K_TPUT, small_m[i], SMALL, cap_small, warm, run, &s) < 0) return 1;
            rs[i][rep] = s.rate, cs[i][rep] = s.csw_kmsg, fs[i][rep] = s.full;
        }
        for (int i = 0; i < NL; i++) {
            if (measure(large_m[i] == M_MEMCPY ? K_MEMCPY : K_TPUT, large_m[i], LARGE, cap_large, warm, run, &s) < 0)
                return 1;
            rl[i][rep] = s.rate, cl[i][rep] = s.csw_kmsg, fl[i][rep] = s.full;
        }
        for (int i = 0; i < NT; i++) {
            if (measure(K_LAT, lat_m[i], SMALL, cap_small, warm, lat_run, &s) < 0) return 1;
            l50[i][rep] = s.p50, l99[i][rep] = s.p99, l999[i][rep] = s.p999, lcsw[i][rep] = s.csw_kmsg;
        }
    }

    /* 64 B: the reference is the fastest kernel mechanism. */
    stat3 ss[NS], sl[NL];
    double kern = 0, c11s = 0, c11l = 0, memc = 0;
    int kern_i = 0;
    for (int i = 0; i < NS; i++) {
        ss[i] = summarise(rs[i], reps);
        if (small_m[i] <= M_SEQPKT && ss[i].med > kern) kern = ss[i].med, kern_i = small_m[i];
        if (small_m[i] == M_C11) c11s = ss[i].med;
    }
    for (int i = 0; i < NL; i++) {
        sl[i] = summarise(rl[i], reps);
        if (large_m[i] == M_MEMCPY) memc = sl[i].med;
        if (large_m[i] == M_C11) c11l = sl[i].med;
    }
    double ring_s = 0, spin_s = 0, ring_l = 0, spin_l = 0;
    char verdicts[8][160];
    int nv = 0;
    if (!csv) {
        printf("\nTHROUGHPUT  (ref: 64 B = fastest kernel mechanism, %s; 64 KiB = memcpy)\n", mech_name[kern_i]);
        printf("%-30s %6s %10s [%9s - %9s] %8s %7s %7s %8s %6s  %s\n", "mechanism", "size", "msgs/s", "min", "max",
               "MB/s", "x ref", "x C11", "csw/kmsg", "full%", "target");
    }
    for (int i = 0; i < NS; i++) {
        int m = small_m[i];
        const char *target = m == M_RING || m == M_SPIN ? ">= 10 x ref" : "";
        int met = ss[i].med >= 10 * kern;
        if (m == M_RING) ring_s = ss[i].med;
        if (m == M_SPIN) spin_s = ss[i].med;
        row_tput(m, SMALL, ss[i], summarise(cs[i], reps).med, summarise(fs[i], reps).med, kern, c11s, target,
                 *target ? (met ? "met" : "NOT MET") : "");
        if (*target)
            snprintf(verdicts[nv++], sizeof verdicts[0], "64 B %-26s >= 10 x %s: %.1f x  %s", mech_name[m],
                     mech_key[kern_i], ss[i].med / kern, met ? "met" : "NOT MET");
    }
    for (int i = 0; i < NL; i++) {
        int m = large_m[i];
        const char *target = m == M_RING || m == M_SPIN ? ">= 0.70 x ref" : "";
        int met = sl[i].med >= 0.70 * memc;
        if (m == M_RING) ring_l = sl[i].med;
        if (m == M_SPIN) spin_l = sl[i].med;
        row_tput(m, LARGE, sl[i], summarise(cl[i], reps).med, summarise(fl[i], reps).med, memc, c11l, target,
                 *target ? (met ? "met" : "NOT MET") : "");
        if (*target)
            snprintf(verdicts[nv++], sizeof verdicts[0], "64 KiB %-24s >= 0.70 x memcpy: %.2f x  %s", mech_name[m],
                     sl[i].med / memc, met ? "met" : "NOT MET");
    }

    /* Latency: the reference is the stream socket's p50. */
    stat3 t50[NT], t99[NT], t999[NT];
    double sock = 0;
    for (int i = 0; i < NT; i++) {
        t50[i] = summarise(l50[i], reps), t99[i] = summarise(l99[i], reps), t999[i] = summarise(l999[i], reps);
        if (lat_m[i] == M_STREAM64) sock = t50[i].med;
    }
    if (!csv) {
        printf("\nROUND TRIP, 64 B ping-pong  (ref: %s p50; median of %d runs' percentiles; each includes one "
               "timer read, %.0f ns)\n",
               mech_name[M_STREAM64], reps, tcost);
        printf("%-30s %9s [%7s - %7s] %9s %9s %8s %8s  %s\n", "mechanism", "p50 us", "min", "max", "p99 us", "p99.9 us",
               "ref/p50", "csw/kmsg", "target");
    }
    for (int i = 0; i < NT; i++) {
        int m = lat_m[i];
        double want = m == M_SPIN ? sock / 20 : m == M_RING ? sock : 0;
        const char *target = m == M_SPIN ? "p50 <= ref/20" : m == M_RING ? "p50 <= ref" : "";
        int met = t50[i].med <= want;
        double csw = summarise(lcsw[i], reps).med;
        if (csv)
            printf("rtt,%s,64,,,,,%.4f,,%.3f,,%.3f,%.3f,%.3f,%s,%s\n", mech_key[m], sock / t50[i].med, csw, t50[i].med,
                   t99[i].med, t999[i].med, target, want > 0 ? (met ? "met" : "NOT MET") : "");
        else
            printf("%-30s %9.3f [%7.3f - %7.3f] %9.3f %9.3f %8.1f %8.2f  %s%s%s\n", mech_name[m], t50[i].med,
                   t50[i].min, t50[i].max, t99[i].med, t999[i].med, sock / t50[i].med, csw, target,
                   want > 0 ? ": " : "", want > 0 ? (met ? "met" : "NOT MET") : "");
        if (want > 0)
            snprintf(verdicts[nv++], sizeof verdicts[0], "RTT %-27s %s: %.3f us vs %.3f us (%.1f x faster)  %s",
                     mech_name[m], target, t50[i].med, sock, sock / t50[i].med, met ? "met" : "NOT MET");
    }
    snprintf(verdicts[nv++], sizeof verdicts[0], "blocking vs polling, 64 B: futex/SPIN = %.2f (>= 0.50)  %s",
             ring_s / spin_s, ring_s >= 0.5 * spin_s ? "met" : "NOT MET");
    if (csv) /* ratio_ref: the blocking ring's rate over the polling one's */
        printf("blocking,ring/ring-spin,64,,,,,%.4f,,,,,,,>= 0.50,%s\ninfo,cores_online=%d "
               "cores_allowed=%d,,,,,,,,,,,,,,\n",
               ring_s / spin_s, ring_s >= 0.5 * spin_s ? "met" : "NOT MET", n_online, n_allowed);
    if (!csv) {
        printf("\nTARGETS\n");
        for (int i = 0; i < nv; i++)
            printf("  %s\n", verdicts[i]);
        printf("  (for information: 64 KiB futex/SPIN = %.2f; ring/C11 64 B: futex %.2f, SPIN %.2f)\n", ring_l / spin_l,
               ring_s / c11s, spin_s / c11s);
        printf("\n%d run%s repeated because another process took a core for > %.0f%% of it; %d of %d "
               "measurements still disturbed (at most %d retries each, %d in all)\n",
               n_retried, n_retried == 1 ? "" : "s", DISTURBED * 100, n_disturbed, reps * (NS + NL + NT), retries,
               RETRY_BUDGET);
    }
    if (fflush(stdout) == EOF) status = 1;
    return status;
}
