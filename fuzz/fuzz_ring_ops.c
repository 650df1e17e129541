/* Fuzzes the shared-memory ring's API (section 4) against a model: one
   anonymous ring (ipc_ring_open(NULL, IPC_O_CREATE): both roles in one
   handle, a single thread, every call with timeout 0) and a sequence of
   operations the input chooses. Every result is checked against a plain
   FIFO that does the ring's exact space accounting, so -EAGAIN is predicted
   to the byte and every payload, pointer, length and counter is compared.

   The model (the ring's contract, ipc.h section 4):
   - a record takes 8 + round8(n) bytes and never wraps: when it does not
     fit before the end of the buffer, a pad record fills the end first;
     a reserve succeeds iff capacity - (tail - head) holds pad + record,
     else -EAGAIN (and info.full counts it); n > ipc_ring_max_record,
     capacity / 2 - 8, is -EMSGSIZE: a record that size finds room at any
     position once the ring has emptied (checked: a reserve refused where
     even an emptied ring would refuse it aborts, as a send that would
     wait forever);
   - the producer's index lives in the handle: a pad written by a
     reservation that was then dropped stays (published with the next
     commit); with IPC_RING_MULTI each reserve starts from the published
     tail again (under the lock), so the pad is written afresh;
   - a reservation is dropped by the next reserve or send, whatever that
     call returns ("a reservation that is never committed is dropped by the
     next reserve"); commit without one, or of more than was reserved, is
     -EINVAL;
   - the consumer skips pads when it looks for the next record, and
     publishes its index at once (info.used shows it); peek shows a record
     in place and keeps it; release is -EINVAL unless a peek showed a
     record that has not been released (or received) since; recv copies the
     record out and releases it, or answers -EMSGSIZE and keeps it;
   - info: used = published tail - head, depth = sent - received,
     high_water the most bytes in use at any commit (pads included), the
     consumer and producers registered on first use of each role.

   Input layout:
     byte 0   bits 0-2 capacity 64 << min(v, 6) (64..4096); bit 3 pass an
              unrounded capacity (half + 1, or 0 for 64); bit 4
              IPC_RING_MULTI; bit 5 IPC_RING_SPIN; bit 6 start both indices
              near 2^64 (byte 1 says how near: 8 * (v + 1) bytes before it),
              so they wrap during the run; bit 7 the real mapping (else a
              heap mirror, see below)
     then     operations, one byte each (v % 12) and its arguments:
       0 send(size, salt)          6 release
       1 recv(size)                7 peek twice (same record, same place)
       2 reserve(size, salt)       8 peek + release
       3 commit(m)                 9 stat, max_record
       4 reserve + commit(m)      10 send(size) until the ring refuses
       5 peek                     11 recv until the ring is empty
     A size is a byte (and maybe two more): v >> 5 picks 0 literal v & 31,
     1 a u16 modulo capacity + 64, 2 max_record - k, 3 max_record + 1 + k,
     4 the room left before the end of the buffer - 8 -/+ k (fits exactly,
     or just needs a pad), 5 the free space - 8 - k (fills the ring), 6 huge
     (SIZE_MAX - k, about 2^32, k x capacity), 7 8k. A commit's m: v >> 6
     picks reserved - k, k, reserved + 1 + k (-EINVAL), or a u16.
   After the operations the ring is drained and checked, then closed: the
   mapping must be gone and the memfd (close-on-exec) closed.

   Heap mirror: the harness's own mmap stands in for the library's (the
   macros below, this file only): the real mmap runs (so its answer is the
   kernel's), then, unless bit 7 asked for the real mapping, the region is
   copied into a malloc block of exactly its size, and the library uses
   that. One process uses the ring, so MAP_SHARED adds nothing; in return
   ASan sees any access past the region's end to the byte, where the real
   mapping (4096 + capacity bytes: not a page multiple below 4096) would
   say nothing. Without ASan (the AFL++ build) the block carries guard
   bytes instead, checked after every operation.

   Bugs it found (fixed; inputs in fuzz/regressions): a failed reserve
   left the earlier reservation committable (with IPC_RING_MULTI, without
   the lock); a failed recv left a peek for release to drop; "nothing
   peeked" was index 0, a real index after 2^64 bytes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static void *fz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
static int fz_munmap(void *addr, size_t len);
#define mmap fz_mmap
#define munmap fz_munmap
#define IPC_IMPLEMENTATION
#include "ipc.h"
#undef mmap
#undef munmap

#include "fuzz_common.h"

/* ---- heap mirror of the ring's mapping ---------------------------------- */

