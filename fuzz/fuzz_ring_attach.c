/* Fuzzes attaching a shared-memory ring whose bytes a hostile or broken
   peer wrote (section 4, "Trust"): the input builds a region in a sealed
   memfd, ipc_ring_attach_fd takes it, and whatever it accepts is drained,
   written to and changed under it. The library promises IPC_ECORRUPT for a
   bad header or record, never an access outside the mapping, never a hang.

   The region: a memfd (MFD_ALLOW_SEALING | MFD_CLOEXEC) of 4096 + capacity
   bytes (or an input-chosen size, smaller than the header too), holding a
   valid version 1 ring: header, registry, indices anywhere in 2^64
   (wrapping too), and a few committed records laid out with the ring's own
   accounting (a pad record where one would not fit before the end). Then
   the input's byte overwrites, anywhere (named header fields and record
   headers are one byte away, so the fuzzer reaches deep states), then
   F_SEAL_SHRINK | F_SEAL_GROW and the attach, as IPC_O_RDONLY, IPC_O_WRONLY
   or both roles.

   Input layout:
     byte 0   bits 0-2 capacity 64 << v (64..4096), 7: 16384; bit 3 unused
              data bytes are 0xFF (else 0); bit 4 IPC_RING_MULTI; bit 5
              IPC_RING_SPIN; bit 6 the real mapping (else a heap mirror, as
              in fuzz_ring_ops.c: ASan sees an access past the region's end
              to the byte, and without ASan guard bytes catch a write
              there); bit 7 the file size is a u16 that follows,
              modulo 4096 + 16384 + 1, instead of 4096 + capacity
     byte     the starting index (head = tail before the records): v >> 6
              0: 8 (v & 63); 1: 2^64 - 8 ((v & 63) + 1), so they wrap; 2:
              capacity (v & 63) - 8 (a lap's end); 3: a u64 that follows, & ~7
     byte     registry: bits 0-1 the consumer's tid, 2-3 producer slot 0's,
              4-5 the lock word's (tids: 0 none, 1 ours, 2 a dead one, 3 a
              live process that is not us: pid 1, or | IPC__LOCK_WAITERS
              for the lock); bit 6 producers_ever; bit 7 consumer_closed
     byte     bits 0-1 the role: 0 and 3 both, 1 IPC_O_RDONLY, 2
              IPC_O_WRONLY; bits 2-3 the tid class of one more producer
              slot, 1 + 4 (bits 4-7)
     byte     records to lay out (v & 31), each a size and a salt byte;
              one that does not fit ends the layout. A size is a byte (and
              maybe two more), k = v & 31, by v >> 5: 0 k, 1 a u16 modulo
              capacity + 64, 2 max_record - k, 3 max_record + 1 + k, 4 16k,
              5 capacity / 2 - 8 + k, 6 SIZE_MAX - k, 7 8k (0-3, 6 and 7 as
              in fuzz_ring_ops.c)
     byte     overwrites before attaching (v & 31), each as a poke below
     then     operations, one byte each (v % 10) and its arguments:
              0 recv(size)   3 release         6 stat
              1 peek         4 send(size,salt) 7 poke (a hostile write now)
              2 peek twice,  5 reserve(size,salt) + commit(m)
                then recv    8 recv until an error  9 reserve, left open
   A poke: byte s; width 1 << (s & 3) bytes; target (s >> 2) & 31: 0-15
   the header fields (magic, version, flags, capacity, data_offset, tail,
   sent, high_water, full, lock, producers_ever, head, received, consumer,
   consumer_closed, producer[0]), 16-23 laid-out record 0-7's length, 24-29
   its tag, 30 data + a u16 (mod capacity), 31 the region + a u16 (mod
   size); bit 7: the value is an interesting one (a byte: 0, 1, 8,
   capacity, -8, tail/head +- 8, ~0, 2^31, the REC1/PAD1 tags, the magic,
   our tid, plus 8 (v >> 4)), else width literal bytes.
   After the operations: recv/peek until an error (at most 1024), then one
   send (-EBADF expected without the producer role), then close.

   Invariants (CHECK aborts):
   - attach answers as the header deserves: IPC_ECORRUPT when the size is
     under 4096 + 64, magic, version, data_offset, flags, capacity (a power
     of two, 64..1 GiB, = size - 4096) or the indices (8-aligned, tail -
     head <= capacity) are wrong; -ENXIO for an empty file; else 0, or
     -EBUSY when the role asked for is registered to a live process;
   - every call answers >= 0 or one of its documented codes (IPC_ECORRUPT,
     -EAGAIN, -EMSGSIZE, IPC_EOF, IPC_EPEERDEAD, -EPIPE, -EBUSY, -EINVAL,
     -EBADF for a role not held); a recv's length fits its buffer and
     the data area (capacity - 8); a send over ipc_ring_max_record
     (capacity / 2 - 8) is -EMSGSIZE; a peek's pointer and length lie inside the data area, on a
     record boundary; peeking twice shows the same record, and a recv right
     after copies exactly its bytes;
   - a clean region (no overwrite, no poke, its real size): every laid-out
     record, then every record sent, comes out once, in order, byte for
     byte; an empty ring answers -EAGAIN, IPC_EOF once every producer has
     gone, IPC_EPEERDEAD (or -EAGAIN, the pid check is throttled) when one
     died; -EBUSY exactly when a live other process holds the role;
   - the library signals no one: kill() only ever with signal 0 and a tid
     > 0 (kill is wrapped here);
   - nothing leaks: on failure the caller's descriptor stays open and the
     mapping is gone; after close the descriptor is closed too.

   Bugs it found (fixed; inputs in fuzz/regressions): a role joined after
   attach took the region's index unchecked and wrote past the mapping. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static void *fz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
static int fz_munmap(void *addr, size_t len);
static int fz_kill(pid_t pid, int sig);
#define mmap fz_mmap
#define munmap fz_munmap
#define kill fz_kill
#define IPC_IMPLEMENTATION
#include "ipc.h"
#undef mmap
#undef munmap
#undef kill

#include "fuzz_common.h"

/* ---- the library's view of the world ------------------------------------- */

