/* Fuzzes the control-message walk behind fd passing (section 3e):
   ipc_unix_take_cmsg on made-up control buffers, and ipc_unix_send /
   ipc_unix_recv on real kernel messages over a socketpair.

   Mode F (byte 0 & 3 != 3): the walk alone, on bytes the input builds.
   IPC_TEST_HOOKS routes the library's closing of the descriptors it refuses
   to a hook that records the numbers and closes nothing (the numbers are
   made up). The control buffer ends at a PROT_NONE guard page, so a read
   past msg_controllen faults (and ASan names it); the aux->fds array is
   exactly fds_room ints followed by 4 poisoned canary ints.
     byte 0   bit 2: msg_flags has MSG_CTRUNC (bits 0-1 also set MSG_EOR /
              MSG_TRUNC, which the walk must ignore)
              bit 3: layout: 0 the buffer ends exactly at the guard page (its
              start unaligned when msg_controllen is); 1 its start 8-aligned,
              the 0..7 bytes between msg_controllen and the guard poisoned
              for ASan
              bit 4: msg_control = NULL (msg_controllen as chosen)
              bits 5-7: 0 aux NULL, 1 aux->fds NULL, 2-7 an fds array
     byte 1   fds_room: < C0: v % (IPC_UNIX_MAX_FDS + 1); C0..FC:
              IPC_UNIX_MAX_FDS + 1 + (v - C0) (over the documented maximum);
              FD INT_MAX (an array for every int the buffer can hold); FE -1;
              FF INT_MIN
     bytes 2-3 msg_controllen, little-endian c: c >= FF00: the built length
              + (int8_t)(c & FF), clamped to 0..1024; else c % 1025
     then     records, each op, count, then its arguments and payload,
              laid into a 1024-byte buffer one after another:
       op bits 0-2 what: 0 SCM_RIGHTS, 1 SCM_CREDENTIALS, 2 SCM_PIDFD, all
              SOL_SOCKET; 3 SOL_SOCKET with a type byte; 4 a level byte
              (int8_t) and a type byte; 5 SCM_RIGHTS's type at a level other
              than SOL_SOCKET (byte: IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP,
              -1); 6 count raw bytes, no header; 7 a gap of count zero bytes
          bits 3-5 cmsg_len: 0 and 7 exact (CMSG_LEN(payload)); 1 exact +
              an int8_t byte; 2 below the header (byte % CMSG_LEN(0)); 3 huge
              (byte b: SIZE_MAX - b, 2^63, UINT32_MAX, 2^32 + exact, by b % 4);
              4 a little-endian u16; 5 exactly to msg_controllen; 6 one past it
          bit 6 no padding: the next record follows the payload at once (the
              walk, stepping by CMSG_ALIGN, may then see it elsewhere)
          bit 7 descriptor numbers as 4 little-endian bytes (else one byte
              b: < F8 1000 + b; F8 -1, F9 0, FA 1, FB 2, FC INT_MAX, FD
              INT_MIN, FE -2, FF 1000 + count)
       count: ints for what 0, 2 and 5; bytes for the others
   The expected outcome is computed from the final bytes by the rules of
   ipc_unix_take_cmsg's doc comment: messages at CMSG_ALIGN steps from the
   start; a header needs sizeof(struct cmsghdr) bytes (fewer left: the walk
   is over); a cmsg_len below CMSG_LEN(0) or past msg_controllen ends the
   walk as a truncation; the last message's padding may be cut. Invariants
   (CHECK aborts):
   - the return value is 0 or IPC_EFDTRUNC, and it is IPC_EFDTRUNC exactly
     when MSG_CTRUNC is set, the walk hit a truncation, or more SCM_RIGHTS
     descriptors came than fit (aux NULL, fds NULL, room <= 0: none fit; a room above IPC_UNIX_MAX_FDS counts as that);
   - IPC_EFDTRUNC: aux->nfds == 0, and the numbers closed are exactly (as
     a multiset: each occurrence once) those of every SCM_RIGHTS and
     SCM_PIDFD message walked;
   - 0: aux->nfds == the count, aux->fds[0..nfds) the SCM_RIGHTS numbers in
     order, aux->fds[nfds..room) and the canaries untouched, only the pidfds
     closed (in order), has_cred set exactly when a whole SCM_CREDENTIALS
     message was walked, cred from the last one; aux->from untouched;
   - the msghdr and the control bytes are left as they were.

   Mode R (byte 0 & 3 == 3): a real round trip. socketpair(AF_UNIX) and
   ipc_unix_send of up to 4 dups of /dev/null (or a raw sendmsg of up to 63
   descriptors, enough for the kernel itself to cut them off with
   MSG_CTRUNC), then ipc_unix_recv. The close hook records and really
   closes.
     byte 0   bit 2 SOCK_SEQPACKET (else SOCK_DGRAM); bit 3 SO_PASSCRED on
              the receiver; bit 4 SO_PASSPIDFD on the receiver (where the
              kernel has it); bit 5 raw sendmsg; bit 6 RLIMIT_NOFILE's soft
              limit just above the highest open fd during the receive (byte
              5 says how far); bit 7 the receive's cap below the message
              (byte 4 says how far)
     byte 1   bits 0-1: 0 aux NULL, 1 aux->fds NULL, 2-3 an fds array;
              bits 2-7 r: fds_room r % 5 for r < 32, else r - 27 (5..36)
     byte 2   descriptors sent: v % 5 (ipc_unix_send), v % 64 (raw)
     byte 3   message length (0..255)
     byte 4   cap = len - 1 - (v % len) with bit 7 (else cap = 256)
     byte 5   RLIMIT_NOFILE slack: soft limit = highest open fd + 1 + v % 8
   The outcome is predicted from the kernel's fd-passing rules: the control
   buffer ipc_unix_recv gives (IPC__UNIX_CMSG_ROOM) takes the credentials
   first, then as many descriptors as fit and as the limit allows (fewer
   than sent: MSG_CTRUNC), then the pidfd (no room: MSG_CTRUNC). Invariants:
   - the return value is -EMSGSIZE for a cap below the length, else
     IPC_EFDTRUNC for MSG_CTRUNC or more descriptors than room, else len;
   - on len: nfds == the count sent, each received descriptor is /dev/null
     and close-on-exec, has_cred exactly with SO_PASSCRED, cred.pid our pid;
     else aux->nfds == 0;
   - the library closes no descriptor that was open before the receive, and
     closes exactly the received ones it does not return (plus the pidfd);
   - no descriptor leaks: /proc/self/fd after (the returned ones closed) is
     the set it was before. */