static struct {
    int on;  /* this input mirrors the next shared mapping of a descriptor */
    void *p; /* the mirror in use, NULL: none */
    size_t len;
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
    if (p == MAP_FAILED || !mirror.on || mirror.p || fd < 0 || addr || off || !(flags & MAP_SHARED)) return p;
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
    if (addr && addr == mirror.p) {
        CHECK(len == mirror.len);
        guard_check();
        free(addr);
        mirror.p = NULL;
        return 0;
    }
    return munmap(addr, len);
}

/* ---- the model -------------------------------------------------------------- */

#define QMAX 1024 /* records in the ring at most: 4096 / 8 = 512 */

typedef struct {
    uint64_t pos; /* where its header is (an index: % capacity) */
    uint32_t len, id;
    uint8_t salt;
} rec;

static struct model {
    uint64_t cap, mask;
    int multi;
    unsigned flags;              /* IPC_RING_MULTI, IPC_RING_SPIN */
    uint64_t ptail, ltail, head; /* published tail, the producer's own, the consumer's */
    int resv_open;
    int locked; /* IPC_RING_MULTI: the producers' lock is ours */
    uint64_t resv_pos;
    size_t resv_len;
    uint32_t resv_id;
    uint8_t resv_salt;
    rec q[QMAX];
    size_t qh, qn;
    int peeked;
    uint64_t sent, received, full, hw;
    int prod, cons; /* the roles joined */
    uint32_t next_id;
} M;

/* ipc_ring_max_record: the largest record that fits at any position of an
   emptied ring (a record never wraps). */
#define MAXREC(cap) ((cap) / 2 - 8)

static uint64_t rec_size(uint64_t n) {
    return 8 + ((n + 7) & ~(uint64_t)7);
}

/* Payload byte i of record id: a hash, or (salt bit 7) bytes that look like
   record headers, lengths and tags, to tempt a consumer that misreads. */
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

