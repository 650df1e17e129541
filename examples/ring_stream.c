/* ring_stream.c - a stream of self-checking records through a named shared-memory ring.

   Usage: ring_stream produce NAME [-n COUNT] [-s SIZE] [--cap BYTES] [--timeout MS] [--spin]
          ring_stream consume NAME [-n COUNT] [--expect COUNT] [--timeout MS] [--from-any]
                                   [--trace] [--delay US] [--keep] [--cap BYTES] [--spin]
          ring_stream rm NAME

   One program, two roles, through the ring called NAME in /dev/shm (a shm
   name: "/" and a name without another "/"). Either side may start first:
   both open the ring with IPC_O_CREATE, and whichever comes first makes it,
   with --cap data bytes (default 64 KiB, rounded up to a power of two, at
   most 1 GiB) and, with --spin, as an IPC_RING_SPIN ring whose waits spin
   instead of sleeping. The one that comes second takes the ring as it is.

       ring_stream consume /stream & ring_stream produce /stream -n 1000000 -s 256

   produce sends COUNT records (default 100000), then closes the ring:
   the consumer sees the end of the stream once it has every record. A
   record is a 24-byte header -- a magic number, the payload length, the
   sequence number (1, 2, ...) and two CRC-32s (zlib's) -- then the payload:
   SIZE bytes (default 256; suffixes K, M, G), or with "-s rand" (or
   "rand:MAX") a size between 0 and 4096 (or MAX) that the sequence number
   decides, mostly small. Payloads are deterministic windows of one
   pseudo-random pattern, so two runs with the same -n and -s send the same
   bytes. The CRCs are chained: crc is the CRC-32 of every payload of the
   stream up to and including this record's, crc_prev the same up to the
   record before. A record thus checks its own payload (crc is crc_prev
   carried over the payload) and its place in the stream (its crc_prev is
   the crc of the record before it), besides its sequence number. The
   producer writes each record in place (ipc_ring_reserve, ipc_ring_commit:
   no copy through a buffer of its own) and ends with one line:

       sent N records, B bytes, X MB/s, Y records/s, crc 0x........

   B counts payload bytes, the rates run from the first record to the last,
   and crc is the CRC-32 of all payloads in order. When the consumer leaves
   or dies the producer says so on stderr and waits (--timeout) for another
   consumer to carry on where the last one stopped; when the consumer
   removed the ring as it left, nobody can come, and the producer stops
   with status 1.

   consume takes records until the end of the stream and checks each: the
   header, the length, the sequence number (no gap, no duplicate, in
   order), the chain and the payload's CRC. It looks at each record in
   place (ipc_ring_peek) and releases it only once it is checked (and
   traced). It ends with

       received N records, B bytes, X MB/s, Y records/s, crc 0x........

   where crc is the stream's chained CRC at its last record: the producer's
   crc when nothing is missing. A consumer that starts where another one
   stopped (--from-any: the first record may have any sequence number; it
   prints "first seq K" when it arrives) so reports the crc of the whole
   stream, which shows the two parts join up. --trace prints
   "record SEQ LEN" for each record once checked and before releasing it:
   after a kill, the records traced are at least those the next consumer
   will not see again. --delay US sleeps after each record (a slow
   consumer). -n COUNT stops after COUNT records; --expect COUNT fails
   (status 1) unless the stream held exactly COUNT records.

   The consumer removes the ring (ipc_ring_unlink) when it stops, for
   whatever reason, unless --keep, or -n stopped it before the end of the
   stream: then the ring stays for another consumer (with --from-any). rm
   removes a ring. SIGINT and SIGTERM stop the consumer within a tenth of a
   second (its waits are cut in slices): it prints what it got, removes the
   ring and exits 130 or 143.

   --timeout MS bounds every single wait: the producer's for room (or for a
   new consumer), the consumer's for each record. When one runs out the
   program exits with status 3.

   Exit status: 0 success; 1 a failure (a damaged record or a sequence gap,
   a ring that cannot be opened, the ring removed under the producer, a
   count other than --expect's); 2 a usage error or a bad name; 3 a wait
   ran out; 4 (consume) the producer died: what it committed was received
   and checked, then "peer process died after N records" on stderr; 130,
   143 (consume) SIGINT, SIGTERM. Every failure prints one line on stderr
   naming the ring. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3, EXIT_PEERDEAD = 4 };

#define DEFAULT_COUNT 100000
#define DEFAULT_SIZE 256
#define DEFAULT_CAP (64 * 1024)
#define RAND_MAX_SIZE 4096  /* -s rand: sizes 0..4096 */
#define MAX_SIZE (1u << 30) /* the largest -s we parse; the ring may allow less */
#define PATTERN_SPAN 4096   /* payloads start anywhere in the first 4 KiB of the pattern */
#define SLICE_MS 100        /* the consumer looks at its signal flag this often while it waits */
#define RETRY_NS 10000000L  /* the producer looks for a new consumer every 10 ms */