#define _GNU_SOURCE
#define IPC_TEST_HOOKS
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include "fuzz_common.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#if !defined(FZ_ASAN) && defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN 1
#endif
#ifdef FZ_ASAN
#include <sanitizer/asan_interface.h>
#define FZ_POISON(p, n) __asan_poison_memory_region((p), (n))
#define FZ_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define FZ_POISON(p, n) ((void)(p), (void)(n))
#define FZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76 /* Linux 6.5; not in this libc's headers yet */
#endif

#define MAX_CTL 1024               /* the control buffer */
#define MAX_INTS (MAX_CTL / 4)     /* more ints than any buffer holds */
#define MAX_CLOSES (4 * MAX_INTS)  /* a record of closes with headroom */
#define CANARY 4                   /* poisoned ints after aux->fds */
#define SENTINEL ((int)0x5EED5EED) /* aux->fds before the call */
#define FROM_BYTE 0xC3             /* aux->from before the call */

/* ---- the close hook ----------------------------------------------------------- */

static struct {
    int fd[MAX_CLOSES];
    size_t n;
    int really; /* mode R: close for real too */
} closes;

static int hook_close(int fd) {
    CHECK(closes.n < MAX_CLOSES);
    closes.fd[closes.n++] = fd;
    return closes.really ? close(fd) : 0;
}

