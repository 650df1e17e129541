/* Fuzzes the robust-I/O layer's partial-I/O paths against a scripted fake
   descriptor. IPC_TEST_HOOKS routes the library's readv/writev/poll to the
   fake below: an in-memory pipe whose every call takes its fate from the
   input's script -- a short count, EINTR, EAGAIN (the fake poll then says
   ready, or for a zero timeout maybe "not ready"), and in the first phase
   a hard error (EPIPE/EIO) -- and behaves normally once the script runs
   out, so no script can loop forever. The fd is a real one (/dev/null), so
   fcntl and fstat work; the library's own max_io/eintr_at hooks can be
   layered on top.

   Input: byte 0 flags: bit 0 blocking calls use a 60 s timeout (so the
   poll-before-I/O path runs; else -1), bit 1 max_io on, bit 2 eintr_at on,
   bits 3-7 v: the reader's buffer is 1 + 8v bytes, or for v = 31 the
   default 64 KiB. Byte 1: low nibble max_io - 1, bit 7 phase 1 uses
   writev_all. Byte 2 eintr_at; byte 3 eintr_every (0, or 2..). Byte 4 the
   sender's high water: 1 + 4 x value, or for FF the default 1 MiB. Bytes
   5-6 (little-endian) the frame limit for phase 4, 1..4096. Byte 7 the
   script's length; then the script; then payloads (at most 16, 8 KiB in
   all): a length byte L (L < F0: L bytes; else a second byte B and
   ((L & 0F) << 8 | B) bytes) and its bytes, repeated when the input runs
   short.

   Phases, each replaying the script from its start, each checking that the
   bytes in the fake pipe are exactly the bytes the library says it wrote:
     1. ipc_write_all / ipc_writev_all (one iovec per payload, empty ones
        too) of all payloads, then ipc_read_full of them back, EOF after
        them, IPC_ETRUNC for one byte more, and ipc_read_some in pieces;
        under a hard error, *done is what reached the pipe.
     2. for each codec, ipc_send_frame of every payload: the pipe holds the
        concatenated ipc_frame_encode frames; ipc_reader_next and
        ipc_recv_frame give every payload back, then IPC_EOF.
     3. for each codec, the non-blocking ipc_sender: ipc_sender_send of every
        payload, retrying after ipc_sender_flush on -EAGAIN (which must have
        queued nothing), then a flush: the pipe holds exactly the
        concatenated frames (nothing lost, nothing duplicated) and they
        decode back; after every call the pipe is a prefix of them and
        pipe + queue = the frames accepted; a send made when the fd takes
        everything leaves nothing queued ("writes as much as the fd takes
        now"); backpressure keeps to its documented bounds (-EAGAIN only
        above low water, the queue at most high water + one frame).
     4. for each codec, the payloads' bytes as a raw (mostly malformed)
        stream: ipc_reader_next and ipc_recv_frame report exactly the frames
        and errors a decoder fed the whole stream reports, then the same
        end (IPC_EOF, IPC_ETRUNC, or the sticky error). */
#define _GNU_SOURCE
#define IPC_TEST_HOOKS
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include "fuzz_common.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#define MAX_PAYLOADS 16
#define MAX_TOTAL (8u << 10)

/* ---- the fake descriptor ---------------------------------------------------- */

static struct fake {
    int fd;                 /* /dev/null, opened once */
    uint8_t *pipe;          /* every byte written, in order */
    size_t len, rpos, room; /* written; read so far; allocated */
    const uint8_t *script;  /* one byte per call while it lasts */
    size_t script_len, script_pos;
    int hard_errors; /* phase 1 only: EPIPE / EIO from the script */
} fk;

/* Empties the pipe and restarts the script. */
static void fake_reset(int hard_errors) {
    fk.len = fk.rpos = 0;
    fk.script_pos = 0;
    fk.hard_errors = hard_errors;
}
/* Back to the pipe's first byte and the script's, for reading it again. */
static void fake_rewind(void) {
    fk.rpos = 0;
    fk.script_pos = 0;
}
static int fake_take(void) {
    return fk.script_pos < fk.script_len ? fk.script[fk.script_pos++] : -1;
}