/* ---- records --------------------------------------------------------------- */

#define REC_MAGIC 0x31435352u /* "RSC1" on a little-endian machine */

typedef struct rec_hdr {
    uint32_t magic;
    uint32_t len;      /* payload bytes after the header */
    uint64_t seq;      /* 1, 2, ... */
    uint32_t crc_prev; /* CRC-32 of the stream's payloads before this one (0 before the first) */
    uint32_t crc;      /* ... and including this one */
} rec_hdr;
typedef char rec_hdr_is_24_bytes[sizeof(rec_hdr) == 24 ? 1 : -1];

/* CRC-32 (IEEE 802.3, reflected: zlib's crc32()), eight bytes at a time
   (slicing-by-8) so that checking keeps up with the ring. */
static uint32_t crc_table[8][256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (int i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
}

/* Carries crc (the CRC-32 of what came before) over n more bytes. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    uint32_t c = ~crc;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
        lo ^= c;
        c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^ crc_table[5][(lo >> 16) & 0xFF] ^
            crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
            crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
    }
#endif
    while (n--)
        c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

/* splitmix64: the sequence number decides a record's size and where in
   the pattern its payload starts. */
static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

typedef struct sizes {
    size_t size; /* every payload's size, or with rnd the largest */
    int rnd;
} sizes;

/* A size in 0..max, small ones more often: uniform, then halved 0-7 times. */
static size_t record_len(const sizes *s, uint64_t seq) {
    uint64_t x;
    if (!s->rnd) return s->size;
    x = mix(seq);
    return (size_t)(x % ((uint64_t)s->size + 1)) >> (x >> 61);
}

/* ---- common ------------------------------------------------------------------ */

/* The exit status for a failed call: 3 when a wait ran out. */
static int status_for(long rc) {
    return rc == -ETIMEDOUT || rc == -EAGAIN ? EXIT_TIMEOUT : rc == IPC_EPEERDEAD ? EXIT_PEERDEAD : EXIT_FAIL;
}

/* Reports a failure on ring name; returns its exit status. */
static int failed(const char *name, long rc) {
    fprintf(stderr, "ring_stream: %s: %s\n", name, ipc_strerror((int)rc));
    return status_for(rc);
}

static double seconds_since(int64_t t0_ns) {
    return (double)(ipc_now_ns() - t0_ns) / 1e9;
}

/* "sent N records, B bytes, X MB/s, Y records/s, crc 0x........";
   returns 0 or EXIT_FAIL when stdout fails. */
static int summary(const char *verb, uint64_t n, uint64_t bytes, double secs, uint32_t crc) {
    double mbs = secs > 0 ? (double)bytes / 1e6 / secs : 0, rps = secs > 0 ? (double)n / secs : 0;
    if (printf("%s %llu records, %llu bytes, %.1f MB/s, %.0f records/s, crc 0x%08x\n", verb, (unsigned long long)n,
               (unsigned long long)bytes, mbs, rps, (unsigned)crc) < 0 ||
        fflush(stdout) == EOF) {
        fprintf(stderr, "ring_stream: stdout: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    return 0;
}

typedef struct options {
    const char *name;
    unsigned long long count;  /* produce: records to send; consume: stop after (0: at the end) */
    unsigned long long expect; /* consume: --expect */
    int has_expect;
    sizes size;
    size_t cap;
    int timeout_ms; /* -1: wait for ever */
    int spin, from_any, trace, keep;
    unsigned long delay_us;
} options;

/* ---- produce ----------------------------------------------------------------- */

/* Whether the ring's name is gone (its object has no link left), so that
   no consumer can ever open it again. */
static int ring_removed(const ipc_ring *r) {
    struct stat st;
    return fstat(r->shm.fd, &st) == 0 && st.st_nlink == 0;
}

#define RING_REMOVED 1 /* reserve_room: the consumer removed the ring */

/* Room for a record of n bytes, waited for up to timeout_ms. A consumer
   that left or died is not the end: another may come and carry on, so
   this looks every RETRY_NS for one, unless the ring's name is gone.
   *no_consumer tells what the wait that ran out was for. */
static int reserve_room(ipc_ring *r, const options *o, size_t n, void **where, uint64_t sent, int *no_consumer) {
    int64_t deadline = ipc_deadline(o->timeout_ms);
    int rc, noted = 0;
    *no_consumer = 0;
    for (;;) {
        rc = ipc_ring_reserve(r, n, where, ipc_deadline_left_ms(deadline));
        if (rc != -EPIPE && rc != IPC_EPEERDEAD) return rc; /* room, a wait that ran out, or a failure */
        if (ring_removed(r)) return RING_REMOVED;
        *no_consumer = 1;
        if (!noted) {
            fprintf(stderr, "ring_stream: %s: the consumer %s after %llu records; waiting for another\n", o->name,
                    rc == -EPIPE ? "left" : "died", (unsigned long long)sent);
            noted = 1;
        }
        if (deadline != IPC_DEADLINE_NEVER && ipc_now_ns() >= deadline) return ipc_deadline_error(deadline);
        struct timespec ts = {0, RETRY_NS};
        nanosleep(&ts, NULL);
    }
}

static int do_produce(const options *o) {
    ipc_ring r;
    ipc_ring_info info;
    int rc = ipc_ring_open(&r, o->name, IPC_O_CREATE | IPC_O_WRONLY | (o->spin ? IPC_RING_SPIN : 0), 0600, o->cap);
    int status = 0, no_consumer = 0;
    uint64_t seq, sent = 0, bytes = 0;
    uint32_t crc = 0;
    int64_t t0 = 0;
    double secs = 0;
    if (rc < 0) return failed(o->name, rc);
    ipc_ring_stat(&r, &info);
    size_t room = ipc_ring_max_record(&r) - sizeof(rec_hdr);
    uint8_t *pattern = NULL;
    if (o->size.size > room) {
        fprintf(stderr,
                "ring_stream: %s: records of %s%zu payload bytes do not fit this ring (capacity %zu bytes: %zu payload "
                "bytes a record at most)\n",
                o->name, o->size.rnd ? "up to " : "", o->size.size, info.capacity, room);
        status = EXIT_FAIL;
    } else if (!(pattern = malloc(PATTERN_SPAN + o->size.size))) {
        fprintf(stderr, "ring_stream: %s: %s\n", o->name, strerror(errno));
        status = EXIT_FAIL;
    } else {
        uint64_t x = 0x2545F4914F6CDD1Dull; /* xorshift64: the pattern is the same in every run */
        for (size_t i = 0; i < PATTERN_SPAN + o->size.size; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            pattern[i] = (uint8_t)(x >> 32);
        }
    }
    if (status != 0) { /* nothing sent: no summary */
        ipc_ring_close(&r);
        return status;
    }
    t0 = ipc_now_ns();
    for (seq = 1; status == 0 && seq <= o->count; seq++) {
        size_t len = record_len(&o->size, seq);
        const uint8_t *payload = pattern + (mix(~seq) & (PATTERN_SPAN - 1));
        rec_hdr h = {REC_MAGIC, (uint32_t)len, seq, crc, crc32_update(crc, payload, len)};
        void *where;
        rc = reserve_room(&r, o, sizeof h + len, &where, sent, &no_consumer);
        if (rc == RING_REMOVED) {
            fprintf(stderr, "ring_stream: %s: record %llu: the consumer removed the ring (%llu sent)\n", o->name,
                    (unsigned long long)seq, (unsigned long long)sent);
            status = EXIT_FAIL;
        } else if (rc == -ETIMEDOUT || rc == -EAGAIN) {
            fprintf(stderr, "ring_stream: %s: record %llu: %s (%s for %d ms)\n", o->name, (unsigned long long)seq,
                    ipc_strerror(rc), no_consumer ? "no consumer came" : "the ring stayed full", o->timeout_ms);
            status = EXIT_TIMEOUT;
        } else if (rc < 0) {
            fprintf(stderr, "ring_stream: %s: record %llu: %s\n", o->name, (unsigned long long)seq, ipc_strerror(rc));
            status = EXIT_FAIL;
        } else {
            memcpy(where, &h, sizeof h);
            memcpy((uint8_t *)where + sizeof h, payload, len);
            ipc_ring_commit(&r, sizeof h + len);
            crc = h.crc;
            sent++;
            bytes += len;
        }
    }
    secs = seconds_since(t0);
    free(pattern);
    if ((rc = ipc_ring_close(&r)) < 0 && status == 0) status = failed(o->name, rc);
    if (summary("sent", sent, bytes, secs, crc) && status == 0) status = EXIT_FAIL;
    return status;
}

/* ---- consume ----------------------------------------------------------------- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) {
    got_signal = sig;
}

/* SA_RESTART: a write to stdout goes on after the signal; the ring's
   waits are cut in SLICE_MS slices anyway, and the flag is looked at
   between them. nanosleep (--delay) returns early whatever the flag. */
static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is an error to report, and the ring still goes */
}

/* The next record in place, waited for up to timeout_ms in slices, so a
   signal is noticed within SLICE_MS. */
static ssize_t next_record(ipc_ring *r, const void **where, int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    for (;;) {
        int left = ipc_deadline_left_ms(deadline);
        ssize_t n = ipc_ring_peek(r, where, left < 0 || left > SLICE_MS ? SLICE_MS : left);
        if (n != -ETIMEDOUT && n != -EAGAIN) return n;
        if (got_signal || (deadline != IPC_DEADLINE_NEVER && ipc_now_ns() >= deadline)) return n;
    }
}

enum { STOP_END, STOP_COUNT, STOP_PEERDEAD, STOP_SIGNAL, STOP_TIMEOUT, STOP_FAIL };

static int do_consume(const options *o) {
    ipc_ring r;
    catch_signals();
    int rc = ipc_ring_open(&r, o->name, IPC_O_CREATE | IPC_O_RDONLY | (o->spin ? IPC_RING_SPIN : 0), 0600, o->cap);
    int stop = STOP_FAIL, status = 0, ended = 0;
    uint64_t got = 0, bytes = 0, expected = 1;
    uint32_t crc = 0;
    int64_t t0 = 0;
    double secs = 0;
    ssize_t n = 0;
    if (rc < 0) return failed(o->name, rc);
    for (;;) {
        const void *where;
        rec_hdr h;
        if (got_signal) {
            stop = STOP_SIGNAL;
            break;
        }
        if (o->count && got == o->count) {
            stop = STOP_COUNT;
            break;
        }
        n = next_record(&r, &where, o->timeout_ms);
        if (n < 0) {
            stop = n == IPC_EOF                      ? STOP_END
                   : n == IPC_EPEERDEAD              ? STOP_PEERDEAD
                   : got_signal                      ? STOP_SIGNAL
                   : n == -ETIMEDOUT || n == -EAGAIN ? STOP_TIMEOUT
                                                     : STOP_FAIL;
            if (stop == STOP_FAIL)
                fprintf(stderr, "ring_stream: %s: after %llu records: %s\n", o->name, (unsigned long long)got,
                        ipc_strerror((int)n));
            break;
        }
        if (got == 0) t0 = ipc_now_ns();
        /* Checked in place. The payload is read once, by the CRC, so a peer
           changing it meanwhile can only make the check fail; a program
           that used the payload would copy it out first (see ipc.h). */
        if ((size_t)n < sizeof h) {
            fprintf(stderr, "ring_stream: %s: record %llu: %zd bytes, too short for a record header\n", o->name,
                    (unsigned long long)expected, n);
            break;
        }
        memcpy(&h, where, sizeof h);
        if (h.magic != REC_MAGIC || h.len != (size_t)n - sizeof h) {
            fprintf(stderr,
                    "ring_stream: %s: record %llu: not a record of this stream (magic 0x%08x, length %u in a %zd-byte "
                    "record)\n",
                    o->name, (unsigned long long)expected, (unsigned)h.magic, (unsigned)h.len, n);
            break;
        }
        if (got == 0 && o->from_any) { /* take the stream up where it is */
            expected = h.seq;
            crc = h.crc_prev;
            if (printf("first seq %llu\n", (unsigned long long)h.seq) < 0 || fflush(stdout) == EOF) {
                fprintf(stderr, "ring_stream: stdout: %s\n", strerror(errno));
                break;
            }
        }
        if (h.seq != expected) {
            if (got == 0)
                fprintf(
                    stderr,
                    "ring_stream: %s: the stream starts at record %llu, not 1 (another consumer took the ones before; "
                    "--from-any accepts that)\n",
                    o->name, (unsigned long long)h.seq);
            else
                fprintf(stderr, "ring_stream: %s: record %llu came where %llu was due (%s)\n", o->name,
                        (unsigned long long)h.seq, (unsigned long long)expected,
                        h.seq < expected ? "a duplicate or out of order" : "a gap");
            break;
        }
        if (h.crc_prev != crc) {
            fprintf(stderr,
                    "ring_stream: %s: record %llu does not follow the one before (chained crc 0x%08x, not 0x%08x)\n",
                    o->name, (unsigned long long)h.seq, (unsigned)h.crc_prev, (unsigned)crc);
            break;
        }
        if (crc32_update(crc, (const uint8_t *)where + sizeof h, h.len) != h.crc) {
            fprintf(stderr, "ring_stream: %s: record %llu: its payload (%u bytes) does not match its checksum\n",
                    o->name, (unsigned long long)h.seq, (unsigned)h.len);
            break;
        }
        if (o->trace &&
            (printf("record %llu %u\n", (unsigned long long)h.seq, (unsigned)h.len) < 0 || fflush(stdout) == EOF)) {
            fprintf(stderr, "ring_stream: stdout: %s\n", strerror(errno));
            break;
        }
        ipc_ring_release(&r); /* only now may the producer write over it */
        crc = h.crc;
        got++;
        bytes += h.len;
        expected++;
        if (o->delay_us) {
            struct timespec ts = {(time_t)(o->delay_us / 1000000), (long)(o->delay_us % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
    }
    secs = got ? seconds_since(t0) : 0;
    if (stop == STOP_COUNT) { /* the end of the stream, if it is there already */
        const void *where;
        n = ipc_ring_peek(&r, &where, 0);
        ended = n == IPC_EOF || n == IPC_EPEERDEAD; /* nobody will send more */
    }
    if (summary("received", got, bytes, secs, crc)) status = EXIT_FAIL;
    switch (stop) {
    case STOP_END:
        if (o->has_expect && got != o->expect) {
            fprintf(stderr, "ring_stream: %s: the stream ended after %llu records, not %llu\n", o->name,
                    (unsigned long long)got, o->expect);
            status = EXIT_FAIL;
        }
        break;
    case STOP_COUNT: break;
    case STOP_PEERDEAD:
        fprintf(stderr, "ring_stream: %s: peer process died after %llu records\n", o->name, (unsigned long long)got);
        status = EXIT_PEERDEAD;
        break;
    case STOP_SIGNAL:
        fprintf(stderr, "ring_stream: %s: %s after %llu records\n", o->name,
                got_signal == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)", (unsigned long long)got);
        status = 128 + got_signal;
        break;
    case STOP_TIMEOUT:
        fprintf(stderr, "ring_stream: %s: no record for %d ms (%llu received): %s\n", o->name, o->timeout_ms,
                (unsigned long long)got, ipc_strerror((int)n));
        status = EXIT_TIMEOUT;
        break;
    default: status = EXIT_FAIL; break;
    }
    /* The name goes first: a producer that then finds us gone knows that
       nobody can take our place. */
    if (!o->keep && (stop != STOP_COUNT || ended) && (rc = ipc_ring_unlink(o->name)) < 0 && status == 0)
        status = failed(o->name, rc);
    if ((rc = ipc_ring_close(&r)) < 0 && status == 0) status = failed(o->name, rc);
    return status;
}

/* ---- rm ------------------------------------------------------------------------ */

static int do_rm(const char *name) {
    int rc = ipc_ring_unlink(name);
    return rc < 0 ? failed(name, rc) : 0;
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
            "usage: ring_stream produce NAME [-n COUNT] [-s SIZE] [--cap BYTES] [--timeout MS] [--spin]\n"
            "       ring_stream consume NAME [-n COUNT] [--expect COUNT] [--timeout MS] [--from-any]\n"
            "                                [--trace] [--delay US] [--keep] [--cap BYTES] [--spin]\n"
            "       ring_stream rm NAME\n"
            "Self-checking records through the shared-memory ring NAME ('/' and a name without '/').\n"
            "Either side may start first; the first one creates the ring.\n"
            "  -c, --cap BYTES     data bytes of a ring created here (default 64K; K, M, G)\n"
            "  -S, --spin          a ring created here spins instead of sleeping\n"
            "  -t, --timeout MS    give up when a wait lasts MS ms (exit 3)\n"
            "produce: sends COUNT records, then closes the ring (the end of the stream).\n"
            "  -n, --count COUNT   records to send (default %d)\n"
            "  -s, --size SIZE     payload bytes a record (default %d; K, M, G), or rand[:MAX]\n"
            "consume: receives and checks records until the end of the stream.\n"
            "  -n, --count COUNT   stop after COUNT records (the ring stays if the stream goes on)\n"
            "  -e, --expect COUNT  fail unless the stream held exactly COUNT records\n"
            "  -a, --from-any      start at any sequence number (after another consumer)\n"
            "  -v, --trace         print 'record SEQ LEN' for each record\n"
            "  -d, --delay US      sleep US microseconds after each record\n"
            "  -k, --keep          leave the ring in place at the end\n"
            "rm: remove the ring.\n"
            "Exit status: 0 ok, 1 failure, 2 usage error or bad name, 3 timeout, 4 producer died,\n"
            "130/143 consumer stopped by SIGINT/SIGTERM.\n",
            DEFAULT_COUNT, DEFAULT_SIZE);
}

/* A decimal number in [lo, hi], or -1 when s is not one. */
static int parse_number(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out) {
    char *end;
    unsigned long long v;
    if (*s < '0' || *s > '9') return -1; /* strtoull would accept " -5" */
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* A byte count with an optional binary suffix K, M or G, in [lo, hi]. */
static int parse_bytes(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out) {
    char buf[32];
    size_t n = strlen(s);
    unsigned shift = 0;
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n + 1);
    switch (buf[n - 1]) {
    case 'k':
    case 'K': shift = 10; break;
    case 'm':
    case 'M': shift = 20; break;
    case 'g':
    case 'G': shift = 30; break;
    }
    if (shift) buf[n - 1] = '\0';
    if (parse_number(buf, 0, hi >> shift, out) < 0 || (*out << shift) < lo) return -1;
    *out <<= shift;
    return 0;
}

int main(int argc, char *argv[]) {
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'}, {"size", required_argument, NULL, 's'},
        {"cap", required_argument, NULL, 'c'},   {"timeout", required_argument, NULL, 't'},
        {"spin", no_argument, NULL, 'S'},        {"expect", required_argument, NULL, 'e'},
        {"from-any", no_argument, NULL, 'a'},    {"trace", no_argument, NULL, 'v'},
        {"delay", required_argument, NULL, 'd'}, {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    /* The options each command takes (all take -h). */
    static const struct {
        const char *name, *opts;
    } cmds[] = {{"produce", "nsctS"}, {"consume", "nctSeavdk"}, {"rm", ""}};
    options o;
    unsigned long long v;
    int opt, cmd = -1, has_count = 0;

    memset(&o, 0, sizeof o);
    o.size.size = DEFAULT_SIZE;
    o.cap = DEFAULT_CAP;
    o.timeout_ms = -1;
    if (argc < 2) {
        fprintf(stderr, "ring_stream: wants a command: produce, consume or rm (try --help)\n");
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (int i = 0; i < 3; i++)
        if (strcmp(argv[1], cmds[i].name) == 0) cmd = i;
    if (cmd < 0) {
        fprintf(stderr, "ring_stream: unknown command '%s' (produce, consume, rm; try --help)\n", argv[1]);
        return EXIT_USAGE;
    }

    /* getopt sees "CMD args...": argv[1] plays the program name. */
    opterr = 0; /* we print our own one-line message */
    argc--, argv++;
    while ((opt = getopt_long(argc, argv, "n:s:c:t:Se:avd:kh", longopts, NULL)) != -1) {
        const char *arg = argv[optind - 1];
        if (opt == 'h') {
            usage(stdout);
            return 0;
        }
        if (opt == '?') {
            if (optopt && strchr("nscted", optopt))
                fprintf(stderr, "ring_stream %s: %s needs an argument (try --help)\n", cmds[cmd].name, arg);
            else
                fprintf(stderr, "ring_stream %s: unknown option '%s' (try --help)\n", cmds[cmd].name, arg);
            return EXIT_USAGE;
        }
        if (!strchr(cmds[cmd].opts, opt)) {
            fprintf(stderr, "ring_stream %s: '%s' is not an option of %s (try --help)\n", cmds[cmd].name, arg,
                    cmds[cmd].name);
            return EXIT_USAGE;
        }
        switch (opt) {
        case 'n':
            /* produce -n 0 sends nothing (the consumer sees an empty stream). */
            if (parse_number(optarg, cmd == 0 ? 0 : 1, ULLONG_MAX, &o.count) < 0) {
                fprintf(stderr, "ring_stream %s: -n wants a count (at least %d), not '%s'\n", cmds[cmd].name,
                        cmd == 0 ? 0 : 1, optarg);
                return EXIT_USAGE;
            }
            has_count = 1;
            break;
        case 's':
            if (strncmp(optarg, "rand", 4) == 0 && (optarg[4] == '\0' || optarg[4] == ':')) {
                o.size.rnd = 1;
                v = RAND_MAX_SIZE;
                if (optarg[4] == ':' && parse_bytes(optarg + 5, 1, MAX_SIZE, &v) < 0) {
                    fprintf(stderr, "ring_stream produce: -s rand:MAX wants a size (1..%u), not '%s'\n", MAX_SIZE,
                            optarg + 5);
                    return EXIT_USAGE;
                }
            } else if (parse_bytes(optarg, 0, MAX_SIZE, &v) < 0) {
                fprintf(stderr, "ring_stream produce: -s wants a size (0..%u) or rand[:MAX], not '%s'\n", MAX_SIZE,
                        optarg);
                return EXIT_USAGE;
            }
            o.size.size = (size_t)v;
            break;
        case 'c':
            if (parse_bytes(optarg, 1, (unsigned long long)1 << 30, &v) < 0) {
                fprintf(stderr, "ring_stream %s: --cap wants a size in bytes (1..1G; K, M, G), not '%s'\n",
                        cmds[cmd].name, optarg);
                return EXIT_USAGE;
            }
            o.cap = (size_t)v;
            break;
        case 't':
            if (parse_number(optarg, 0, INT_MAX, &v) < 0) {
                fprintf(stderr, "ring_stream %s: --timeout wants milliseconds (0..%d), not '%s'\n", cmds[cmd].name,
                        INT_MAX, optarg);
                return EXIT_USAGE;
            }
            o.timeout_ms = (int)v;
            break;
        case 'e':
            if (parse_number(optarg, 0, ULLONG_MAX, &o.expect) < 0) {
                fprintf(stderr, "ring_stream consume: --expect wants a count, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            o.has_expect = 1;
            break;
        case 'd':
            if (parse_number(optarg, 0, 10000000, &v) < 0) {
                fprintf(stderr, "ring_stream consume: --delay wants microseconds (0..10000000), not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            o.delay_us = (unsigned long)v;
            break;
        case 'S': o.spin = 1; break;
        case 'a': o.from_any = 1; break;
        case 'v': o.trace = 1; break;
        case 'k': o.keep = 1; break;
        }
    }
    if (cmd == 0 && !has_count) o.count = DEFAULT_COUNT;
    if (cmd == 1 && has_count && o.has_expect) {
        fprintf(stderr, "ring_stream consume: -n and --expect do not go together (try --help)\n");
        return EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "ring_stream %s: wants a ring NAME (try --help)\n", cmds[cmd].name);
        return EXIT_USAGE;
    }
    o.name = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "ring_stream %s: unexpected argument '%s' (try --help)\n", cmds[cmd].name, argv[optind]);
        return EXIT_USAGE;
    }
    int rc = ipc_mq_name_check(o.name);
    if (rc < 0) {
        fprintf(stderr, "ring_stream: '%s': %s (a ring name is '/' and a name without '/', as in /stream)\n", o.name,
                ipc_strerror(rc));
        return EXIT_USAGE;
    }
    crc_init();
    switch (cmd) {
    case 0: return do_produce(&o);
    case 1: return do_consume(&o);
    default: return do_rm(o.name);
    }
}