static struct {
    int on;  /* this input mirrors the next shared mapping of a descriptor */
    void *p; /* the mirror in use, NULL: none */
    size_t len;
    int live; /* mappings made and not yet unmapped */
} mirror;

/* Without ASan (the AFL++ build) the mirror carries guard bytes after its
   end instead, checked after every operation: a write past the region
   still aborts. (Under ASan they would hide a read past the end.) */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(FZ_ASAN)
#define FZ_ASAN 1
#endif
#ifdef FZ_ASAN
#define GUARD 0
#else
#define GUARD 64
#endif

static void guard_check(void) {
    size_t i;
    for (i = 0; mirror.p && i < GUARD; i++)
        if (((uint8_t *)mirror.p)[mirror.len + i] != 0xA5) {
            fprintf(stderr, "byte %zu past the end of the region was written\n", i);
            abort();
        }
}

static void *fz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    void *p = mmap(addr, len, prot, flags, fd, off), *q;
    struct stat st;
    if (p == MAP_FAILED) return p;
    mirror.live++;
    if (!mirror.on || mirror.p || fd < 0 || addr || off || !(flags & MAP_SHARED)) return p;
    CHECK(fstat(fd, &st) == 0);
    CHECK((uint64_t)st.st_size >= len); /* never a mapping past the end of the file (SIGBUS) */
    CHECK(munmap(p, len) == 0);
    q = malloc(len + GUARD);
    CHECK(q != NULL);
    CHECK(pread(fd, q, len, 0) == (ssize_t)len);
    memset((uint8_t *)q + len, 0xA5, GUARD);
    mirror.p = q;
    mirror.len = len;
    return q;
}

static int fz_munmap(void *addr, size_t len) {
    int rc;
    if (addr && addr == mirror.p) {
        CHECK(len == mirror.len);
        guard_check();
        free(addr);
        mirror.p = NULL;
        mirror.live--;
        return 0;
    }
    rc = munmap(addr, len);
    if (rc == 0) mirror.live--;
    return rc;
}

/* The registered tids are the peer's to write: liveness may look, never
   touch. */
static int fz_kill(pid_t pid, int sig) {
    if (sig != 0 || pid <= 0) {
        fprintf(stderr, "ipc.h called kill(%d, %d)\n", (int)pid, sig);
        abort();
    }
    return kill(pid, sig);
}

/* ---- the region ------------------------------------------------------------- */