/* A script byte s: s & 7 = 0 EINTR, 1 EAGAIN, 2 a hard error when the
   phase allows it (else a write takes 0 bytes, a read gives 1), 3..7 a
   short count of 1 + (s >> 3) + 32 * (s & 7 - 3) bytes (1..160). -1 (the
   script is over): all of it. */
static ssize_t fake_fate(int s, size_t want, int hard_errno) {
    if (s < 0) return (ssize_t)want;
    switch (s & 7) {
    case 0: errno = EINTR; return -1;
    case 1: errno = EAGAIN; return -1;
    case 2:
        if (fk.hard_errors) {
            errno = hard_errno;
            return -1;
        }
        return hard_errno == EPIPE || want < 1 ? 0 : 1;
    default: {
        size_t k = 1 + (size_t)(s >> 3) + 32 * (size_t)((s & 7) - 3);
        return (ssize_t)(k < want ? k : want);
    }
    }
}

static ssize_t fake_writev(int fd, const struct iovec *iov, int cnt) {
    size_t want = 0, k, i;
    ssize_t fate;
    CHECK(fd == fk.fd);
    CHECK(cnt >= 1 && cnt <= IOV_MAX);
    for (i = 0; i < (size_t)cnt; i++)
        want += iov[i].iov_len;
    if ((fate = fake_fate(fake_take(), want, EPIPE)) < 0) return -1;
    if (fk.room - fk.len < (size_t)fate) {
        while (fk.room - fk.len < (size_t)fate)
            fk.room = fk.room ? 2 * fk.room : 4096;
        fk.pipe = (uint8_t *)realloc(fk.pipe, fk.room);
        CHECK(fk.pipe != NULL);
    }
    for (i = 0, k = (size_t)fate; k > 0; i++) {
        size_t c = iov[i].iov_len < k ? iov[i].iov_len : k;
        if (c) memcpy(fk.pipe + fk.len, iov[i].iov_base, c); /* an empty entry may be (NULL, 0) */
        fk.len += c, k -= c;
    }
    return fate;
}

static ssize_t fake_readv(int fd, const struct iovec *iov, int cnt) {
    size_t want = 0, k, i;
    ssize_t fate;
    CHECK(fd == fk.fd);
    CHECK(cnt >= 1 && cnt <= IOV_MAX);
    for (i = 0; i < (size_t)cnt; i++)
        want += iov[i].iov_len;
    if ((fate = fake_fate(fake_take(), want, EIO)) < 0) return -1;
    if ((size_t)fate > fk.len - fk.rpos) fate = (ssize_t)(fk.len - fk.rpos); /* 0: the writer closed */
    for (i = 0, k = (size_t)fate; k > 0; i++) {
        size_t c = iov[i].iov_len < k ? iov[i].iov_len : k;
        if (c) memcpy(iov[i].iov_base, fk.pipe + fk.rpos, c);
        fk.rpos += c, k -= c;
    }
    return fate;
}

/* s & 3 = 0 EINTR, 1 "not ready" for a zero timeout (else ready), 2-3 ready.
   It never times out a real wait: that would spin to the deadline. */
static int fake_poll(void *fds, unsigned long nfds, int timeout_ms) {
    struct pollfd *p = (struct pollfd *)fds;
    int s = fake_take();
    CHECK(nfds == 1 && p->fd == fk.fd);
    CHECK((p->events & ~POLLRDHUP) == POLLIN || p->events == POLLOUT); /* readers also ask for POLLRDHUP */
    if (s >= 0 && (s & 3) == 0) {
        errno = EINTR;
        return -1;
    }
    if (s >= 0 && (s & 3) == 1 && timeout_ms == 0) return 0;
    p->revents = p->events & (POLLIN | POLLOUT); /* a pipe is never shut down for reading */
    return 1;
}

/* ---- helpers ---------------------------------------------------------------- */

typedef struct payloads {
    uint8_t *p[MAX_PAYLOADS];
    size_t len[MAX_PAYLOADS], count, total, longest;
} payloads;

/* The sender leaves the fd non-blocking; the other phases want it blocking. */
static void set_blocking(void) {
    int fl = fcntl(fk.fd, F_GETFL);
    CHECK(fl >= 0);
    CHECK(fcntl(fk.fd, F_SETFL, fl & ~O_NONBLOCK) == 0);
}