#define EXPECT(got, want)                                                                                              \
    do {                                                                                                               \
        long long g_ = (long long)(got), w_ = (long long)(want);                                                       \
        if (g_ != w_) {                                                                                                \
            fprintf(stderr, "%s:%d: %s is %lld, the model says %lld\n", __FILE__, __LINE__, #got, g_, w_);             \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* Producer: what a reserve of n bytes answers, and the state after it. */
static int m_reserve(size_t n) {
    uint64_t need, off, contig, total;
    if (n > MAXREC(M.cap)) { /* checked before the role joins: no side effect but the dropped reservation */
        M.resv_open = M.locked = 0;
        return -EMSGSIZE;
    }
    M.prod = 1; /* the role joins on first use */
    if (M.multi) M.ltail = M.ptail; /* re-read under the lock */
    need = rec_size(n);
    off = M.ltail & M.mask;
    contig = M.cap - off;
    total = need <= contig ? need : contig + need;
    if (M.cap - (M.ltail - M.head) < total) {
        /* Liveness: when even a consumer that released everything would
           leave too little room (the ring drained, the tail where it is),
           this reserve can never succeed: a blocking send of a record
           within ipc_ring_max_record would wait forever on an empty ring.
           (ipc.h had this with max_record = capacity - 8, until a3b700d.) */
        if (M.cap - (M.ltail - M.ptail) < total) {
            fprintf(stderr,
                    "a record of %zu bytes (max_record %llu) never fits: ring of %llu, tail at offset %llu, "
                    "%llu bytes queued: a blocking send would wait forever\n",
                    n, (unsigned long long)MAXREC(M.cap), (unsigned long long)M.cap, (unsigned long long)off,
                    (unsigned long long)(M.ptail - M.head));
            abort();
        }
        M.full++;
        M.resv_open = 0;
        M.locked = 0;
        return -EAGAIN;
    }
    if (need > contig) M.ltail += contig; /* the pad */
    M.resv_open = 1;
    M.locked = M.multi;
    M.resv_pos = M.ltail;
    M.resv_len = n;
    M.resv_id = M.next_id++;
    return 0;
}

static int m_commit(size_t m) {
    uint64_t end, used;
    rec *e;
    if (!M.resv_open || m > M.resv_len) return -EINVAL;
    CHECK(M.qn < QMAX);
    e = &M.q[(M.qh + M.qn++) % QMAX];
    e->pos = M.resv_pos;
    e->len = (uint32_t)m;
    e->id = M.resv_id;
    e->salt = M.resv_salt;
    end = M.resv_pos + rec_size(m);
    M.sent++;
    used = end - M.head;
    CHECK(used <= M.cap); /* the model's own sanity */
    if (used > M.hw) M.hw = used;
    M.ptail = M.ltail = end;
    M.resv_open = M.locked = 0;
    return 0;
}

/* Consumer: the next record (skipping a pad), or NULL when empty. */
static rec *m_front(void) {
    rec *e;
    M.cons = 1;
    if (!M.qn) {
        CHECK(M.head == M.ptail);
        return NULL;
    }
    e = &M.q[M.qh];
    if (e->pos != M.head) {
        CHECK(e->pos - M.head == M.cap - (M.head & M.mask)); /* only a pad to the end */
        M.head = e->pos;
    }
    return e;
}

static void m_pop(void) {
    M.head += rec_size(M.q[M.qh].len);
    M.qh = (M.qh + 1) % QMAX;
    M.qn--;
    M.received++;
    M.peeked = 0;
}

/* ---- checks against the ring ------------------------------------------------ */

static ipc_ring R;
static uint8_t *data0; /* the ring's data area */
static pid_t me;
static uint8_t rbuf[4096]; /* recv buffer: its end is a redzone (ASan) */

static void check_stat(void) {
    ipc_ring_info info;
    guard_check();
    EXPECT(ipc_ring_stat(&R, &info), 0);
    EXPECT(info.capacity, M.cap);
    EXPECT(info.used, M.ptail - M.head);
    EXPECT(info.high_water, M.hw);
    EXPECT(info.depth, M.sent - M.received);
    EXPECT(info.sent, M.sent);
    EXPECT(info.received, M.received);
    EXPECT(info.full, M.full);
    EXPECT(info.flags, M.flags);
    EXPECT(info.consumer, M.cons ? me : 0);
    EXPECT(info.producers, M.prod);
    /* "With IPC_RING_MULTI the lock is held from reserve to commit", and
       only then; never taken without IPC_RING_MULTI. */
    EXPECT(__atomic_load_n(&((struct ipc__ring_hdr *)R.shm.addr)->lock, __ATOMIC_RELAXED), M.locked ? (uint32_t)me : 0);
}

/* The record e, seen at p with length n: in place, whole, unchanged. */
static void check_in_place(const void *p, size_t n, const rec *e) {
    EXPECT(n, e->len);
    EXPECT((const uint8_t *)p - data0, (e->pos & M.mask) + 8);
    CHECK((const uint8_t *)p + n <= data0 + M.cap);
    CHECK(same((const uint8_t *)p, n, e->id, e->salt));
}

static size_t dec_size(fz_in *in) {
    uint8_t b = fz_byte(in);
    int64_t k = b & 31, max = (int64_t)MAXREC(M.cap), v;
    int64_t contig = (int64_t)(M.cap - (M.ltail & M.mask)), room = (int64_t)(M.cap - (M.ltail - M.head));
    switch (b >> 5) {
    case 0: return (size_t)k;
    case 1: return (size_t)(fz_u16(in) % (M.cap + 64));
    case 2: v = max - k; break;
    case 3: v = max + 1 + k; break;
    case 4: v = k < 16 ? contig - 8 - k : contig - 8 + (k - 15); break;
    case 5: v = room - 8 - k; break;
    case 6:
        if (k < 8) return SIZE_MAX - (size_t)k;
        if (k < 16) return (size_t)UINT32_MAX - 4 + (size_t)(k - 8);
        return (size_t)M.cap * (size_t)(k - 14);
    default: return (size_t)k * 8;
    }
    return v < 0 ? 0 : (size_t)v;
}

static size_t dec_commit(fz_in *in) {
    uint8_t b = fz_byte(in);
    size_t k = b & 63, n = M.resv_open ? M.resv_len : 0;
    switch (b >> 6) {
    case 0: return k <= n ? n - k : 0;
    case 1: return k;
    case 2: return n + 1 + k;
    default: return fz_u16(in);
    }
}

static int op_send(size_t n, uint8_t salt) {
    static uint8_t src[4096 + 64];
    uint32_t id = M.next_id;
    int want = m_reserve(n), rc;
    if (want == 0) {
        M.resv_salt = salt;
        want = m_commit(n);
        CHECK(want == 0);
    }
    /* The source: exact length up to the buffer, else a pointer that must
       never be read (the size is refused first). */
    if (n <= sizeof src) {
        fill(src + sizeof src - n, n, id, salt);
        rc = ipc_ring_send(&R, src + sizeof src - n, n, 0);
    } else {
        rc = ipc_ring_send(&R, src, n, 0);
    }
    EXPECT(rc, want);
    return rc;
}

static void op_reserve(size_t n, uint8_t salt) {
    void *where = NULL;
    int want = m_reserve(n), rc = ipc_ring_reserve(&R, n, &where, 0);
    EXPECT(rc, want);
    if (rc == 0) {
        M.resv_salt = salt;
        EXPECT((uint8_t *)where - data0, (M.resv_pos & M.mask) + 8);
        CHECK((uint8_t *)where + n <= data0 + M.cap);
        fill((uint8_t *)where, n, M.resv_id, salt);
    }
}

static void op_commit(size_t m) {
    int want = m_commit(m);
    EXPECT(ipc_ring_commit(&R, m), want);
}

static ssize_t op_recv(size_t cap) {
    size_t room = cap < sizeof rbuf ? cap : sizeof rbuf;
    uint8_t *buf = rbuf + sizeof rbuf - room;
    rec *e = m_front();
    ssize_t rc = ipc_ring_recv(&R, buf, cap, 0);
    if (!e) {
        EXPECT(rc, -EAGAIN);
    } else if (e->len > cap) {
        EXPECT(rc, -EMSGSIZE);
    } else {
        EXPECT(rc, e->len);
        CHECK(same(buf, e->len, e->id, e->salt));
        m_pop();
    }
    return rc;
}

static void op_peek(int twice) {
    const void *p = NULL, *p2 = NULL;
    rec *e = m_front();
    ssize_t rc = ipc_ring_peek(&R, &p, 0);
    if (!e) {
        EXPECT(rc, -EAGAIN);
        return;
    }
    CHECK(rc >= 0);
    check_in_place(p, (size_t)rc, e);
    M.peeked = 1;
    if (twice) {
        EXPECT(ipc_ring_peek(&R, &p2, 0), rc);
        CHECK(p2 == p);
        check_in_place(p2, (size_t)rc, e);
    }
}

static void op_release(void) {
    int want = M.peeked ? 0 : -EINVAL;
    if (M.peeked) m_pop();
    EXPECT(ipc_ring_release(&R), want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = {data, size, 0};
    uint8_t b0 = fz_byte(&in), salt;
    unsigned e = b0 & 7;
    uint64_t cap = (uint64_t)64 << (e > 6 ? 6 : e);
    size_t arg = cap, n, i;
    int flags = IPC_O_CREATE | (b0 & 0x10 ? IPC_RING_MULTI : 0) | (b0 & 0x20 ? IPC_RING_SPIN : 0), fd;
    ipc_ring_info info;

    if (b0 & 8) arg = cap == 64 ? 0 : cap / 2 + 1;
    memset(&M, 0, sizeof M);
    M.cap = cap;
    M.mask = cap - 1;
    M.multi = (b0 & 0x10) != 0;
    M.flags = (unsigned)flags & (IPC_RING_MULTI | IPC_RING_SPIN);
    mirror.on = !(b0 & 0x80);
    me = (pid_t)syscall(SYS_gettid);

    EXPECT(ipc_ring_open(&R, NULL, flags, 0, arg), 0);
    CHECK(R.shm.size == IPC_RING_HEADER + cap);
    CHECK(mirror.on == (R.shm.addr == mirror.p));
    data0 = (uint8_t *)R.shm.addr + IPC_RING_HEADER;
    EXPECT(ipc_ring_max_record(&R), MAXREC(cap));
    if (b0 & 0x40) { /* indices near 2^64, set before either role joins */
        uint64_t base = (uint64_t)0 - 8 * ((uint64_t)fz_byte(&in) + 1);
        struct ipc__ring_hdr *h = (struct ipc__ring_hdr *)R.shm.addr;
        h->tail = h->head = base;
        M.ptail = M.ltail = M.head = base;
    }
    check_stat();

    while (fz_left(&in)) {
        uint8_t op = fz_byte(&in) % 12;
        switch (op) {
        case 0:
            n = dec_size(&in);
            op_send(n, fz_byte(&in));
            break;
        case 1: op_recv(dec_size(&in)); break;
        case 2:
            n = dec_size(&in);
            op_reserve(n, fz_byte(&in));
            break;
        case 3: op_commit(dec_commit(&in)); break;
        case 4:
            n = dec_size(&in);
            op_reserve(n, fz_byte(&in));
            op_commit(dec_commit(&in));
            break;
        case 5: op_peek(0); break;
        case 6: op_release(); break;
        case 7: op_peek(1); break;
        case 8:
            op_peek(0);
            op_release();
            break;
        case 9: EXPECT(ipc_ring_max_record(&R), MAXREC(cap)); break;
        case 10:
            n = dec_size(&in);
            salt = fz_byte(&in);
            for (i = 0; i < 1024 && op_send(n, (uint8_t)(salt + i)) == 0; i++) {
            }
            break;
        default:
            for (i = 0; i < 1024 && op_recv(sizeof rbuf) >= 0; i++) {
            }
            break;
        }
        check_stat();
    }

    /* Everything committed comes out, in order, byte for byte. */
    while (M.qn)
        CHECK(op_recv(sizeof rbuf) >= 0);
    op_recv(sizeof rbuf); /* and then -EAGAIN */
    check_stat();
    EXPECT(ipc_ring_stat(&R, &info), 0);
    EXPECT(info.depth, 0);
    fd = R.shm.fd;
    CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC); /* the memfd, close-on-exec */
    EXPECT(ipc_ring_close(&R), 0);
    CHECK(mirror.p == NULL);                         /* the mapping went back */
    CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF); /* and the descriptor */
    return 0;
}