static void hooks_on(int really) {
    memset(&ipc_test, 0, sizeof ipc_test);
    closes.n = 0;
    closes.really = really;
    ipc_test.close = hook_close;
}
static void hooks_off(void) {
    memset(&ipc_test, 0, sizeof ipc_test);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Whether a[0..n) and b[0..m) hold the same numbers as many times each. */
static int same_multiset(const int *a, size_t n, const int *b, size_t m) {
    static int x[MAX_CLOSES], y[MAX_CLOSES];
    if (n != m) return 0;
    CHECK(n <= MAX_CLOSES);
    if (n == 0) return 1;
    memcpy(x, a, n * sizeof *a);
    memcpy(y, b, n * sizeof *b);
    qsort(x, n, sizeof *x, cmp_int);
    qsort(y, n, sizeof *y, cmp_int);
    return memcmp(x, y, n * sizeof *x) == 0;
}

/* ---- mode F: the walk on made-up bytes ----------------------------------------- */

/* Two pages, the second PROT_NONE: a buffer ending at `guard` faults on
   the first byte past it. */
static unsigned char *guard;

static void map_guard(void) {
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *p;
    if (guard) return;
    CHECK(page >= MAX_CTL + 8);
    p = (unsigned char *)mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK(mprotect(p + page, (size_t)page, PROT_NONE) == 0);
    guard = p + page;
}

/* What the doc comment says the walk finds in base[0..len). */
typedef struct model {
    int trunc; /* a header with cmsg_len below CMSG_LEN(0) or past the end */
    int rights[MAX_INTS];
    size_t nrights;
    int pidfds[MAX_INTS];
    size_t npidfds;
    int has_cred;
    struct ucred cred;
} model;

static void model_walk(const unsigned char *base, size_t len, model *md) {
    size_t off = 0, end = base ? len : 0;
    memset(md, 0, sizeof *md);
    for (;;) {
        struct cmsghdr h;
        size_t dlen, j;
        if (end - off < sizeof h) return; /* no room for another header: the end */
        memcpy(&h, base + off, sizeof h);
        if (h.cmsg_len < CMSG_LEN(0) || h.cmsg_len > end - off) {
            md->trunc = 1;
            return;
        }
        dlen = h.cmsg_len - CMSG_LEN(0);
        if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
            for (j = 0; j + sizeof(int) <= dlen; j += sizeof(int)) {
                CHECK(md->nrights < MAX_INTS);
                memcpy(&md->rights[md->nrights++], base + off + CMSG_LEN(0) + j, sizeof(int));
            }
        } else if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == IPC__SCM_PIDFD) {
            for (j = 0; j + sizeof(int) <= dlen; j += sizeof(int)) {
                CHECK(md->npidfds < MAX_INTS);
                memcpy(&md->pidfds[md->npidfds++], base + off + CMSG_LEN(0) + j, sizeof(int));
            }
        } else if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_CREDENTIALS && dlen >= sizeof(struct ucred)) {
            memcpy(&md->cred, base + off + CMSG_LEN(0), sizeof md->cred);
            md->has_cred = 1;
        }
        if (CMSG_ALIGN(h.cmsg_len) >= end - off) return; /* the last one (its padding maybe cut) */
        off += CMSG_ALIGN(h.cmsg_len);
    }
}

static int fd_from(fz_in *in, int wide, unsigned count) {
    uint8_t b;
    if (wide) {
        uint32_t v = fz_u16(in);
        v |= (uint32_t)fz_u16(in) << 16;
        return (int)v; /* implementation-defined for v > INT_MAX: two's complement here */
    }
    b = fz_byte(in);
    switch (b) {
    case 0xF8: return -1;
    case 0xF9: return 0;
    case 0xFA: return 1;
    case 0xFB: return 2;
    case 0xFC: return INT_MAX;
    case 0xFD: return INT_MIN;
    case 0xFE: return -2;
    case 0xFF: return 1000 + (int)count;
    default: return 1000 + b;
    }
}