/* The pipe is a prefix of want[0..wlen) -- or, with whole, all of it. */
static void pipe_is(const uint8_t *want, size_t wlen, int whole) {
    CHECK(fk.len <= wlen);
    if (whole) CHECK(fk.len == wlen);
    CHECK(fk.len == 0 || !memcmp(fk.pipe, want, fk.len));
}

/* The concatenated reference frames of every payload, and each one's size. */
static uint8_t *encode_all(ipc_codec codec, const payloads *pl, size_t *flen, size_t *total) {
    size_t room = 0, i;
    uint8_t *out;
    for (i = 0; i < pl->count; i++)
        room += ipc_frame_bound(codec, pl->len[i]);
    out = (uint8_t *)malloc(room ? room : 1);
    CHECK(out != NULL);
    *total = 0;
    for (i = 0; i < pl->count; i++) {
        ssize_t r = ipc_frame_encode(codec, out + *total, room - *total, pl->p[i], pl->len[i]);
        CHECK(r > 0);
        flen[i] = (size_t)r;
        *total += (size_t)r;
    }
    return out;
}

/* ---- 1. write_all / writev_all, read_full, read_some ---------------------- */

static void phase_raw_io(const payloads *pl, int use_iov, int timeout) {
    uint8_t *all = (uint8_t *)malloc(pl->total + 1), *back = (uint8_t *)malloc(pl->total + 1);
    size_t off = 0, done = 12345, i, len;
    int rc;
    CHECK(all && back);
    for (i = 0; i < pl->count; i++) {
        if (pl->len[i]) memcpy(all + off, pl->p[i], pl->len[i]);
        off += pl->len[i];
    }
    fake_reset(1);
    if (use_iov) {
        struct iovec iov[MAX_PAYLOADS];
        for (i = 0; i < pl->count; i++)
            iov[i].iov_base = pl->p[i], iov[i].iov_len = pl->len[i];
        rc = ipc_writev_all(fk.fd, iov, (int)pl->count, &done, timeout);
    } else {
        rc = ipc_write_all(fk.fd, all, pl->total, &done, timeout);
    }
    /* *done is exactly what reached the pipe, success or not */
    CHECK(done == fk.len);
    pipe_is(all, pl->total, rc == 0);
    CHECK(rc == 0 || rc == -EPIPE);
    len = fk.len;

    /* read it back; a scripted EIO is an error with *done bytes read */
    fake_rewind();
    off = 0;
    for (;;) {
        done = 12345;
        rc = ipc_read_full(fk.fd, back + off, len - off, &done, timeout);
        CHECK(done <= len - off);
        off += done;
        if (rc == 0) break;
        CHECK(rc == -EIO);
    }
    CHECK(off == len && (len == 0 || !memcmp(back, all, len)));
    do { /* and the writer closed after it */
        done = 12345;
        rc = ipc_read_full(fk.fd, back, 1, &done, timeout);
        CHECK(done == 0);
    } while (rc == -EIO);
    CHECK(rc == IPC_EOF);

    /* one byte more than there is: truncation, with all of it in *done */
    fake_rewind();
    off = 0;
    for (;;) {
        done = 12345;
        rc = ipc_read_full(fk.fd, back + off, len + 1 - off, &done, timeout);
        off += done;
        if (rc != -EIO) break;
    }
    CHECK(off == len);
    CHECK(rc == (len ? IPC_ETRUNC : IPC_EOF) || (rc == IPC_EOF && done == 0 && off == len));
    CHECK(len == 0 || !memcmp(back, all, len));

    /* ipc_read_some in pieces of up to 1..37 bytes */
    fake_rewind();
    off = 0;
    for (i = 0;; i++) {
        size_t want = 1 + (i * 7) % 37;
        ssize_t got = ipc_read_some(fk.fd, back + off, want, timeout);
        if (got == -EIO) continue;
        if (got == IPC_EOF) break;
        CHECK(got > 0 && (size_t)got <= want && (size_t)got <= len - off);
        off += (size_t)got;
        CHECK(i < 4 * len + 1000);
    }
    CHECK(off == len && (len == 0 || !memcmp(back, all, len)));
    free(all);
    free(back);
}

/* ---- 2. send_frame, then reader_next and recv_frame ----------------------- */