#define HDR IPC_RING_HEADER
#define CAP_MAX 16384
#define FILE_MAX (HDR + CAP_MAX)
#define DEAD_TID 0x7FFFFFF0 /* above any pid_max (2^22): kill says ESRCH */
#define LIVE_TID 1          /* init: alive in any pid namespace, never us */
#define LAID_MAX 64

typedef struct {
    uint32_t len, id;
    uint8_t salt;
} rec;

static uint8_t img[FILE_MAX];
static struct {
    uint64_t cap, mask, size;
    uint64_t base, tail;   /* the layout's indices */
    uint64_t at[LAID_MAX]; /* laid-out record headers (pads too) */
    int n_at;
    rec q[4096]; /* clean mode: the records due, in order */
    size_t qh, qn;
    uint32_t next_id;
    int clean, roles, multi;
    pid_t me;
    int have_resv; /* the last granted reservation, for a commit */
    rec resv;
} S;

static struct ipc__ring_hdr *H(void *base) {
    return (struct ipc__ring_hdr *)base;
}

/* ipc_ring_max_record: what a producer may send. A consumer takes any
   record that fits the buffer (up to capacity - 8): that is the bound a
   hostile region is held to. */
#define MAXREC(cap) ((cap) / 2 - 8)

static uint64_t rec_size(uint64_t n) {
    return 8 + ((n + 7) & ~(uint64_t)7);
}

static uint8_t pat(uint32_t id, uint8_t salt, size_t i) {
    static const uint8_t fake[16] = {8, 0, 0, 0, 'R', 'E', 'C', '1', 0xF8, 0x0F, 0, 0, 'P', 'A', 'D', '1'};
    uint32_t x;
    if (salt & 0x80) return fake[(i + id + salt) & 15];
    x = id * 0x9E3779B1u ^ (uint32_t)salt * 0x85EBCA6Bu ^ (uint32_t)i * 0xC2B2AE35u;
    x ^= x >> 15;
    x *= 0x2C1B3C6Du;
    return (uint8_t)(x ^ x >> 13);
}
static void fill(uint8_t *p, size_t n, uint32_t id, uint8_t salt) {
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = pat(id, salt, i);
}
static int same(const uint8_t *p, size_t n, uint32_t id, uint8_t salt) {
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != pat(id, salt, i)) {
            fprintf(stderr, "record %u: byte %zu is %02x, expected %02x\n", id, i, p[i], pat(id, salt, i));
            return 0;
        }
    return 1;
}

static void q_push(uint32_t len, uint32_t id, uint8_t salt) {
    rec *e;
    CHECK(S.qn < sizeof S.q / sizeof S.q[0]);
    e = &S.q[(S.qh + S.qn++) % (sizeof S.q / sizeof S.q[0])];
    e->len = len;
    e->id = id;
    e->salt = salt;
}
static void q_pop(void) {
    S.qh = (S.qh + 1) % (sizeof S.q / sizeof S.q[0]);
    S.qn--;
}

static pid_t tid_of(unsigned cls) {
    switch (cls & 3) {
    case 0: return 0;
    case 1: return S.me;
    case 2: return DEAD_TID;
    default: return LIVE_TID;
    }
}

static size_t dec_size(fz_in *in) {
    uint8_t b = fz_byte(in);
    uint64_t k = b & 31, max = MAXREC(S.cap);
    switch (b >> 5) {
    case 0: return (size_t)k;
    case 1: return (size_t)(fz_u16(in) % (S.cap + 64));
    case 2: return (size_t)(k <= max ? max - k : 0);
    case 3: return (size_t)(max + 1 + k); /* too big */
    case 4: return (size_t)(16 * k);
    case 5: return (size_t)(S.cap / 2 - 8 + k); /* around half the ring */
    case 6: return SIZE_MAX - (size_t)k;        /* huge */
    default: return (size_t)(8 * k);
    }
}

/* Lays out one committed record of n bytes at the tail, with the ring's
   accounting; 0 when it does not fit (the layout ends). */