/* Copies n bytes of src to ctl[at..), as far as MAX_CTL. */
static void put(unsigned char *ctl, size_t at, const void *src, size_t n) {
    if (at >= MAX_CTL) return;
    if (n > MAX_CTL - at) n = MAX_CTL - at;
    memcpy(ctl + at, src, n);
}

/* Builds the control bytes from the records; returns how far they reach.
   cmsg_len patches (modes 5 and 6) wait for msg_controllen: *npatch of
   them at patch_at[], each +patch_add[]. */
static size_t build(fz_in *in, unsigned char *ctl, size_t *patch_at, int *patch_add, size_t *npatch) {
    static const int levels[4] = {IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, -1};
    size_t pos = 0, reach = 0;
    *npatch = 0;
    while (fz_left(in) > 0 && pos < MAX_CTL) {
        uint8_t op = fz_byte(in), count = fz_byte(in);
        unsigned what = op & 7, lenmode = (op >> 3) & 7, i;
        int nopad = (op & 0x40) != 0, wide = (op & 0x80) != 0;
        int level = SOL_SOCKET, type = SCM_RIGHTS, ints = 0;
        unsigned char payload[MAX_CTL];
        size_t plen = 0, exact;
        struct cmsghdr h;
        if (what == 6 || what == 7) { /* raw bytes, or a zero gap */
            for (i = 0; i < count && pos < MAX_CTL; i++)
                ctl[pos++] = what == 6 ? fz_byte(in) : 0;
            if (pos > reach) reach = pos;
            continue;
        }
        switch (what) {
        case 0: ints = 1; break;
        case 1: type = SCM_CREDENTIALS; break;
        case 2: type = IPC__SCM_PIDFD, ints = 1; break;
        case 3: type = fz_byte(in); break;
        case 4: level = (int8_t)fz_byte(in), type = fz_byte(in); break;
        default: level = levels[fz_byte(in) & 3], ints = 1; break;
        }
        if (ints) {
            for (i = 0; i < count && plen + sizeof(int) <= sizeof payload; i++) {
                int fd = fd_from(in, wide, i);
                memcpy(payload + plen, &fd, sizeof fd);
                plen += sizeof fd;
            }
        } else {
            for (i = 0; i < count; i++)
                payload[plen++] = fz_byte(in);
        }
        exact = CMSG_LEN(plen);
        memset(&h, 0, sizeof h);
        h.cmsg_level = level;
        h.cmsg_type = type;
        switch (lenmode) {
        case 1: h.cmsg_len = exact + (size_t)(ptrdiff_t)(int8_t)fz_byte(in); break;
        case 2: h.cmsg_len = fz_byte(in) % CMSG_LEN(0); break;
        case 3: {
            uint8_t b = fz_byte(in);
            switch (b & 3) {
            case 0: h.cmsg_len = SIZE_MAX - (b >> 2); break;
            case 1: h.cmsg_len = (size_t)1 << 63; break;
            case 2: h.cmsg_len = UINT32_MAX; break;
            default: h.cmsg_len = ((size_t)1 << 32) + exact; break;
            }
            break;
        }
        case 4: h.cmsg_len = fz_u16(in); break;
        case 5:
        case 6:
            patch_at[*npatch] = pos;
            patch_add[(*npatch)++] = (int)lenmode - 5;
            h.cmsg_len = exact;
            break;
        default: h.cmsg_len = exact; break;
        }
        put(ctl, pos, &h, sizeof h);
        put(ctl, pos + sizeof h, payload, plen);
        if (pos + sizeof h + plen > reach) reach = pos + sizeof h + plen;
        pos += nopad ? sizeof h + plen : CMSG_SPACE(plen);
    }
    return reach < MAX_CTL ? reach : MAX_CTL;
}