static void phase_frames(ipc_codec codec, const payloads *pl, int timeout, size_t bufsize) {
    size_t flen[MAX_PAYLOADS], total, i;
    uint8_t *want = encode_all(codec, pl, flen, &total), *buf;
    ipc_reader r;
    const uint8_t *frame;
    ssize_t n;

    fake_reset(0);
    for (i = 0; i < pl->count; i++)
        CHECK(ipc_send_frame(fk.fd, codec, pl->p[i], pl->len[i], timeout) == 0);
    pipe_is(want, total, 1);

    fake_rewind();
    CHECK(ipc_reader_init(&r, fk.fd, codec, pl->longest ? pl->longest : 1, bufsize) == 0);
    for (i = 0; i < pl->count; i++) {
        n = ipc_reader_next(&r, &frame, timeout);
        CHECK(n >= 0 && (size_t)n == pl->len[i]);
        CHECK(n == 0 || !memcmp(frame, pl->p[i], (size_t)n));
    }
    CHECK(ipc_reader_next(&r, &frame, timeout) == IPC_EOF);
    CHECK(ipc_reader_next(&r, &frame, timeout) == IPC_EOF);
    CHECK(fk.rpos == fk.len);
    ipc_reader_free(&r);

    fake_rewind();
    buf = (uint8_t *)malloc(pl->longest ? pl->longest : 1);
    CHECK(buf != NULL);
    for (i = 0; i < pl->count; i++) {
        n = ipc_recv_frame(fk.fd, codec, buf, pl->longest, timeout);
        CHECK(n >= 0 && (size_t)n == pl->len[i]);
        CHECK(n == 0 || !memcmp(buf, pl->p[i], (size_t)n));
    }
    CHECK(ipc_recv_frame(fk.fd, codec, buf, pl->longest, timeout) == IPC_EOF);
    free(buf);
    free(want);
}

/* ---- 3. the non-blocking sender --------------------------------------------- */

static void phase_sender(ipc_codec codec, const payloads *pl, size_t high_water) {
    size_t flen[MAX_PAYLOADS], total, accepted = 0, i;
    uint8_t *want = encode_all(codec, pl, flen, &total);
    uint64_t refused = 0;
    ipc_sender s;
    ipc_decoder d;
    int rc;

    set_blocking();
    fake_reset(0);
    CHECK(ipc_sender_init(&s, fk.fd, codec, high_water) == 0);
    CHECK(fcntl(fk.fd, F_GETFL) & O_NONBLOCK);
    if (!high_water) high_water = (size_t)1 << 20;
    CHECK(s.high_water == high_water && s.low_water == high_water / 2);

#define SENDER_INVARIANTS()                                                                                            \
    do {                                                                                                               \
        CHECK(s.bytes_out == fk.len);                       /* the counter tells the truth */                          \
        pipe_is(want, total, 0);                            /* in order, nothing duplicated */                         \
        CHECK(fk.len + ipc_sender_pending(&s) == accepted); /* nothing lost */                                         \
        CHECK(!s.blocked || ipc_sender_pending(&s) > s.low_water);                                                     \
        CHECK(s.error == 0);                                                                                           \
    } while (0)

    for (i = 0; i < pl->count; i++) {
        unsigned attempts = 0;
        for (;;) {
            size_t before = ipc_sender_pending(&s);
            int fd_takes_all = fk.script_pos == fk.script_len; /* short counts and EINTR only slow it */
            rc = ipc_sender_send(&s, pl->p[i], pl->len[i]);
            if (rc == 0) {
                accepted += flen[i];
                SENDER_INVARIANTS();
                /* "Send queues a frame and writes as much as the fd takes
                   now": with the script over, the fd takes everything. */
                if (fd_takes_all) CHECK(ipc_sender_pending(&s) == 0);
                /* accepted only at or below high water: memory stays bounded */
                CHECK(ipc_sender_pending(&s) <= high_water + flen[i]);
                CHECK(ipc_sender_pending(&s) <= s.high_water || s.blocked);
                break;
            }
            CHECK(rc == -EAGAIN); /* backpressure, and nothing of this frame queued */
            CHECK(before > s.low_water);
            CHECK(s.backpressure == ++refused);
            SENDER_INVARIANTS();
            rc = ipc_sender_flush(&s, attempts < 4 ? 0 : -1);
            CHECK(rc == 0 || (rc == -EAGAIN && attempts < 4));
            SENDER_INVARIANTS();
            CHECK(++attempts < 64);
        }
    }
    rc = ipc_sender_flush(&s, -1);
    CHECK(rc == 0);
    CHECK(ipc_sender_pending(&s) == 0);
    SENDER_INVARIANTS();
    pipe_is(want, total, 1);
    CHECK(s.frames == pl->count && s.bytes_out == total && s.backpressure == refused);
    CHECK(s.peak <= high_water + (pl->longest ? ipc_frame_bound(codec, pl->longest) : 8));
#undef SENDER_INVARIANTS

    /* the pipe decodes back to the payloads */
    ipc_decoder_init(&d, codec, 0, NULL, 0);
    {
        size_t off = 0, used, fl;
        const uint8_t *frame;
        for (i = 0; i < pl->count; i++) {
            rc = ipc_decoder_feed(&d, fk.pipe + off, fk.len - off, &used, &frame, &fl);
            CHECK(rc == 1 && fl == pl->len[i] && (fl == 0 || !memcmp(frame, pl->p[i], fl)));
            off += used;
        }
        CHECK(off == fk.len && ipc_decoder_finish(&d) == 0);
    }
    ipc_decoder_free(&d);
    ipc_sender_free(&s);
    set_blocking();
    free(want);
}