static int lay(size_t n, uint8_t salt) {
    uint64_t need = rec_size(n), off = S.tail & S.mask, contig = S.cap - off;
    uint64_t total = need <= contig ? need : contig + need;
    uint8_t *data = img + HDR;
    uint32_t hdr[2];
    if (n > MAXREC(S.cap) || S.cap - (S.tail - S.base) < total || S.n_at + 2 > LAID_MAX) return 0;
    if (need > contig) {
        hdr[0] = (uint32_t)(contig - 8);
        hdr[1] = IPC__REC_PAD;
        memcpy(data + off, hdr, 8);
        S.at[S.n_at++] = S.tail;
        S.tail += contig;
        off = 0;
    }
    hdr[0] = (uint32_t)n;
    hdr[1] = IPC__REC_DATA;
    memcpy(data + off, hdr, 8);
    fill(data + off + 8, n, S.next_id, salt);
    S.at[S.n_at++] = S.tail;
    q_push((uint32_t)n, S.next_id++, salt);
    S.tail += need;
    return 1;
}

/* ---- pokes: a write anywhere, named fields close at hand --------------------- */

static const struct {
    size_t off, size;
} field[16] = {
    {offsetof(struct ipc__ring_hdr, magic), 8},
    {offsetof(struct ipc__ring_hdr, version), 4},
    {offsetof(struct ipc__ring_hdr, flags), 4},
    {offsetof(struct ipc__ring_hdr, capacity), 8},
    {offsetof(struct ipc__ring_hdr, data_offset), 8},
    {offsetof(struct ipc__ring_hdr, tail), 8},
    {offsetof(struct ipc__ring_hdr, sent), 8},
    {offsetof(struct ipc__ring_hdr, high_water), 8},
    {offsetof(struct ipc__ring_hdr, full), 8},
    {offsetof(struct ipc__ring_hdr, lock), 4},
    {offsetof(struct ipc__ring_hdr, producers_ever), 4},
    {offsetof(struct ipc__ring_hdr, head), 8},
    {offsetof(struct ipc__ring_hdr, received), 8},
    {offsetof(struct ipc__ring_hdr, consumer), 4},
    {offsetof(struct ipc__ring_hdr, consumer_closed), 4},
    {offsetof(struct ipc__ring_hdr, producer), 4},
};

/* Writes one poke's bytes into region (size bytes, the header's values as
   they are now). */
static void poke(fz_in *in, uint8_t *region, size_t size) {
    uint8_t s = fz_byte(in), v, buf[8];
    size_t width = (size_t)1 << (s & 3), t = (s >> 2) & 31, off, i;
    uint64_t x = 0, rel = 0, cur_tail = 0, cur_head = 0;
    if (size >= HDR) {
        memcpy(&cur_tail, region + offsetof(struct ipc__ring_hdr, tail), 8);
        memcpy(&cur_head, region + offsetof(struct ipc__ring_hdr, head), 8);
    }
    if (t < 16) {
        off = field[t].off;
        if (width > field[t].size) width = field[t].size;
    } else if (t < 30) {
        size_t k = (t - 16) % 8;
        off = HDR + (size_t)(S.n_at ? S.at[k % (size_t)S.n_at] & S.mask : 0) + (t >= 24 ? 4 : 0);
        if (width > 4) width = 4;
    } else if (t == 30) {
        off = HDR + fz_u16(in) % S.cap;
    } else {
        off = fz_u16(in) % (size ? size : 1);
    }
    if (s & 0x80) {
        v = fz_byte(in);
        rel = 8 * (uint64_t)(v >> 4);
        switch (v & 15) {
        case 0: x = rel; break;
        case 1: x = 1 + rel; break;
        case 2: x = 8; break;
        case 3: x = S.cap + rel; break;
        case 4: x = (uint64_t)0 - 8 - rel; break;
        case 5: x = cur_tail + 8 + rel; break;
        case 6: x = cur_tail - 8 - rel; break;
        case 7: x = cur_head + 8 + rel; break;
        case 8: x = cur_head - 8 - rel; break;
        case 9: x = ~(uint64_t)0; break;
        case 10: x = 0x80000000u; break;
        case 11: x = IPC__REC_DATA; break;
        case 12: x = IPC__REC_PAD; break;
        case 13: x = IPC__RING_MAGIC; break;
        case 14: x = (uint64_t)S.me; break;
        default: x = S.cap - 8 - rel; break;
        }
        memcpy(buf, &x, 8); /* the low bytes first: this machine's order */
    } else {
        for (i = 0; i < width; i++)
            buf[i] = fz_byte(in);
    }
    for (i = 0; i < width && off + i < size; i++)
        region[off + i] = buf[i];
}

/* ---- the checks ------------------------------------------------------------- */

static ipc_ring R;