static void mode_walk(fz_in *in, uint8_t sel) {
    static unsigned char ctl[MAX_CTL];
    static size_t patch_at[MAX_CTL];
    static int patch_add[MAX_CTL];
    uint8_t b1 = fz_byte(in);
    uint16_t c = fz_u16(in);
    unsigned auxmode = sel >> 5;
    int ctrunc = (sel & 4) != 0, room, room_eff, rc;
    size_t built, controllen, npatch, i, arr = 0;
    unsigned char *buf;
    struct msghdr m, m0;
    ipc_unix_aux aux, *auxp = NULL;
    int *fds = NULL;
    model md;

    /* fds_room */
    if (b1 < 0xC0)
        room = b1 % (IPC_UNIX_MAX_FDS + 1);
    else if (b1 <= 0xFC)
        room = IPC_UNIX_MAX_FDS + 1 + (b1 - 0xC0);
    else
        room = b1 == 0xFD ? INT_MAX : b1 == 0xFE ? -1 : INT_MIN;

    memset(ctl, 0, sizeof ctl);
    built = build(in, ctl, patch_at, patch_add, &npatch);
    if (c >= 0xFF00) {
        ptrdiff_t v = (ptrdiff_t)built + (int8_t)(c & 0xFF);
        controllen = v < 0 ? 0 : v > MAX_CTL ? MAX_CTL : (size_t)v;
    } else {
        controllen = c % (MAX_CTL + 1);
    }
    for (i = 0; i < npatch; i++) {
        size_t len = controllen >= patch_at[i] ? controllen - patch_at[i] + (size_t)patch_add[i] : 0;
        if (patch_at[i] + sizeof len <= MAX_CTL) /* cmsg_len is the header's first member */
            memcpy(ctl + patch_at[i] + offsetof(struct cmsghdr, cmsg_len), &len, sizeof len);
    }

    /* The buffer ends at the guard page (layout 0), or starts aligned with
       the bytes up to the guard poisoned (layout 1). */
    FZ_UNPOISON(guard - MAX_CTL - 8, MAX_CTL + 8);
    if (sel & 8) {
        size_t span = (controllen + 7) & ~(size_t)7;
        buf = guard - span;
        FZ_POISON(buf + controllen, span - controllen);
    } else {
        buf = guard - controllen;
    }
    if (controllen) memcpy(buf, ctl, controllen);

    memset(&m, 0, sizeof m);
    m.msg_control = (sel & 16) ? NULL : buf;
    m.msg_controllen = controllen;
    m.msg_flags = (ctrunc ? MSG_CTRUNC : 0) | ((sel & 1) ? MSG_EOR : 0) | ((sel & 2) ? MSG_TRUNC : 0);
    m0 = m;

    if (auxmode > 0) {
        memset(&aux, FROM_BYTE, sizeof aux);
        aux.fds_room = room;
        aux.fds = NULL;
        if (auxmode > 1) {
            arr = room == INT_MAX ? MAX_INTS : room > 0 ? (size_t)room : 0;
            fds = (int *)malloc((arr + CANARY) * sizeof *fds);
            CHECK(fds != NULL);
            for (i = 0; i < arr + CANARY; i++)
                fds[i] = SENTINEL;
            FZ_POISON(fds + arr, CANARY * sizeof *fds);
            aux.fds = fds;
        }
        auxp = &aux;
    }
    room_eff = auxp && auxp->fds && room > 0 ? (room > IPC_UNIX_MAX_FDS ? IPC_UNIX_MAX_FDS : room) : 0;

    hooks_on(0);
    rc = ipc_unix_take_cmsg(&m, auxp);
    hooks_off();

    model_walk((const unsigned char *)m0.msg_control, controllen, &md);
    {
        int want = md.trunc || ctrunc || md.nrights > (size_t)room_eff ? IPC_EFDTRUNC : 0;
        if (rc != want)
            fprintf(stderr, "rc %d, expected %d (trunc %d, MSG_CTRUNC %d, %zu descriptors, room %d, controllen %zu)\n",
                    rc, want, md.trunc, ctrunc, md.nrights, room_eff, controllen);
        CHECK(rc == 0 || rc == IPC_EFDTRUNC);
        CHECK(rc == want);
    }
    /* Nothing of the message changed. */
    CHECK(memcmp(&m, &m0, sizeof m) == 0);
    CHECK(controllen == 0 || memcmp(buf, ctl, controllen) == 0);

    if (rc == IPC_EFDTRUNC) {
        static int all[2 * MAX_INTS];
        memcpy(all, md.rights, md.nrights * sizeof *all);
        memcpy(all + md.nrights, md.pidfds, md.npidfds * sizeof *all);
        if (auxp) CHECK(auxp->nfds == 0);
        if (!same_multiset(closes.fd, closes.n, all, md.nrights + md.npidfds))
            fprintf(stderr, "closed %zu, expected %zu descriptors + %zu pidfds\n", closes.n, md.nrights, md.npidfds);
        CHECK(same_multiset(closes.fd, closes.n, all, md.nrights + md.npidfds));
    } else {
        CHECK(closes.n == md.npidfds);
        CHECK(md.npidfds == 0 || memcmp(closes.fd, md.pidfds, md.npidfds * sizeof(int)) == 0);
        if (auxp) {
            ipc_unix_addr from;
            CHECK(auxp->nfds >= 0 && (size_t)auxp->nfds == md.nrights);
            CHECK(auxp->nfds <= room_eff);
            CHECK(md.nrights == 0 || memcmp(auxp->fds, md.rights, md.nrights * sizeof(int)) == 0);
            CHECK(auxp->has_cred == md.has_cred);
            if (md.has_cred)
                CHECK(auxp->cred.pid == md.cred.pid && auxp->cred.uid == md.cred.uid && auxp->cred.gid == md.cred.gid);
            memset(&from, FROM_BYTE, sizeof from);
            CHECK(memcmp(&auxp->from, &from, sizeof from) == 0);
        }
    }
    if (fds) {
        FZ_UNPOISON(fds + arr, CANARY * sizeof *fds);
        /* Past what was returned (or past room on an error: the stored ones
           may have been written there), nothing written. */
        for (i = rc == 0 ? (size_t)auxp->nfds : arr; i < arr + CANARY; i++)
            CHECK(fds[i] == SENTINEL);
        free(fds);
    }
}