/* ---- 4. a raw stream through the reader and recv_frame ---------------------- */

/* What a decoder fed the whole stream reports, then how the stream ends:
   IPC_EOF, IPC_ETRUNC, or (LEN32/VARINT) the sticky error. */
static void expected_events(ipc_codec codec, const uint8_t *s, size_t n, size_t limit, fz_events *e) {
    ipc_decoder d;
    size_t off = 0;
    int rc = 0;
    ipc_decoder_init(&d, codec, limit, NULL, 0);
    while (off < n) {
        size_t used, fl;
        const uint8_t *frame;
        rc = ipc_decoder_feed(&d, s + off, n - off, &used, &frame, &fl);
        off += used;
        if (rc == 1)
            fz_events_frame(e, frame, fl);
        else if (rc < 0)
            fz_events_error(e, rc, 0);
        if (rc < 0 && codec != IPC_COBS) break;
    }
    if (!(rc < 0 && codec != IPC_COBS)) fz_events_error(e, ipc_decoder_finish(&d) < 0 ? IPC_ETRUNC : IPC_EOF, 0);
    ipc_decoder_free(&d);
}

static void phase_raw_stream(ipc_codec codec, const payloads *pl, size_t limit, int timeout, size_t bufsize) {
    fz_events want, got;
    ipc_reader r;
    const uint8_t *frame;
    uint8_t *buf;
    size_t i, calls;
    ssize_t n;

    fake_reset(0);
    for (i = 0; i < pl->count; i++)
        CHECK(ipc_write_all(fk.fd, pl->p[i], pl->len[i], NULL, -1) == 0);
    memset(&want, 0, sizeof want);
    expected_events(codec, fk.pipe, fk.len, limit, &want);

    /* the buffered reader */
    memset(&got, 0, sizeof got);
    fake_rewind();
    CHECK(ipc_reader_init(&r, fk.fd, codec, limit, bufsize) == 0);
    for (calls = 0;; calls++) {
        CHECK(calls <= want.n + 2);
        n = ipc_reader_next(&r, &frame, timeout);
        if (n >= 0) {
            CHECK((size_t)n <= limit);
            fz_events_frame(&got, frame, (size_t)n);
            continue;
        }
        CHECK(n == IPC_EOF || n == IPC_ETRUNC || n == IPC_EFRAME || n == IPC_ETOOBIG);
        fz_events_error(&got, (int)n, 0);
        if (n == IPC_EOF || n == IPC_ETRUNC) break;
        if (codec != IPC_COBS) { /* sticky */
            CHECK(ipc_reader_next(&r, &frame, timeout) == n);
            break;
        }
    }
    ipc_reader_free(&r);
    if (!fz_events_same(&want, &got, "decoder", "ipc_reader_next")) CHECK(!"ipc_reader_next differs from the decoder");
    fz_events_free(&got);

    /* recv_frame, a frame per call, into exactly limit bytes */
    memset(&got, 0, sizeof got);
    fake_rewind();
    buf = (uint8_t *)malloc(limit);
    CHECK(buf != NULL);
    for (calls = 0;; calls++) {
        CHECK(calls <= want.n + 2);
        n = ipc_recv_frame(fk.fd, codec, buf, limit, timeout);
        if (n >= 0) {
            CHECK((size_t)n <= limit);
            fz_events_frame(&got, buf, (size_t)n);
            continue;
        }
        CHECK(n == IPC_EOF || n == IPC_ETRUNC || n == IPC_EFRAME || n == IPC_ETOOBIG);
        fz_events_error(&got, (int)n, 0);
        if (n == IPC_EOF || n == IPC_ETRUNC || codec != IPC_COBS) break;
    }
    free(buf);
    if (!fz_events_same(&want, &got, "decoder", "ipc_recv_frame")) CHECK(!"ipc_recv_frame differs from the decoder");
    fz_events_free(&got);
    fz_events_free(&want);
}