/* Whether the documented attach-time validation passes for this image. */
static int header_valid(const uint8_t *p, size_t size) {
    struct ipc__ring_hdr h;
    uint64_t c;
    if (size < (size_t)HDR + IPC_RING_MIN) return 0;
    memcpy(&h, p, sizeof h);
    c = h.capacity;
    if (h.magic != IPC__RING_MAGIC || h.version != IPC_RING_VERSION || h.data_offset != HDR) return 0;
    if (c < IPC_RING_MIN || (c & (c - 1)) || c > IPC__RING_MAX_CAP || c != (uint64_t)size - HDR) return 0;
    if (h.flags & ~(uint32_t)(IPC_RING_MULTI | IPC_RING_SPIN)) return 0;
    if (((h.tail | h.head) & 7) || h.tail - h.head > c) return 0;
    return 1;
}

static int known_code(long long rc) {
    return rc == IPC_ECORRUPT || rc == -EAGAIN || rc == -EMSGSIZE || rc == IPC_EOF || rc == IPC_EPEERDEAD ||
           rc == -EPIPE || rc == -EBUSY || rc == -EINVAL || rc == -EBADF;
}

#define ANSWER_OK(rc, what)                                                                                            \
    do {                                                                                                               \
        long long r_ = (long long)(rc);                                                                                \
        if (r_ < 0 && !known_code(r_)) {                                                                               \
            fprintf(stderr, "%s:%d: %s answered %lld (%s)\n", __FILE__, __LINE__, what, r_, ipc_strerror((int)r_));    \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

#define EXPECT(got, want)                                                                                              \
    do {                                                                                                               \
        long long g_ = (long long)(got), w_ = (long long)(want);                                                       \
        if (g_ != w_) {                                                                                                \
            fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__, #got, g_, w_);                   \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* Clean mode: whether tid is alive, as the library judges the tids this
   harness writes. */
static int alive(int32_t tid) {
    return tid == S.me || tid == LIVE_TID;
}

/* Clean mode: what a consumer finding the ring empty may answer. */
static void check_empty_answer(long long rc) {
    struct ipc__ring_hdr *h = H(R.shm.addr);
    int i, n = h->flags & IPC_RING_MULTI ? 64 : 1, any = 0, live = 0;
    if (!h->producers_ever) {
        EXPECT(rc, -EAGAIN);
        return;
    }
    for (i = 0; i < n; i++) {
        any |= h->producer[i] != 0;
        live |= h->producer[i] != 0 && alive(h->producer[i]);
    }
    if (!any)
        EXPECT(rc, IPC_EOF);
    else if (live)
        EXPECT(rc, -EAGAIN);
    else if (rc != -EAGAIN)
        EXPECT(rc, IPC_EPEERDEAD);
}

/* The consumer role: -EBADF without it; -EBUSY (clean mode: exactly when
   another live tid is registered). Returns 1 when rc is one of those. */
static int role_answer(long long rc, int role) {
    struct ipc__ring_hdr *h = H(R.shm.addr);
    if (!(S.roles & role)) {
        EXPECT(rc, -EBADF);
        return 1;
    }
    CHECK(rc != -EBADF);
    if (!(R.joined & role)) {
        int busy;
        if (!S.clean) return rc == -EBUSY;
        if (role == IPC__ROLE_CONSUMER) {
            busy = h->consumer != 0 && h->consumer != S.me && alive(h->consumer);
        } else {
            int i, n = h->flags & IPC_RING_MULTI ? 64 : 1;
            busy = 1;
            for (i = 0; i < n; i++)
                busy &= h->producer[i] != 0 && h->producer[i] != S.me && alive(h->producer[i]);
        }
        EXPECT(rc == -EBUSY, busy);
        return busy;
    }
    return 0;
}

/* A record seen in place: inside the data area, on a record boundary. */
static void check_in_place(const void *p, ssize_t n) {
    const uint8_t *d = (const uint8_t *)R.shm.addr + HDR, *q = (const uint8_t *)p;
    CHECK(n >= 0 && (uint64_t)n <= S.cap - 8);
    CHECK(q >= (const uint8_t *)R.shm.addr && q + n <= (const uint8_t *)R.shm.addr + R.shm.size);
    CHECK(q >= d + 8 && (uint64_t)(q - d) + rec_size((uint64_t)n) - 8 <= S.cap && (q - d) % 8 == 0);
}

static uint8_t rbuf[CAP_MAX];

static ssize_t op_recv(size_t cap) {
    size_t room = cap < sizeof rbuf ? cap : sizeof rbuf;
    uint8_t *buf = rbuf + sizeof rbuf - room;
    ssize_t rc;
    rc = ipc_ring_recv(&R, buf, cap, 0);
    ANSWER_OK(rc, "ipc_ring_recv");
    if (role_answer(rc, IPC__ROLE_CONSUMER)) return rc;
    if (rc >= 0) CHECK((size_t)rc <= cap && (uint64_t)rc <= S.cap - 8);
    if (!S.clean) return rc;
    if (!S.qn) {
        check_empty_answer(rc);
    } else if (S.q[S.qh].len > cap) {
        EXPECT(rc, -EMSGSIZE);
    } else {
        EXPECT(rc, S.q[S.qh].len);
        CHECK(same(buf, (size_t)rc, S.q[S.qh].id, S.q[S.qh].salt));
        q_pop();
    }
    return rc;
}

static void op_peek(int twice) {
    const void *p = NULL, *p2 = NULL;
    static uint8_t copy[CAP_MAX];
    ssize_t rc, rc2;
    rc = ipc_ring_peek(&R, &p, 0);
    ANSWER_OK(rc, "ipc_ring_peek");
    if (role_answer(rc, IPC__ROLE_CONSUMER)) return;
    if (rc >= 0) {
        check_in_place(p, rc);
        if (S.clean) {
            CHECK(S.qn > 0);
            EXPECT(rc, S.q[S.qh].len);
            CHECK(same((const uint8_t *)p, (size_t)rc, S.q[S.qh].id, S.q[S.qh].salt));
        }
    } else {
        CHECK(rc != -EMSGSIZE && rc != -EINVAL);
        if (S.clean) {
            CHECK(S.qn == 0);
            check_empty_answer(rc);
        }
        return;
    }
    if (!twice) return;
    /* Peeking again without a release shows the same record, and a recv
       then copies exactly it: whatever the region holds, nothing moved. */
    memcpy(copy, p, (size_t)rc);
    rc2 = ipc_ring_peek(&R, &p2, 0);
    EXPECT(rc2, rc);
    CHECK(p2 == p);
    rc2 = ipc_ring_recv(&R, rbuf, sizeof rbuf, 0);
    EXPECT(rc2, rc);
    CHECK(memcmp(rbuf, copy, (size_t)rc) == 0);
    if (S.clean) q_pop();
}

static void op_release(void) {
    int rc = ipc_ring_release(&R);
    ANSWER_OK(rc, "ipc_ring_release");
    CHECK(rc == 0 || rc == -EINVAL);
    /* Clean mode: a release that worked took the front record (whether
       release without a peek is refused is fuzz_ring_ops.c's to check). */
    if (rc == 0 && S.clean) {
        CHECK(S.qn > 0);
        q_pop();
    }
}

/* The producer side. Returns 1 when the role answer was the whole story. */
static int producer_answer(long long rc, size_t n) {
    if ((S.roles & IPC__ROLE_PRODUCER) && n > MAXREC(S.cap)) { /* checked before the role joins */
        EXPECT(rc, -EMSGSIZE);
        return 1;
    }
    if (role_answer(rc, IPC__ROLE_PRODUCER)) return 1;
    CHECK(rc != -EMSGSIZE && rc != -EINVAL && rc != IPC_EOF);
    if (S.clean) CHECK(rc != IPC_ECORRUPT); /* a valid ring is never called corrupt */
    return 0;
}

static void op_send(size_t n, uint8_t salt) {
    static uint8_t src[CAP_MAX];
    int rc;
    if (n <= sizeof src) {
        fill(src + sizeof src - n, n, S.next_id, salt);
        rc = ipc_ring_send(&R, src + sizeof src - n, n, 0);
    } else {
        rc = ipc_ring_send(&R, src, n, 0); /* must be refused before any read */
    }
    ANSWER_OK(rc, "ipc_ring_send");
    if (producer_answer(rc, n)) return;
    if (rc == 0) {
        S.have_resv = 0; /* a reservation left open is dropped */
        if (S.clean) q_push((uint32_t)n, S.next_id, salt);
        S.next_id++;
    }
}

static void op_reserve(size_t n, uint8_t salt) {
    void *where = NULL;
    int rc;
    rc = ipc_ring_reserve(&R, n, &where, 0);
    ANSWER_OK(rc, "ipc_ring_reserve");
    if (producer_answer(rc, n) || rc < 0) return;
    {
        const uint8_t *d = (const uint8_t *)R.shm.addr + HDR, *w = (const uint8_t *)where;
        CHECK(w >= d + 8 && (w - d) % 8 == 0 && (uint64_t)(w - d) + rec_size(n) - 8 <= S.cap);
    }
    fill((uint8_t *)where, n, S.next_id, salt);
    S.have_resv = 1;
    S.resv.len = (uint32_t)n;
    S.resv.id = S.next_id++;
    S.resv.salt = salt;
}

static void op_commit(size_t m) {
    int rc = ipc_ring_commit(&R, m);
    CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        /* Only the last reservation granted can be committed (ipc.h today
           keeps one open across a failed reserve; either way it is this). */
        CHECK(S.have_resv && m <= S.resv.len);
        if (S.clean) q_push((uint32_t)m, S.resv.id, S.resv.salt);
        S.have_resv = 0;
    } else if (S.have_resv && m <= S.resv.len && (R.joined & IPC__ROLE_PRODUCER)) {
        S.have_resv = 0; /* the library dropped it (a failed reserve did) */
    }
}

static void op_stat(void) {
    ipc_ring_info info;
    EXPECT(ipc_ring_stat(&R, &info), 0);
    EXPECT(info.capacity, S.cap);
    CHECK(info.used <= S.cap);
    CHECK(info.producers >= 0 && info.producers <= 64);
    EXPECT(ipc_ring_max_record(&R), MAXREC(S.cap));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = {data, size, 0};
    uint8_t b0 = fz_byte(&in), b, reg, roles;
    unsigned e = b0 & 7, i, k;
    int fd, rc, flags;
    size_t n;
    struct ipc__ring_hdr *h = H(img);

    memset(&S, 0, sizeof S);
    memset(&R, 0, sizeof R);
    S.me = (pid_t)syscall(SYS_gettid);
    S.cap = e == 7 ? CAP_MAX : (uint64_t)64 << e;
    S.mask = S.cap - 1;
    S.size = HDR + S.cap;
    S.multi = (b0 & 0x10) != 0;
    S.clean = 1;
    mirror.on = !(b0 & 0x40);
    if (b0 & 0x80) {
        uint64_t sz = fz_u16(&in) % (FILE_MAX + 1);
        S.clean = sz == S.size;
        S.size = sz;
    }

    /* A valid ring first. */
    memset(img, 0, sizeof img);
    if (b0 & 8) memset(img + HDR, 0xFF, sizeof img - HDR);
    h->magic = IPC__RING_MAGIC;
    h->version = IPC_RING_VERSION;
    h->flags = (b0 & 0x10 ? IPC_RING_MULTI : 0u) | (b0 & 0x20 ? IPC_RING_SPIN : 0u);
    h->capacity = S.cap;
    h->data_offset = HDR;
    b = fz_byte(&in);
    switch (b >> 6) {
    case 0: S.base = 8 * (uint64_t)(b & 63); break;
    case 1: S.base = (uint64_t)0 - 8 * ((uint64_t)(b & 63) + 1); break;
    case 2: S.base = S.cap * (uint64_t)(b & 63) - 8; break;
    default:
        for (i = 0; i < 8; i++)
            S.base |= (uint64_t)fz_byte(&in) << (8 * i);
        S.base &= ~(uint64_t)7;
    }
    S.tail = S.base;
    reg = fz_byte(&in);
    roles = fz_byte(&in);
    h->consumer = tid_of(reg);
    h->producer[0] = tid_of(reg >> 2);
    h->lock = (uint32_t)tid_of(reg >> 4) | ((reg >> 4 & 3) == 3 ? IPC__LOCK_WAITERS : 0);
    h->producers_ever = (reg >> 6) & 1;
    h->consumer_closed = reg >> 7;
    h->producer[1 + 4 * (roles >> 4)] = tid_of(roles >> 2);
    S.roles = (roles & 3) == 1   ? IPC__ROLE_CONSUMER
              : (roles & 3) == 2 ? IPC__ROLE_PRODUCER
                                 : IPC__ROLE_CONSUMER | IPC__ROLE_PRODUCER;
    flags = (roles & 3) == 1 ? IPC_O_RDONLY : (roles & 3) == 2 ? IPC_O_WRONLY : 0;
    k = fz_byte(&in) & 31;
    for (i = 0; i < k; i++) {
        n = dec_size(&in);
        if (!lay(n, fz_byte(&in))) break;
    }
    h->head = S.base;
    h->tail = S.tail;
    h->received = S.base / 8; /* any counts will do: a snapshot */
    h->sent = h->received + S.next_id;
    h->high_water = S.tail - S.base;

    /* The hostile part. */
    k = fz_byte(&in) & 31;
    for (i = 0; i < k; i++)
        poke(&in, img, (size_t)S.size);
    if (k) S.clean = 0;

    CHECK((fd = memfd_create("fuzz.ring", MFD_ALLOW_SEALING | MFD_CLOEXEC)) >= 0);
    CHECK(ftruncate(fd, (off_t)S.size) == 0);
    CHECK(pwrite(fd, img, (size_t)S.size, 0) == (ssize_t)S.size);
    CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);

    rc = ipc_ring_attach_fd(&R, fd, flags);
    if (S.size == 0) {
        EXPECT(rc, -ENXIO);
    } else if (!header_valid(img, (size_t)S.size)) {
        EXPECT(rc, IPC_ECORRUPT);
    } else if (S.clean) { /* a single role joins at attach; both on first use */
        int busy = flags == IPC_O_RDONLY   ? h->consumer != S.me && alive(h->consumer)
                   : flags == IPC_O_WRONLY ? h->producer[0] != S.me && alive(h->producer[0]) && !S.multi
                                           : 0;
        EXPECT(rc, busy ? -EBUSY : 0);
    } else if (rc == -EBUSY) {
        CHECK(flags != 0);
    } else {
        EXPECT(rc, 0);
    }
    if (rc < 0) {
        CHECK(mirror.live == 0 && mirror.p == NULL); /* nothing mapped is left */
        CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);     /* the caller's descriptor stays */
        EXPECT(close(fd), 0);
        return 0;
    }
    CHECK(R.shm.fd == fd && R.shm.size == S.size && mirror.live == 1);
    CHECK(mirror.on == (R.shm.addr == mirror.p));

    for (i = 0; fz_left(&in) && i < 512; i++) {
        switch (fz_byte(&in) % 10) {
        case 0: op_recv(dec_size(&in)); break;
        case 1: op_peek(0); break;
        case 2: op_peek(1); break;
        case 3: op_release(); break;
        case 4:
            n = dec_size(&in);
            op_send(n, fz_byte(&in));
            break;
        case 5:
            n = dec_size(&in);
            op_reserve(n, fz_byte(&in));
            b = fz_byte(&in);
            op_commit(b & 0x80 ? n + (b & 0x7F) : n - (b <= n ? b : n));
            break;
        case 6: op_stat(); break;
        case 7:
            poke(&in, (uint8_t *)R.shm.addr, R.shm.size);
            S.clean = 0;
            break;
        case 8:
            for (k = 0; k < 1024 && op_recv(sizeof rbuf) >= 0; k++) {
            }
            break;
        default:
            n = dec_size(&in);
            op_reserve(n, fz_byte(&in));
            break;
        }
        guard_check();
    }

    /* Drain (peek twice + recv, and recv), then one send. */
    for (k = 0; k < 4096; k++) {
        if (k & 1) {
            if (op_recv(sizeof rbuf) < 0) break;
        } else {
            const void *p;
            ssize_t rc1;
            rc1 = ipc_ring_peek(&R, &p, 0);
            if (rc1 < 0) {
                ANSWER_OK(rc1, "ipc_ring_peek");
                if (!role_answer(rc1, IPC__ROLE_CONSUMER) && S.clean) {
                    CHECK(S.qn == 0);
                    check_empty_answer(rc1);
                }
                break;
            }
            check_in_place(p, rc1);
            op_peek(1);
        }
    }
    if (S.clean && (S.roles & IPC__ROLE_CONSUMER) && (R.joined & IPC__ROLE_CONSUMER)) EXPECT(S.qn, 0);
    op_send(7, 0x5A);
    op_stat();
    guard_check();

    EXPECT(ipc_ring_close(&R), 0);
    CHECK(mirror.live == 0 && mirror.p == NULL);
    CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
    return 0;
}