/* ---- mode R: a real round trip ------------------------------------------------- */

#define FDSET_BITS 4096
typedef struct fdset {
    unsigned char bit[FDSET_BITS / 8];
    int count, max;
} fdset;

/* The open descriptors, from /proc/self/fd (the directory's own left out). */
static void fdset_take(fdset *s) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    memset(s, 0, sizeof *s);
    s->max = -1;
    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        int fd;
        if (e->d_name[0] == '.') continue;
        fd = atoi(e->d_name);
        if (fd == dirfd(d)) continue;
        CHECK(fd >= 0 && fd < FDSET_BITS);
        s->bit[fd / 8] |= (unsigned char)(1u << (fd % 8));
        s->count++;
        if (fd > s->max) s->max = fd;
    }
    closedir(d);
}
static int fdset_has(const fdset *s, int fd) {
    return fd >= 0 && fd < FDSET_BITS && (s->bit[fd / 8] >> (fd % 8)) & 1;
}
static int fdset_same(const fdset *a, const fdset *b) {
    int fd, same = 1;
    for (fd = 0; fd < FDSET_BITS; fd++)
        if (fdset_has(a, fd) != fdset_has(b, fd)) {
            fprintf(stderr, "fd %d: %s\n", fd, fdset_has(b, fd) ? "leaked" : "closed behind our back");
            same = 0;
        }
    return same;
}