/* ---- the harness -------------------------------------------------------------- */

/* The fake's fd, opened once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fk.fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    CHECK(fk.fd >= 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const ipc_codec codecs[3] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    fz_in in = {data, size, 0};
    unsigned flags = fz_byte(&in), max_io = fz_byte(&in), eintr_at = fz_byte(&in), eintr_every = fz_byte(&in);
    size_t high_water = fz_byte(&in), limit = 1 + fz_u16(&in) % 4096, script_len = fz_byte(&in), i;
    int timeout = (flags & 1) ? 60000 : -1, c;
    size_t bufsize = (flags >> 3) & 31; /* 31: 0, the default 64 KiB (slow under ASan) */
    bufsize = bufsize == 31 ? 0 : 1 + 8 * bufsize;
    high_water = high_water == 0xFF ? 0 : 1 + 4 * high_water; /* 0: the default 1 MiB */
    payloads pl;

    set_blocking();
    if (script_len > fz_left(&in)) script_len = fz_left(&in);
    fk.script = data + in.pos;
    fk.script_len = script_len;
    in.pos += script_len;

    memset(&pl, 0, sizeof pl);
    while (fz_left(&in) > 0 && pl.count < MAX_PAYLOADS) {
        size_t L = fz_byte(&in), n, got, k;
        if (L >= 0xF0) L = (L & 0x0F) << 8 | fz_byte(&in);
        n = L < MAX_TOTAL - pl.total ? L : MAX_TOTAL - pl.total;
        got = fz_left(&in) < n ? fz_left(&in) : n;
        pl.p[pl.count] = n ? (uint8_t *)malloc(n) : NULL; /* (NULL, 0): an empty message, as callers pass it */
        CHECK(n == 0 || pl.p[pl.count] != NULL);
        if (got) memcpy(pl.p[pl.count], data + in.pos, got);
        in.pos += got;
        for (k = got; k < n; k++)
            pl.p[pl.count][k] = got ? pl.p[pl.count][k % got] : (uint8_t)(k * 7 + 1);
        pl.len[pl.count++] = n;
        pl.total += n;
        if (n > pl.longest) pl.longest = n;
    }

    /* the library's own fault hooks, under the fake's */
    memset(&ipc_test, 0, sizeof ipc_test);
    ipc_test.readv = fake_readv;
    ipc_test.writev = fake_writev;
    ipc_test.poll = fake_poll;
    ipc_test.rng = 0x1234567 + size;
    if (flags & 2) ipc_test.max_io = 1 + (max_io & 15);
    if (flags & 4) {
        ipc_test.eintr_at = 1 + eintr_at;
        ipc_test.eintr_every = eintr_every < 2 ? 0 : eintr_every; /* every call would never finish */
    }

    phase_raw_io(&pl, max_io & 0x80, timeout);
    for (c = 0; c < 3; c++) {
        phase_frames(codecs[c], &pl, timeout, bufsize);
        phase_sender(codecs[c], &pl, high_water);
        phase_raw_stream(codecs[c], &pl, limit, timeout, bufsize);
    }

    memset(&ipc_test, 0, sizeof ipc_test);
    for (i = 0; i < pl.count; i++)
        free(pl.p[i]);
    return 0;
}