static int devnull = -1;
static struct stat devnull_st;

static void mode_real(fz_in *in, uint8_t sel) {
    uint8_t b1 = fz_byte(in), b2 = fz_byte(in), b3 = fz_byte(in), b4 = fz_byte(in), b5 = fz_byte(in);
    int type = (sel & 4) ? SOCK_SEQPACKET : SOCK_DGRAM;
    int passcred = (sel & 8) != 0, pidfd = 0, raw = (sel & 32) != 0, limit = (sel & 64) != 0;
    unsigned auxmode = b1 & 3, r = b1 >> 2;
    int room = r < 32 ? (int)(r % 5) : (int)r - 27, room_eff;
    int nsent = raw ? b2 % 64 : b2 % 5, ndups = nsent < 4 ? nsent : 4;
    size_t len = b3, cap = 256, i, free_slots = SIZE_MAX, installed, left;
    unsigned char msg[256], got[256];
    int sv[2], dups[4], sendfds[64], fds[40 + CANARY];
    ipc_unix_aux aux, *auxp = NULL;
    fdset before, mid, after;
    struct rlimit old_rl;
    ssize_t rc, want;
    int on = 1, ctrunc, pidfd_sent;

    if ((sel & 128) && len > 0) cap = len - 1 - (b4 % len);
    for (i = 0; i < len; i++)
        msg[i] = fz_left(in) ? fz_byte(in) : (unsigned char)(i * 31 + b3);

    fdset_take(&before);
    CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
    if (passcred) CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
    if (sel & 16) pidfd = setsockopt(sv[1], SOL_SOCKET, SO_PASSPIDFD, &on, sizeof on) == 0;

    for (i = 0; i < (size_t)ndups; i++)
        CHECK((dups[i] = fcntl(devnull, F_DUPFD_CLOEXEC, 0)) >= 0);
    for (i = 0; i < (size_t)nsent; i++)
        sendfds[i] = dups[i % (size_t)(ndups ? ndups : 1)];
    if (!raw) {
        CHECK(ipc_unix_send(sv[0], msg, len, sendfds, nsent, 0) == (ssize_t)len);
    } else {
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * 64)];
        } ctl;
        struct msghdr m;
        struct iovec iov;
        memset(&m, 0, sizeof m);
        memset(&ctl, 0, sizeof ctl);
        iov.iov_base = msg;
        iov.iov_len = len;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        if (nsent > 0) {
            struct cmsghdr *h;
            m.msg_control = ctl.buf;
            m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nsent);
            h = CMSG_FIRSTHDR(&m);
            h->cmsg_level = SOL_SOCKET;
            h->cmsg_type = SCM_RIGHTS;
            h->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nsent);
            memcpy(CMSG_DATA(h), sendfds, sizeof(int) * (size_t)nsent);
        }
        CHECK(sendmsg(sv[0], &m, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len);
    }
    for (i = 0; i < (size_t)ndups; i++)
        close(dups[i]); /* the message holds its own references */

    if (auxmode > 0) {
        memset(&aux, 0, sizeof aux);
        aux.fds_room = room;
        aux.nfds = -1;
        if (auxmode > 1) {
            for (i = 0; i < sizeof fds / sizeof fds[0]; i++)
                fds[i] = SENTINEL;
            aux.fds = fds;
        }
        auxp = &aux;
    }
    room_eff = auxp && auxp->fds && room > 0 ? (room > IPC_UNIX_MAX_FDS ? IPC_UNIX_MAX_FDS : room) : 0;

    fdset_take(&mid);
    if (limit) {
        struct rlimit rl;
        CHECK(getrlimit(RLIMIT_NOFILE, &old_rl) == 0);
        rl = old_rl;
        rl.rlim_cur = (rlim_t)mid.max + 1 + b5 % 8;
        if (rl.rlim_cur <= old_rl.rlim_max) {
            free_slots = (size_t)rl.rlim_cur - (size_t)mid.count;
            CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
        } else {
            limit = 0;
        }
    }
    hooks_on(1);
    rc = ipc_unix_recv(sv[1], got, cap, auxp, 0);
    hooks_off();
    if (limit) CHECK(setrlimit(RLIMIT_NOFILE, &old_rl) == 0);

    /* The kernel's side: credentials, then descriptors, then the pidfd, in
       the control buffer ipc_unix_recv gives. */
    left = IPC__UNIX_CMSG_ROOM - (passcred ? CMSG_SPACE(sizeof(struct ucred)) : 0);
    installed = left > CMSG_LEN(0) ? (left - CMSG_LEN(0)) / sizeof(int) : 0;
    if (installed > (size_t)nsent) installed = (size_t)nsent;
    if (installed > free_slots) installed = free_slots;
    ctrunc = installed < (size_t)nsent;
    if (installed) left -= CMSG_SPACE(sizeof(int) * installed) < left ? CMSG_SPACE(sizeof(int) * installed) : left;
    pidfd_sent = pidfd && left >= CMSG_LEN(sizeof(int));
    if (pidfd && !pidfd_sent) ctrunc = 1;
    want = cap < len ? -EMSGSIZE : ctrunc || installed > (size_t)room_eff ? IPC_EFDTRUNC : (ssize_t)len;
    if (rc != want)
        fprintf(stderr,
                "recv %zd, expected %zd (type %d, sent %d, installed %zu, room %d, passcred %d, pidfd %d, "
                "free %zu, len %zu, cap %zu)\n",
                rc, want, type, nsent, installed, room_eff, passcred, pidfd, free_slots, len, cap);
    CHECK(rc == want);

    /* The library closed only what the kernel gave this receive. */
    for (i = 0; i < closes.n; i++)
        CHECK(!fdset_has(&mid, closes.fd[i]));
    if (rc >= 0) {
        CHECK(memcmp(got, msg, len) == 0);
        CHECK(closes.n == (size_t)pidfd_sent || (limit && closes.n == 0 && pidfd_sent));
        if (auxp) {
            CHECK(auxp->nfds == nsent);
            CHECK(auxp->has_cred == passcred);
            if (passcred) CHECK(auxp->cred.pid == getpid() && auxp->cred.uid == getuid() && auxp->cred.gid == getgid());
            for (i = 0; i < (size_t)auxp->nfds; i++) {
                struct stat st;
                int fd = auxp->fds[i], fl = fcntl(fd, F_GETFD);
                CHECK(fl >= 0 && (fl & FD_CLOEXEC));
                CHECK(fstat(fd, &st) == 0 && st.st_rdev == devnull_st.st_rdev && st.st_ino == devnull_st.st_ino);
                CHECK(!fdset_has(&mid, fd));
                close(fd);
            }
            for (i = (size_t)auxp->nfds; i < sizeof fds / sizeof fds[0]; i++)
                if (auxp->fds) CHECK(fds[i] == SENTINEL);
        } else {
            CHECK(nsent == 0);
        }
    } else {
        if (auxp) CHECK(auxp->nfds == 0);
        CHECK(closes.n == installed + (size_t)pidfd_sent || (limit && closes.n == installed));
    }
    close(sv[0]);
    close(sv[1]);
    fdset_take(&after);
    CHECK(fdset_same(&before, &after));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = {data, size, 0};
    uint8_t sel = fz_byte(&in);
    if (devnull < 0) { /* once, before any snapshot */
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        CHECK(devnull >= 0 && fstat(devnull, &devnull_st) == 0);
        map_guard();
    }
    if ((sel & 3) == 3)
        mode_real(&in, sel);
    else
        mode_walk(&in, sel);
    return 0;
}
