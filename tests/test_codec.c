/* Unit tests for section 1 of ipc.h, the framing codecs: LEN32, VARINT and
   COBS encoders, ipc_frame_encode/bound, and the incremental ipc_decoder.

   Every decoder case is fed whole, a byte at a time and in pseudo-random
   chunks (assert_split_independent), each chunk copied so that it ends at a
   PROT_NONE guard page: a read one byte past the input faults at once. The
   expected bytes come from the wire formats in ipc.h's doc block and
   DESIGN.md (COBS vectors: Cheshire & Baker 1999 and Wikipedia). */
#define _GNU_SOURCE
#include "helpers.h"
#include "ipc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANY_OFFSET UINT64_MAX /* an expected error whose err_offset is not checked */

/* ==== growable byte strings ============================================== */

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void b_put(bytes *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n) cap *= 2;
        b->p = (uint8_t *)realloc(b->p, cap);
        cr_assert_not_null(b->p, "out of memory in the test itself");
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void b_byte(bytes *b, unsigned x) {
    uint8_t c = (uint8_t)x;
    b_put(b, &c, 1);
}
static void b_fill(bytes *b, unsigned x, size_t n) {
    while (n--) b_byte(b, x);
}
/* Appends lo, lo+1, ..., hi. */
static void b_range(bytes *b, unsigned lo, unsigned hi) {
    for (unsigned x = lo; x <= hi; x++) b_byte(b, x);
}
/* Appends bytes written as hex pairs, spaces ignored: "01 02 FF". */
static void b_hex(bytes *b, const char *hex) {
    while (*hex) {
        unsigned v;
        if (*hex == ' ') {
            hex++;
            continue;
        }
        cr_assert(sscanf(hex, "%2x", &v) == 1, "bad hex in test: %s", hex);
        b_byte(b, v);
        hex += 2;
    }
}
static void b_free(bytes *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15u;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}
/* n random bytes; zero_every > 0 makes about one byte in zero_every a 0x00
   beyond chance, 1 makes every other byte 0 on average. */
static void b_random(bytes *b, uint64_t *rng, size_t n, unsigned zero_every) {
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng_next(rng);
        b_byte(b, zero_every && r % (zero_every + 1) == 0 ? 0 : (unsigned)(r >> 24) & 0xFF);
    }
}

/* Guarded scratch buffers, reused so the hot loops do not mmap and munmap
   thousands of times: slot s hands out n bytes that end exactly at its
   guard page (the region grows as needed; the test process owns it until it
   exits). */
#define GUARD_SLOTS 5
static struct {
    uint8_t *base;
    size_t cap;
} guard_tab[GUARD_SLOTS];
static uint8_t *guard_slot(int slot, size_t n) {
    if (n > guard_tab[slot].cap || !guard_tab[slot].base) {
        size_t cap = n < 65536 ? 65536 : n;
        if (guard_tab[slot].base) guarded_free(guard_tab[slot].base, guard_tab[slot].cap);
        guard_tab[slot].base = (uint8_t *)guarded_alloc(cap);
        cr_assert_not_null(guard_tab[slot].base);
        guard_tab[slot].cap = cap;
    }
    return guard_tab[slot].base + guard_tab[slot].cap - n;
}
static uint8_t *guard_slot_copy(int slot, const void *src, size_t n) {
    uint8_t *p = guard_slot(slot, n);
    if (n) memcpy(p, src, n);
    return p;
}

/* Hex of up to 24 bytes, for failure messages. */
static const char *hexs(const uint8_t *p, size_t n, char *out, size_t outn) {
    size_t i, o = 0;
    out[0] = 0;
    for (i = 0; i < n && i < 24 && o + 4 < outn; i++) o += (size_t)snprintf(out + o, outn - o, "%02X ", p[i]);
    if (i < n && o + 4 < outn) snprintf(out + o, outn - o, "...");
    return out;
}

static void assert_bytes(const uint8_t *got, size_t gotn, const uint8_t *want, size_t wantn, const char *what) {
    char g[128], w[128];
    size_t i = 0;
    while (i < gotn && i < wantn && got[i] == want[i]) i++;
    cr_assert(gotn == wantn && i == wantn, "%s: got %zu bytes [%s], want %zu bytes [%s], first difference at %zu", what,
              gotn, hexs(got, gotn, g, sizeof g), wantn, hexs(want, wantn, w, sizeof w), i);
}

/* ==== decoder events ===================================================== */

enum { EV_FRAME = 1, EV_ERROR, EV_FINISH };
typedef struct event {
    int kind, code; /* code: an error, or ipc_decoder_finish's answer */
    uint64_t at;    /* err_offset of an error */
    bytes data;     /* a frame's bytes */
} event;
typedef struct events {
    event *v;
    size_t n, cap;
} events;

static event *ev_push(events *e, int kind, int code, uint64_t at) {
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->v = (event *)realloc(e->v, e->cap * sizeof *e->v);
        cr_assert_not_null(e->v, "out of memory in the test itself");
    }
    memset(&e->v[e->n], 0, sizeof e->v[e->n]);
    e->v[e->n].kind = kind;
    e->v[e->n].code = code;
    e->v[e->n].at = at;
    return &e->v[e->n++];
}
static void ev_frame(events *e, const void *p, size_t n) { b_put(&ev_push(e, EV_FRAME, 0, 0)->data, p, n); }
static void ev_error(events *e, int code, uint64_t at) { ev_push(e, EV_ERROR, code, at); }
static void ev_finish(events *e, int code) { ev_push(e, EV_FINISH, code, 0); }
static void ev_free(events *e) {
    for (size_t i = 0; i < e->n; i++) b_free(&e->v[i].data);
    free(e->v);
    memset(e, 0, sizeof *e);
}

static const char *ev_str(const event *x, char *out, size_t n) {
    char h[128];
    if (!x) return snprintf(out, n, "(nothing)"), out;
    if (x->kind == EV_FRAME)
        snprintf(out, n, "frame of %zu bytes [%s]", x->data.n, hexs(x->data.p, x->data.n, h, sizeof h));
    else if (x->kind == EV_ERROR)
        snprintf(out, n, "error %d (%s) at offset %llu", x->code, ipc_strerror(x->code), (unsigned long long)x->at);
    else
        snprintf(out, n, "finish %d (%s)", x->code, x->code ? ipc_strerror(x->code) : "at a frame boundary");
    return out;
}

/* got must equal want event for event; error offsets are compared only when
   check_offsets and want's offset is not ANY_OFFSET. */
static void ev_assert_same(const events *want, const events *got, int check_offsets, const char *what) {
    size_t i, n = want->n > got->n ? want->n : got->n;
    for (i = 0; i < n; i++) {
        const event *w = i < want->n ? &want->v[i] : NULL, *g = i < got->n ? &got->v[i] : NULL;
        int same = w && g && w->kind == g->kind && w->code == g->code;
        if (same && w->kind == EV_FRAME)
            same = w->data.n == g->data.n && (w->data.n == 0 || !memcmp(w->data.p, g->data.p, w->data.n));
        if (same && w->kind == EV_ERROR && check_offsets && w->at != ANY_OFFSET) same = w->at == g->at;
        if (!same) {
            char ws[256], gs[256];
            cr_assert_fail("%s: event %zu of %zu: got %s, want %s", what, i, want->n, ev_str(g, gs, sizeof gs),
                           ev_str(w, ws, sizeof ws));
        }
    }
}

/* How a stream is cut into feeds. */
enum { FEED_WHOLE, FEED_BYTES, FEED_RANDOM, FEED_FIXED, FEED_CUTS };
typedef struct chunker {
    int mode;
    size_t step;       /* FEED_FIXED: chunk size; FEED_RANDOM: largest chunk */
    uint64_t rng;      /* FEED_RANDOM */
    const size_t *cut; /* FEED_CUTS: ascending stream offsets to cut at */
    size_t ncut, next;
} chunker;

static size_t chunk_next(chunker *c, size_t pos, size_t n) {
    size_t k;
    switch (c->mode) {
    case FEED_WHOLE: return n - pos;
    case FEED_BYTES: return 1;
    case FEED_FIXED: k = c->step; break;
    case FEED_RANDOM: k = 1 + (size_t)(rng_next(&c->rng) % c->step); break;
    default:
        while (c->next < c->ncut && c->cut[c->next] <= pos) c->next++;
        k = (c->next < c->ncut ? c->cut[c->next] : n) - pos;
    }
    return k < n - pos ? k : n - pos;
}

/* Feeds s[0..n) to d in the chunks c chooses, each copied to the end of a
   guarded region, calling again with the rest after every frame or error.
   Records every frame and error in out, then ipc_decoder_finish. With
   stop_on_error the first error ends the stream (LEN32/VARINT errors are
   sticky). Checks the feed contract on the way: used <= the input, all of it
   used when the answer is 0, a frame no longer than max_frame, and no call
   that makes no progress twice in a row. */
static void feed_stream(ipc_decoder *d, const uint8_t *s, size_t n, chunker *c, int stop_on_error, events *out) {
    size_t pos = 0;
    uint8_t *end = guard_slot(0, n) + n;
    int stopped = 0;
    while (pos < n && !stopped) {
        size_t k = chunk_next(c, pos, n), left = k;
        uint8_t *p = end - k;
        int stalls = 0;
        memcpy(p, s + pos, k);
        pos += k;
        while (left > 0) {
            size_t used = (size_t)-1, flen = (size_t)-1;
            const uint8_t *frame = NULL;
            int rc = ipc_decoder_feed(d, p, left, &used, &frame, &flen);
            cr_assert_leq(used, left, "feed used %zu of %zu bytes", used, left);
            if (rc == 1) {
                cr_assert_not_null(frame, "a frame with a NULL pointer");
                cr_assert_leq(flen, d->max_frame, "a frame of %zu bytes over the limit %zu", flen, d->max_frame);
                ev_frame(out, frame, flen);
            } else if (rc == 0) {
                cr_assert_eq(used, left, "feed answered 0 (need more) with %zu of %zu bytes unused", left - used, left);
            } else {
                ev_error(out, rc, d->err_offset);
                if (stop_on_error) {
                    stopped = 1;
                    break;
                }
            }
            stalls = used ? 0 : stalls + 1;
            cr_assert_lt(stalls, 2, "two feeds in a row made no progress (rc %d)", rc);
            p += used;
            left -= used;
        }
    }
    ev_finish(out, ipc_decoder_finish(d));
}

static void decode_with(ipc_codec codec, size_t max, const uint8_t *s, size_t n, chunker *c, events *out) {
    ipc_decoder d;
    ipc_decoder_init(&d, codec, max, NULL, 0);
    feed_stream(&d, s, n, c, codec != IPC_COBS, out);
    ipc_decoder_free(&d);
}

/* The splitting promise: s fed whole, a byte at a time and in pseudo-random
   chunks of several sizes gives the same sequence of frames and error codes.
   With want, every way must also give exactly want (offsets included where
   want names them); without it, the ways are compared with the whole feed. */
static void assert_split_independent(ipc_codec codec, size_t max, const uint8_t *s, size_t n, const events *want) {
    static const size_t steps[] = {2, 3, 7, 64, 1000, 5000};
    events whole = {0}, got = {0};
    chunker c = {0};
    char what[96];
    const events *ref;
    c.mode = FEED_WHOLE;
    decode_with(codec, max, s, n, &c, &whole);
    if (want) ev_assert_same(want, &whole, 1, "fed whole");
    ref = want ? want : &whole;
    memset(&c, 0, sizeof c);
    c.mode = FEED_BYTES;
    decode_with(codec, max, s, n, &c, &got);
    ev_assert_same(ref, &got, want != NULL, "fed a byte at a time");
    ev_free(&got);
    for (unsigned seed = 1; seed <= 12; seed++) {
        memset(&c, 0, sizeof c);
        c.mode = FEED_RANDOM;
        c.rng = seed * 0x2545F4914F6CDD1Du;
        c.step = steps[seed % (sizeof steps / sizeof steps[0])];
        decode_with(codec, max, s, n, &c, &got);
        snprintf(what, sizeof what, "fed in random chunks of 1..%zu (seed %u)", c.step, seed);
        ev_assert_same(ref, &got, want != NULL, what);
        ev_free(&got);
    }
    ev_free(&whole);
}

/* ==== stream builders (independent of the library's encoders) ============ */

static void put_len32(bytes *s, const void *p, size_t n) {
    b_byte(s, (unsigned)(n >> 24) & 0xFF);
    b_byte(s, (unsigned)(n >> 16) & 0xFF);
    b_byte(s, (unsigned)(n >> 8) & 0xFF);
    b_byte(s, (unsigned)n & 0xFF);
    b_put(s, p, n);
}
static void put_leb128(bytes *s, uint64_t v) {
    while (v >= 0x80) {
        b_byte(s, (unsigned)(v & 0x7F) | 0x80);
        v >>= 7;
    }
    b_byte(s, (unsigned)v);
}
static void put_varint(bytes *s, const void *p, size_t n) {
    put_leb128(s, n);
    b_put(s, p, n);
}
/* A plain COBS encoder written from the paper: a code byte k is followed by
   k-1 data bytes and stands for a zero after them unless k is FF; the frame
   ends with 00. A payload ending in a full FF block gets no extra code byte. */
static void put_cobs(bytes *s, const void *payload, size_t n) {
    const uint8_t *p = (const uint8_t *)payload;
    size_t code_at = s->n;
    unsigned code = 1;
    b_byte(s, 0);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == 0) {
            s->p[code_at] = (uint8_t)code;
            code_at = s->n;
            b_byte(s, 0);
            code = 1;
            continue;
        }
        b_byte(s, p[i]);
        if (++code == 0xFF && i + 1 < n) {
            s->p[code_at] = 0xFF;
            code_at = s->n;
            b_byte(s, 0);
            code = 1;
        }
    }
    s->p[code_at] = (uint8_t)code;
    b_byte(s, 0);
}
static void put_frame(bytes *s, ipc_codec codec, const void *p, size_t n) {
    if (codec == IPC_LEN32) put_len32(s, p, n);
    else if (codec == IPC_VARINT) put_varint(s, p, n);
    else put_cobs(s, p, n);
}

/* Feeds exactly in[0..n) (from a guarded copy) once; returns the answer.
   The copy is gone afterwards: a frame handed back in place is not usable. */
static int feed_once(ipc_decoder *d, const void *in, size_t n, size_t *used, const uint8_t **frame,
                     size_t *frame_len) {
    uint8_t *g = guarded_copy(in, n);
    int rc;
    cr_assert_not_null(g);
    rc = ipc_decoder_feed(d, g, n, used, frame, frame_len);
    guarded_free(g, n);
    return rc;
}

/* ==== LEN32: header encoder ============================================== */

Test(codec_suite, len32_header_is_4_byte_big_endian_length, .timeout = 10) {
    static const struct {
        size_t len;
        uint8_t hdr[4];
    } v[] = {
        {0, {0x00, 0x00, 0x00, 0x00}},          {1, {0x00, 0x00, 0x00, 0x01}},
        {255, {0x00, 0x00, 0x00, 0xFF}},        {256, {0x00, 0x00, 0x01, 0x00}},
        {65536, {0x00, 0x01, 0x00, 0x00}},      {0x01020304, {0x01, 0x02, 0x03, 0x04}},
        {0x7FFFFFFF, {0x7F, 0xFF, 0xFF, 0xFF}},
    };
    uint8_t *out = (uint8_t *)guarded_alloc(4);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char what[64];
        cr_assert_eq(ipc_len32_header(out, v[i].len), 4, "len %zu", v[i].len);
        snprintf(what, sizeof what, "LEN32 header of %zu", v[i].len);
        assert_bytes(out, 4, v[i].hdr, 4, what);
    }
    guarded_free(out, 4);
}

Test(codec_suite, len32_header_refuses_length_over_2_31_minus_1, .timeout = 10) {
    uint8_t out[4];
    cr_assert_eq(ipc_len32_header(out, (size_t)1 << 31), IPC_ETOOBIG);
    cr_assert_eq(ipc_len32_header(out, 0xFFFFFFFFu), IPC_ETOOBIG);
    cr_assert_eq(ipc_len32_header(out, SIZE_MAX), IPC_ETOOBIG);
}

/* ==== LEN32: decoder ===================================================== */

Test(codec_suite, len32_zero_length_is_an_empty_frame, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    b_hex(&s, "00 00 00 00");
    ev_frame(&want, "", 0);
    ev_finish(&want, 0);
    assert_split_independent(IPC_LEN32, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, len32_one_to_three_header_bytes_then_end_is_truncation, .timeout = 10) {
    static const uint8_t hdr[4] = {0x00, 0x00, 0x00, 0x05};
    for (size_t k = 1; k <= 3; k++) {
        bytes s = {0};
        events want = {0};
        put_len32(&s, "ab", 2); /* a whole frame first, then k header bytes */
        b_put(&s, hdr, k);
        ev_frame(&want, "ab", 2);
        ev_finish(&want, IPC_ETRUNC);
        assert_split_independent(IPC_LEN32, 0, s.p, s.n, &want);
        ev_free(&want);
        b_free(&s);
    }
}

Test(codec_suite, len32_partial_payload_then_end_is_truncation, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    b_hex(&s, "00 00 00 05 11 22 33");
    ev_finish(&want, IPC_ETRUNC);
    assert_split_independent(IPC_LEN32, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, len32_length_equal_to_max_is_accepted, .timeout = 10) {
    bytes s = {0}, p = {0};
    events want = {0};
    uint64_t rng = 7;
    b_random(&p, &rng, 100, 0);
    put_len32(&s, p.p, p.n);
    ev_frame(&want, p.p, p.n);
    ev_finish(&want, 0);
    assert_split_independent(IPC_LEN32, 100, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
    b_free(&p);
}

Test(codec_suite, len32_length_over_max_is_toobig_once_header_is_in, .timeout = 10) {
    static const uint8_t hdr[4] = {0x00, 0x00, 0x00, 101}; /* max + 1 */
    ipc_decoder d;
    size_t used, flen;
    const uint8_t *frame;
    /* the 4 header bytes alone, in one feed: no payload byte was ever offered */
    ipc_test.allocs = 0;
    ipc_decoder_init(&d, IPC_LEN32, 100, NULL, 0);
    cr_assert_eq(feed_once(&d, hdr, 4, &used, &frame, &flen), IPC_ETOOBIG);
    cr_assert_eq(used, 4);
    cr_assert_eq(ipc_test.allocs, 0, "the decoder allocated %lu times for a frame it refuses", ipc_test.allocs);
    ipc_decoder_free(&d);
    /* a byte at a time: the first 3 need more, the 4th is refused */
    ipc_decoder_init(&d, IPC_LEN32, 100, NULL, 0);
    for (int i = 0; i < 3; i++) cr_assert_eq(feed_once(&d, hdr + i, 1, &used, &frame, &flen), 0, "header byte %d", i);
    cr_assert_eq(feed_once(&d, hdr + 3, 1, &used, &frame, &flen), IPC_ETOOBIG);
    cr_assert_eq(ipc_test.allocs, 0);
    ipc_decoder_free(&d);
}

Test(codec_suite, len32_length_over_max_consumes_only_the_header, .timeout = 10) {
    bytes s = {0}, p = {0};
    ipc_decoder d;
    size_t used, flen;
    const uint8_t *frame;
    uint64_t rng = 3;
    b_random(&p, &rng, 101, 0);
    put_len32(&s, p.p, p.n);
    ipc_test.allocs = 0;
    ipc_decoder_init(&d, IPC_LEN32, 100, NULL, 0);
    cr_assert_eq(feed_once(&d, s.p, s.n, &used, &frame, &flen), IPC_ETOOBIG);
    cr_assert_eq(used, 4, "used %zu bytes: the payload of a refused frame was read", used);
    cr_assert_eq(ipc_test.allocs, 0);
    ipc_decoder_free(&d);
    b_free(&s);
    b_free(&p);
}

Test(codec_suite, len32_length_0x7fffffff_is_toobig_under_default_limit, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    b_hex(&s, "7F FF FF FF 00 11 22 33");
    ev_error(&want, IPC_ETOOBIG, 0);
    ev_finish(&want, IPC_ETOOBIG);
    ipc_test.allocs = 0;
    assert_split_independent(IPC_LEN32, 0, s.p, s.n, &want);
    cr_assert_eq(ipc_test.allocs, 0, "a refused 2 GiB length allocated");
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, len32_length_with_top_bit_set_is_eframe, .timeout = 10) {
    static const char *hdrs[] = {"80 00 00 00", "80 00 00 01", "FF FF FF FB", "FF FF FF FC",
                                 "FF FF FF FD", "FF FF FF FE", "FF FF FF FF"};
    ipc_test.allocs = 0;
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        /* the largest limit there is: these are malformed, not merely long */
        bytes s = {0};
        events want = {0};
        b_hex(&s, hdrs[i]);
        b_hex(&s, "00 01 02 03 04 05 06 07"); /* "len + 4" wraps: the next bytes must not look like a frame */
        ev_error(&want, IPC_EFRAME, 0);
        ev_finish(&want, IPC_EFRAME);
        assert_split_independent(IPC_LEN32, IPC_LEN32_MAX, s.p, s.n, &want);
        ev_free(&want);
        b_free(&s);
    }
    cr_assert_eq(ipc_test.allocs, 0);
}

Test(codec_suite, len32_limit_is_clamped_to_2_31_minus_1, .timeout = 10) {
    ipc_decoder d;
    ipc_decoder_init(&d, IPC_LEN32, SIZE_MAX / 2, NULL, 0);
    cr_assert_eq(d.max_frame, IPC_LEN32_MAX);
    ipc_decoder_free(&d);
    ipc_decoder_init(&d, IPC_LEN32, 0, NULL, 0);
    cr_assert_eq(d.max_frame, IPC_MAX_FRAME, "max 0 is the default limit");
    ipc_decoder_free(&d);
}

Test(codec_suite, len32_errors_are_sticky_until_reset, .timeout = 10) {
    bytes good = {0};
    ipc_decoder d;
    size_t used, flen;
    const uint8_t *frame;
    put_len32(&good, "hi", 2);
    ipc_decoder_init(&d, IPC_LEN32, 0, NULL, 0);
    cr_assert_eq(feed_once(&d, "\x80\x00\x00\x00", 4, &used, &frame, &flen), IPC_EFRAME);
    cr_assert_eq(feed_once(&d, good.p, good.n, &used, &frame, &flen), IPC_EFRAME, "a valid frame after the error");
    cr_assert_eq(feed_once(&d, good.p, good.n, &used, &frame, &flen), IPC_EFRAME, "and again");
    cr_assert_eq(ipc_decoder_finish(&d), IPC_EFRAME);
    ipc_decoder_reset(&d);
    cr_assert_eq(ipc_decoder_finish(&d), 0, "reset returns to a frame boundary");
    uint8_t *g = guarded_copy(good.p, good.n); /* kept: the frame points into it */
    cr_assert_eq(ipc_decoder_feed(&d, g, good.n, &used, &frame, &flen), 1, "a valid frame after reset");
    assert_bytes(frame, flen, (const uint8_t *)"hi", 2, "frame after reset");
    cr_assert_eq(used, good.n);
    guarded_free(g, good.n);
    ipc_decoder_free(&d);
    b_free(&good);
}

Test(codec_suite, len32_header_split_at_every_position_decodes_the_same, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    put_len32(&s, "abc", 3);
    put_len32(&s, "", 0);
    put_len32(&s, "de", 2);
    ev_frame(&want, "abc", 3);
    ev_frame(&want, "", 0);
    ev_frame(&want, "de", 2);
    ev_finish(&want, 0);
    /* every pair of cut points: splits each header (and payload) everywhere */
    for (size_t i = 0; i <= s.n; i++)
        for (size_t j = i; j <= s.n; j++) {
            size_t cut[2] = {i, j};
            chunker c = {0};
            events got = {0};
            char what[64];
            c.mode = FEED_CUTS;
            c.cut = cut;
            c.ncut = 2;
            decode_with(IPC_LEN32, 0, s.p, s.n, &c, &got);
            snprintf(what, sizeof what, "cut at %zu and %zu", i, j);
            ev_assert_same(&want, &got, 1, what);
            ev_free(&got);
        }
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, len32_two_frames_in_one_feed_come_out_one_per_call, .timeout = 10) {
    bytes s = {0};
    ipc_decoder d;
    size_t used, flen;
    const uint8_t *frame;
    uint8_t *g;
    put_len32(&s, "abc", 3);
    put_len32(&s, "de", 2);
    g = guarded_copy(s.p, s.n);
    ipc_decoder_init(&d, IPC_LEN32, 0, NULL, 0);
    cr_assert_eq(ipc_decoder_feed(&d, g, s.n, &used, &frame, &flen), 1);
    cr_assert_eq(used, 7);
    assert_bytes(frame, flen, (const uint8_t *)"abc", 3, "first frame");
    cr_assert_eq(ipc_decoder_feed(&d, g + used, s.n - used, &used, &frame, &flen), 1);
    cr_assert_eq(used, 6);
    assert_bytes(frame, flen, (const uint8_t *)"de", 2, "second frame");
    cr_assert_eq(ipc_decoder_finish(&d), 0);
    ipc_decoder_free(&d);
    guarded_free(g, s.n);
    b_free(&s);
}

Test(codec_suite, len32_frame_plus_part_of_next_keeps_the_part, .timeout = 10) {
    bytes s = {0};
    ipc_decoder d;
    size_t used, flen;
    const uint8_t *frame;
    uint8_t *g;
    put_len32(&s, "abc", 3);
    put_len32(&s, "vwxyz", 5);
    const size_t first = 7 + 6; /* the first frame, then 4 header bytes and "vw" */
    g = guarded_copy(s.p, first);
    ipc_decoder_init(&d, IPC_LEN32, 0, NULL, 0);
    cr_assert_eq(ipc_decoder_feed(&d, g, first, &used, &frame, &flen), 1);
    cr_assert_eq(used, 7);
    assert_bytes(frame, flen, (const uint8_t *)"abc", 3, "first frame");
    cr_assert_eq(ipc_decoder_feed(&d, g + 7, first - 7, &used, &frame, &flen), 0);
    cr_assert_eq(used, first - 7);
    cr_assert_eq(ipc_decoder_finish(&d), IPC_ETRUNC, "inside the second frame");
    guarded_free(g, first);
    g = guarded_copy(s.p + first, s.n - first);
    cr_assert_eq(ipc_decoder_feed(&d, g, s.n - first, &used, &frame, &flen), 1);
    assert_bytes(frame, flen, (const uint8_t *)"vwxyz", 5, "second frame");
    guarded_free(g, s.n - first);
    cr_assert_eq(ipc_decoder_finish(&d), 0);
    ipc_decoder_free(&d);
    b_free(&s);
}

Test(codec_suite, len32_whole_frame_in_input_is_handed_back_in_place, .timeout = 10) {
    bytes s = {0};
    ipc_decoder d;
    size_t used, flen;
    const uint8_t *frame;
    uint8_t *g;
    put_len32(&s, "hello", 5);
    g = guarded_copy(s.p, s.n);
    ipc_test.allocs = 0;
    ipc_decoder_init(&d, IPC_LEN32, 0, NULL, 0);
    cr_assert_eq(ipc_decoder_feed(&d, g, s.n, &used, &frame, &flen), 1);
    cr_assert_eq(frame, g + 4, "the frame is not a pointer into the input");
    cr_assert_eq(flen, 5);
    cr_assert_eq(ipc_test.allocs, 0, "a zero-copy frame allocated");
    ipc_decoder_free(&d);
    guarded_free(g, s.n);
    b_free(&s);
}

Test(codec_suite, len32_payload_arriving_whole_after_its_header_is_handed_back_in_place, .timeout = 10) {
    ipc_decoder d;
    size_t used, flen;
    const uint8_t *frame;
    uint8_t *g = guarded_copy("hello", 5);
    ipc_test.allocs = 0;
    ipc_decoder_init(&d, IPC_LEN32, 0, NULL, 0);
    cr_assert_eq(feed_once(&d, "\x00\x00\x00\x05", 4, &used, &frame, &flen), 0);
    cr_assert_eq(ipc_decoder_feed(&d, g, 5, &used, &frame, &flen), 1);
    cr_assert_eq(frame, g, "the frame is not a pointer into the input");
    cr_assert_eq(ipc_test.allocs, 0);
    ipc_decoder_free(&d);
    guarded_free(g, 5);
}

Test(codec_suite, len32_err_offset_is_the_bad_headers_first_byte, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    put_len32(&s, "abc", 3); /* offsets 0..6 */
    b_hex(&s, "80 00 00 00");
    ev_frame(&want, "abc", 3);
    ev_error(&want, IPC_EFRAME, 7);
    ev_finish(&want, IPC_EFRAME);
    assert_split_independent(IPC_LEN32, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, len32_err_offset_of_oversize_length_is_its_headers_first_byte, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    put_len32(&s, "abc", 3);
    put_len32(&s, "", 0); /* offsets 7..10 */
    b_hex(&s, "00 00 01 00 41 42");
    ev_frame(&want, "abc", 3);
    ev_frame(&want, "", 0);
    ev_error(&want, IPC_ETOOBIG, 11);
    ev_finish(&want, IPC_ETOOBIG);
    assert_split_independent(IPC_LEN32, 255, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

/* A stream of many frames: every length around the interesting edges (0,
   header-sized, the decoder's 4 KiB first buffer) plus random ones. */
static void mixed_stream(ipc_codec codec, uint64_t seed, unsigned zero_every, bytes *s, events *want) {
    static const size_t edge[] = {0, 1, 2, 3, 4, 5, 9, 10, 11, 126, 127, 128, 129, 253, 254, 255, 256, 257, 508,
                                  509, 4095, 4096, 4097, 10000, 0, 0, 1, 300, 16383, 16384};
    uint64_t rng = seed;
    for (size_t i = 0; i < 200; i++) {
        bytes p = {0};
        size_t n = i < sizeof edge / sizeof edge[0] ? edge[i] : (size_t)(rng_next(&rng) % 600);
        b_random(&p, &rng, n, zero_every);
        put_frame(s, codec, p.p, n);
        ev_frame(want, p.p, n);
        b_free(&p);
    }
}

Test(codec_suite, len32_decoding_is_independent_of_chunking, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    mixed_stream(IPC_LEN32, 11, 0, &s, &want);
    ev_finish(&want, 0);
    assert_split_independent(IPC_LEN32, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, len32_error_mid_stream_stops_it_the_same_in_any_chunking, .timeout = 10) {
    bytes s = {0};
    events want = {0}, after = {0};
    mixed_stream(IPC_LEN32, 12, 0, &s, &want);
    uint64_t bad_at = s.n;
    b_hex(&s, "00 02 00 00"); /* over the limit of 64 KiB */
    mixed_stream(IPC_LEN32, 13, 0, &s, &after); /* never delivered */
    ev_error(&want, IPC_ETOOBIG, bad_at);
    ev_finish(&want, IPC_ETOOBIG);
    assert_split_independent(IPC_LEN32, 65536, s.p, s.n, &want);
    ev_free(&want);
    ev_free(&after);
    b_free(&s);
}

/* ==== VARINT: encoder and ipc_varint_decode ============================== */

static const struct varint_vec {
    uint64_t value;
    const char *hex;
} varint_vecs[] = {
    {0, "00"},
    {1, "01"},
    {127, "7F"},
    {128, "80 01"},
    {300, "AC 02"},
    {16383, "FF 7F"},
    {16384, "80 80 01"},
    {0xFFFFFFFFu, "FF FF FF FF 0F"},
    {(uint64_t)1 << 32, "80 80 80 80 10"},
    {(uint64_t)1 << 63, "80 80 80 80 80 80 80 80 80 01"},
    {UINT64_MAX, "FF FF FF FF FF FF FF FF FF 01"},
};

Test(codec_suite, varint_encode_is_leb128, .timeout = 10) {
    for (size_t i = 0; i < sizeof varint_vecs / sizeof varint_vecs[0]; i++) {
        bytes want = {0};
        uint8_t *out = (uint8_t *)guarded_alloc(IPC_HEADER_MAX);
        char what[64];
        b_hex(&want, varint_vecs[i].hex);
        int n = ipc_varint_encode(out, varint_vecs[i].value);
        snprintf(what, sizeof what, "varint of %llu", (unsigned long long)varint_vecs[i].value);
        assert_bytes(out, n > 0 ? (size_t)n : 0, want.p, want.n, what);
        guarded_free(out, IPC_HEADER_MAX);
        b_free(&want);
    }
}

Test(codec_suite, varint_decode_reads_known_vectors, .timeout = 10) {
    for (size_t i = 0; i < sizeof varint_vecs / sizeof varint_vecs[0]; i++) {
        bytes in = {0};
        uint64_t v = 12345;
        b_hex(&in, varint_vecs[i].hex);
        uint8_t *g = guarded_copy(in.p, in.n);
        cr_assert_eq(ipc_varint_decode(g, in.n, &v), (int)in.n, "%s: length", varint_vecs[i].hex);
        cr_assert_eq(v, varint_vecs[i].value, "%s: value %llu", varint_vecs[i].hex, (unsigned long long)v);
        guarded_free(g, in.n);
        b_free(&in);
    }
}

Test(codec_suite, varint_decode_stops_at_the_varints_end, .timeout = 10) {
    static const uint8_t in[] = {0xAC, 0x02, 0x80, 0x00, 0xFF}; /* 300, then anything */
    uint8_t *g = guarded_copy(in, sizeof in);
    uint64_t v = 0;
    cr_assert_eq(ipc_varint_decode(g, sizeof in, &v), 2);
    cr_assert_eq(v, 300);
    guarded_free(g, sizeof in);
}

Test(codec_suite, varint_noncanonical_zero_80_00_is_eframe, .timeout = 10) {
    static const char *bad[] = {"80 00", "80 80 00", "FF 00", "81 80 80 00", "80 80 80 80 80 80 80 80 80 00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bytes in = {0};
        events want = {0};
        uint64_t v;
        b_hex(&in, bad[i]);
        uint8_t *g = guarded_copy(in.p, in.n);
        cr_assert_eq(ipc_varint_decode(g, in.n, &v), IPC_EFRAME, "ipc_varint_decode(%s)", bad[i]);
        guarded_free(g, in.n);
        ev_error(&want, IPC_EFRAME, in.n - 1); /* the 00 that adds nothing */
        ev_finish(&want, IPC_EFRAME);
        assert_split_independent(IPC_VARINT, 0, in.p, in.n, &want);
        ev_free(&want);
        b_free(&in);
    }
}

Test(codec_suite, varint_u64_max_decodes_but_is_toobig_as_a_length, .timeout = 10) {
    bytes in = {0};
    events want = {0};
    uint64_t v = 0;
    b_hex(&in, "FF FF FF FF FF FF FF FF FF 01");
    uint8_t *g = guarded_copy(in.p, in.n);
    cr_assert_eq(ipc_varint_decode(g, in.n, &v), 10);
    cr_assert_eq(v, UINT64_MAX);
    guarded_free(g, in.n);
    ev_error(&want, IPC_ETOOBIG, 0);
    ev_finish(&want, IPC_ETOOBIG);
    ipc_test.allocs = 0;
    assert_split_independent(IPC_VARINT, 0, in.p, in.n, &want);
    cr_assert_eq(ipc_test.allocs, 0);
    ev_free(&want);
    b_free(&in);
}

Test(codec_suite, varint_tenth_byte_over_01_is_eframe, .timeout = 10) {
    static const char *last[] = {"02", "03", "7F", "81", "FF"};
    for (size_t i = 0; i < sizeof last / sizeof last[0]; i++) {
        bytes in = {0};
        events want = {0};
        uint64_t v;
        b_hex(&in, "FF FF FF FF FF FF FF FF FF");
        b_hex(&in, last[i]);
        uint8_t *g = guarded_copy(in.p, in.n);
        cr_assert_eq(ipc_varint_decode(g, in.n, &v), IPC_EFRAME, "10th byte %s", last[i]);
        guarded_free(g, in.n);
        ev_error(&want, IPC_EFRAME, 9);
        ev_finish(&want, IPC_EFRAME);
        assert_split_independent(IPC_VARINT, 0, in.p, in.n, &want);
        ev_free(&want);
        b_free(&in);
    }
}

Test(codec_suite, varint_of_eleven_bytes_is_eframe, .timeout = 10) {
    bytes in = {0};
    events want = {0};
    uint64_t v;
    b_hex(&in, "80 80 80 80 80 80 80 80 80 80 01");
    uint8_t *g = guarded_copy(in.p, in.n);
    cr_assert_eq(ipc_varint_decode(g, in.n, &v), IPC_EFRAME);
    guarded_free(g, in.n);
    ev_error(&want, IPC_EFRAME, 9); /* the 10th byte still has its continuation bit */
    ev_finish(&want, IPC_EFRAME);
    assert_split_independent(IPC_VARINT, 0, in.p, in.n, &want);
    ev_free(&want);
    b_free(&in);
}

Test(codec_suite, varint_decode_of_a_cut_varint_needs_more, .timeout = 10) {
    static const char *cut[] = {"80", "AC", "FF FF", "80 80 80 80 80 80 80 80 80"};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        bytes in = {0};
        uint64_t v;
        b_hex(&in, cut[i]);
        uint8_t *g = guarded_copy(in.p, in.n);
        cr_assert_eq(ipc_varint_decode(g, in.n, &v), 0, "ipc_varint_decode(%s)", cut[i]);
        guarded_free(g, in.n);
        b_free(&in);
    }
    uint64_t v;
    cr_assert_eq(ipc_varint_decode((const uint8_t *)"", 0, &v), 0, "no bytes at all");
}

Test(codec_suite, varint_end_inside_the_length_is_truncation, .timeout = 10) {
    static const char *cut[] = {"80", "AC", "FF FF FF", "80 80 80 80 80 80 80 80 80"};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        bytes s = {0};
        events want = {0};
        put_varint(&s, "ok", 2);
        b_hex(&s, cut[i]);
        ev_frame(&want, "ok", 2);
        ev_finish(&want, IPC_ETRUNC);
        assert_split_independent(IPC_VARINT, 0, s.p, s.n, &want);
        ev_free(&want);
        b_free(&s);
    }
}

Test(codec_suite, varint_end_inside_the_payload_is_truncation, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    b_hex(&s, "AC 02 11 22 33");
    ev_finish(&want, IPC_ETRUNC);
    assert_split_independent(IPC_VARINT, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

/* ==== VARINT: decoder ==================================================== */

Test(codec_suite, varint_zero_length_is_an_empty_frame, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    b_hex(&s, "00 00");
    ev_frame(&want, "", 0);
    ev_frame(&want, "", 0);
    ev_finish(&want, 0);
    assert_split_independent(IPC_VARINT, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, varint_length_equal_to_max_is_accepted, .timeout = 10) {
    bytes s = {0}, p = {0};
    events want = {0};
    uint64_t rng = 5;
    b_random(&p, &rng, 300, 0);
    put_varint(&s, p.p, p.n);
    ev_frame(&want, p.p, p.n);
    ev_finish(&want, 0);
    assert_split_independent(IPC_VARINT, 300, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
    b_free(&p);
}

Test(codec_suite, varint_length_over_max_is_toobig_before_buffering, .timeout = 10) {
    static const uint8_t hdr[2] = {0xAD, 0x02}; /* 301: max + 1 */
    ipc_decoder d;
    size_t used, flen;
    const uint8_t *frame;
    ipc_test.allocs = 0;
    ipc_decoder_init(&d, IPC_VARINT, 300, NULL, 0);
    cr_assert_eq(feed_once(&d, hdr, 1, &used, &frame, &flen), 0);
    cr_assert_eq(feed_once(&d, hdr + 1, 1, &used, &frame, &flen), IPC_ETOOBIG, "refused as the length completes");
    cr_assert_eq(ipc_test.allocs, 0);
    ipc_decoder_free(&d);
    /* with the payload in the same feed: only the length is consumed */
    bytes s = {0}, p = {0};
    uint64_t rng = 1;
    b_random(&p, &rng, 301, 0);
    put_varint(&s, p.p, p.n);
    ipc_decoder_init(&d, IPC_VARINT, 300, NULL, 0);
    cr_assert_eq(feed_once(&d, s.p, s.n, &used, &frame, &flen), IPC_ETOOBIG);
    cr_assert_eq(used, 2);
    cr_assert_eq(ipc_test.allocs, 0);
    ipc_decoder_free(&d);
    b_free(&s);
    b_free(&p);
}

Test(codec_suite, varint_errors_are_sticky_until_reset, .timeout = 10) {
    ipc_decoder d;
    size_t used, flen;
    const uint8_t *frame;
    ipc_decoder_init(&d, IPC_VARINT, 0, NULL, 0);
    cr_assert_eq(feed_once(&d, "\x80\x00", 2, &used, &frame, &flen), IPC_EFRAME);
    cr_assert_eq(feed_once(&d, "\x02hi", 3, &used, &frame, &flen), IPC_EFRAME, "a valid frame after the error");
    cr_assert_eq(ipc_decoder_finish(&d), IPC_EFRAME);
    ipc_decoder_reset(&d);
    uint8_t *g = guarded_copy("\x02hi", 3); /* kept: the frame points into it */
    cr_assert_eq(ipc_decoder_feed(&d, g, 3, &used, &frame, &flen), 1, "a valid frame after reset");
    assert_bytes(frame, flen, (const uint8_t *)"hi", 2, "frame after reset");
    guarded_free(g, 3);
    ipc_decoder_free(&d);
}

Test(codec_suite, varint_header_split_at_every_position_decodes_the_same, .timeout = 10) {
    bytes s = {0}, a = {0}, b = {0};
    events want = {0};
    uint64_t rng = 9;
    b_random(&a, &rng, 300, 0); /* header AC 02 */
    b_random(&b, &rng, 128, 0); /* header 80 01 */
    put_varint(&s, a.p, a.n);
    put_varint(&s, "", 0);
    put_varint(&s, b.p, b.n);
    ev_frame(&want, a.p, a.n);
    ev_frame(&want, "", 0);
    ev_frame(&want, b.p, b.n);
    ev_finish(&want, 0);
    /* cut around the headers at offsets 0..2, 302 and 303..305 */
    for (size_t i = 0; i <= s.n; i = i == 3 ? 300 : i == 306 ? 430 : i + 1)
        for (size_t j = i; j <= s.n; j = j == 3 ? 300 : j == 306 ? 430 : j + 1) {
            size_t cut[2] = {i, j};
            chunker c = {0};
            events got = {0};
            char what[64];
            c.mode = FEED_CUTS;
            c.cut = cut;
            c.ncut = 2;
            decode_with(IPC_VARINT, 0, s.p, s.n, &c, &got);
            snprintf(what, sizeof what, "cut at %zu and %zu", i, j);
            ev_assert_same(&want, &got, 1, what);
            ev_free(&got);
        }
    ev_free(&want);
    b_free(&s);
    b_free(&a);
    b_free(&b);
}

Test(codec_suite, varint_whole_frame_in_input_is_handed_back_in_place, .timeout = 10) {
    ipc_decoder d;
    size_t used, flen;
    const uint8_t *frame;
    uint8_t *g = guarded_copy("\x05hello", 6);
    ipc_test.allocs = 0;
    ipc_decoder_init(&d, IPC_VARINT, 0, NULL, 0);
    cr_assert_eq(ipc_decoder_feed(&d, g, 6, &used, &frame, &flen), 1);
    cr_assert_eq(frame, g + 1, "the frame is not a pointer into the input");
    cr_assert_eq(flen, 5);
    cr_assert_eq(used, 6);
    cr_assert_eq(ipc_test.allocs, 0);
    ipc_decoder_free(&d);
    guarded_free(g, 6);
}

Test(codec_suite, varint_err_offset_of_oversize_length_is_its_first_byte, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    put_varint(&s, "abc", 3); /* offsets 0..3 */
    b_hex(&s, "AD 02");       /* 301 at offset 4 */
    ev_frame(&want, "abc", 3);
    ev_error(&want, IPC_ETOOBIG, 4);
    ev_finish(&want, IPC_ETOOBIG);
    assert_split_independent(IPC_VARINT, 300, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, varint_decoding_is_independent_of_chunking, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    mixed_stream(IPC_VARINT, 21, 0, &s, &want);
    ev_finish(&want, 0);
    assert_split_independent(IPC_VARINT, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, varint_error_mid_stream_stops_it_the_same_in_any_chunking, .timeout = 10) {
    bytes s = {0};
    events want = {0}, after = {0};
    mixed_stream(IPC_VARINT, 22, 0, &s, &want);
    uint64_t bad_at = s.n;
    b_hex(&s, "FF FF 00"); /* non-canonical */
    mixed_stream(IPC_VARINT, 23, 0, &s, &after);
    ev_error(&want, IPC_EFRAME, bad_at + 2);
    ev_finish(&want, IPC_EFRAME);
    assert_split_independent(IPC_VARINT, 0, s.p, s.n, &want);
    ev_free(&want);
    ev_free(&after);
    b_free(&s);
}

/* ==== COBS: reference vectors ============================================ */

/* Vector i (payload, encoded frame with its 00); 0 when there is none. */
static int cobs_vector(int i, bytes *raw, bytes *enc) {
    switch (i) {
    case 0: b_hex(enc, "01 00"); break; /* empty payload */
    case 1: b_hex(raw, "00"), b_hex(enc, "01 01 00"); break;
    case 2: b_hex(raw, "00 00"), b_hex(enc, "01 01 01 00"); break;
    case 3: b_hex(raw, "00 11 00"), b_hex(enc, "01 02 11 01 00"); break;
    case 4: b_hex(raw, "11 22 00 33"), b_hex(enc, "03 11 22 02 33 00"); break;
    case 5: b_hex(raw, "11 22 33 44"), b_hex(enc, "05 11 22 33 44 00"); break;
    case 6: b_hex(raw, "11 00 00 00"), b_hex(enc, "02 11 01 01 01 00"); break;
    case 7: /* 01..FE: 254 non-zero bytes, one full block and nothing after it */
        b_range(raw, 0x01, 0xFE);
        b_hex(enc, "FF"), b_range(enc, 0x01, 0xFE), b_hex(enc, "00");
        break;
    case 8: /* 00 01..FE */
        b_hex(raw, "00"), b_range(raw, 0x01, 0xFE);
        b_hex(enc, "01 FF"), b_range(enc, 0x01, 0xFE), b_hex(enc, "00");
        break;
    case 9: /* 01..FF: 255 non-zero bytes */
        b_range(raw, 0x01, 0xFF);
        b_hex(enc, "FF"), b_range(enc, 0x01, 0xFE), b_hex(enc, "02 FF 00");
        break;
    case 10: /* 02..FF 00 */
        b_range(raw, 0x02, 0xFF), b_hex(raw, "00");
        b_hex(enc, "FF"), b_range(enc, 0x02, 0xFF), b_hex(enc, "01 01 00");
        break;
    case 11: /* 03..FF 00 01 */
        b_range(raw, 0x03, 0xFF), b_hex(raw, "00 01");
        b_hex(enc, "FE"), b_range(enc, 0x03, 0xFF), b_hex(enc, "02 01 00");
        break;
    default: return 0;
    }
    return 1;
}

Test(codec_suite, cobs_encode_matches_reference_vectors, .timeout = 10) {
    bytes raw = {0}, enc = {0};
    for (int i = 0; cobs_vector(i, &raw, &enc); i++) {
        size_t bound = ipc_cobs_bound(raw.n);
        uint8_t *in = guarded_copy(raw.p, raw.n), *out = (uint8_t *)guarded_alloc(bound);
        char what[64];
        size_t n = ipc_cobs_encode(out, in, raw.n);
        snprintf(what, sizeof what, "COBS vector %d (%zu bytes)", i, raw.n);
        assert_bytes(out, n, enc.p, enc.n, what);
        guarded_free(in, raw.n);
        guarded_free(out, bound);
        b_free(&raw);
        b_free(&enc);
    }
}

Test(codec_suite, cobs_decode_reads_reference_vectors, .timeout = 10) {
    bytes raw = {0}, enc = {0};
    for (int i = 0; cobs_vector(i, &raw, &enc); i++) {
        size_t body = enc.n - 1; /* ipc_cobs_decode takes the frame without its 00 */
        uint8_t *in = guarded_copy(enc.p, body), *out = (uint8_t *)guarded_alloc(raw.n);
        char what[64];
        ssize_t n = ipc_cobs_decode(out, in, body);
        cr_assert_geq(n, 0, "COBS vector %d: %zd", i, n);
        snprintf(what, sizeof what, "COBS vector %d decoded", i);
        assert_bytes(out, (size_t)n, raw.p, raw.n, what);
        guarded_free(in, body);
        guarded_free(out, raw.n);
        b_free(&raw);
        b_free(&enc);
    }
}

Test(codec_suite, cobs_decoder_reads_reference_vectors, .timeout = 10) {
    bytes raw = {0}, enc = {0};
    for (int i = 0; cobs_vector(i, &raw, &enc); i++) {
        events want = {0};
        ev_frame(&want, raw.p, raw.n);
        ev_finish(&want, 0);
        assert_split_independent(IPC_COBS, 0, enc.p, enc.n, &want);
        ev_free(&want);
        b_free(&raw);
        b_free(&enc);
    }
}

Test(codec_suite, cobs_decoder_reads_all_reference_vectors_back_to_back, .timeout = 10) {
    bytes raw = {0}, enc = {0}, s = {0};
    events want = {0};
    for (int i = 0; cobs_vector(i, &raw, &enc); i++) {
        b_put(&s, enc.p, enc.n);
        ev_frame(&want, raw.p, raw.n);
        b_free(&raw);
        b_free(&enc);
    }
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, cobs_empty_payload_is_01_00, .timeout = 10) {
    uint8_t *out = (uint8_t *)guarded_alloc(ipc_cobs_bound(0));
    cr_assert_eq(ipc_cobs_encode(out, (const uint8_t *)"", 0), 2);
    assert_bytes(out, 2, (const uint8_t *)"\x01\x00", 2, "empty payload");
    guarded_free(out, ipc_cobs_bound(0));
}

Test(codec_suite, cobs_lone_delimiter_is_eframe, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    b_hex(&s, "00");
    ev_error(&want, IPC_EFRAME, 0);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, cobs_decode_of_empty_body_is_eframe, .timeout = 10) {
    uint8_t out[1];
    cr_assert_eq(ipc_cobs_decode(out, (const uint8_t *)"", 0), IPC_EFRAME);
}

Test(codec_suite, cobs_payload_of_zeros_is_a_run_of_01, .timeout = 10) {
    for (size_t n = 0; n <= 600; n += n < 10 ? 1 : 59) {
        bytes raw = {0}, enc = {0};
        events want = {0};
        b_fill(&raw, 0x00, n);
        b_fill(&enc, 0x01, n + 1);
        b_hex(&enc, "00");
        size_t bound = ipc_cobs_bound(n);
        uint8_t *out = (uint8_t *)guarded_alloc(bound);
        char what[64];
        snprintf(what, sizeof what, "%zu zeros", n);
        assert_bytes(out, ipc_cobs_encode(out, raw.p, n), enc.p, enc.n, what);
        guarded_free(out, bound);
        ev_frame(&want, raw.p, n);
        ev_finish(&want, 0);
        assert_split_independent(IPC_COBS, 0, enc.p, enc.n, &want);
        ev_free(&want);
        b_free(&raw);
        b_free(&enc);
    }
}

Test(codec_suite, cobs_run_of_01_bytes_spans_full_blocks, .timeout = 10) {
    bytes raw = {0}, enc = {0};
    events want = {0};
    b_fill(&raw, 0x01, 600); /* 254 + 254 + 92 */
    b_hex(&enc, "FF"), b_fill(&enc, 0x01, 254);
    b_hex(&enc, "FF"), b_fill(&enc, 0x01, 254);
    b_hex(&enc, "5D"), b_fill(&enc, 0x01, 92), b_hex(&enc, "00");
    size_t bound = ipc_cobs_bound(raw.n);
    uint8_t *out = (uint8_t *)guarded_alloc(bound);
    assert_bytes(out, ipc_cobs_encode(out, raw.p, raw.n), enc.p, enc.n, "600 bytes of 01");
    guarded_free(out, bound);
    ev_frame(&want, raw.p, raw.n);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 0, enc.p, enc.n, &want);
    ev_free(&want);
    b_free(&raw);
    b_free(&enc);
}

/* n bytes of 0x42 and their exact encoding. */
static void cobs_nonzero_case(size_t n, const char *tail_hex) {
    bytes raw = {0}, enc = {0};
    events want = {0};
    char what[64];
    size_t left = n;
    b_fill(&raw, 0x42, n);
    while (left >= 254) {
        b_hex(&enc, "FF"), b_fill(&enc, 0x42, 254);
        left -= 254;
    }
    if (left) b_byte(&enc, (unsigned)left + 1), b_fill(&enc, 0x42, left);
    b_hex(&enc, tail_hex);
    size_t bound = ipc_cobs_bound(n);
    uint8_t *out = (uint8_t *)guarded_alloc(bound);
    snprintf(what, sizeof what, "%zu non-zero bytes", n);
    assert_bytes(out, ipc_cobs_encode(out, raw.p, n), enc.p, enc.n, what);
    guarded_free(out, bound);
    uint8_t *in = guarded_copy(enc.p, enc.n - 1), *dec = (uint8_t *)guarded_alloc(n);
    cr_assert_eq(ipc_cobs_decode(dec, in, enc.n - 1), (ssize_t)n, "%s: ipc_cobs_decode", what);
    assert_bytes(dec, n, raw.p, n, what);
    guarded_free(in, enc.n - 1);
    guarded_free(dec, n);
    ev_frame(&want, raw.p, n);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 0, enc.p, enc.n, &want);
    ev_free(&want);
    b_free(&raw);
    b_free(&enc);
}

Test(codec_suite, cobs_exactly_254_nonzero_bytes_end_with_their_ff_block, .timeout = 10) {
    cobs_nonzero_case(254, "00"); /* FF 42x254 00: no 01 after the full block */
}

Test(codec_suite, cobs_255_nonzero_bytes_take_a_second_block, .timeout = 10) {
    cobs_nonzero_case(255, "00"); /* FF 42x254 02 42 00 */
}

Test(codec_suite, cobs_508_nonzero_bytes_are_two_full_blocks, .timeout = 10) {
    cobs_nonzero_case(508, "00"); /* FF 42x254 FF 42x254 00 */
}

Test(codec_suite, cobs_code_byte_past_the_end_is_eframe, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    uint8_t out[8];
    cr_assert_eq(ipc_cobs_decode(out, (const uint8_t *)"\x05\x11\x22", 3), IPC_EFRAME, "05 11 22");
    cr_assert_eq(ipc_cobs_decode(out, (const uint8_t *)"\x02\x11\x03\x22", 4), IPC_EFRAME, "02 11 03 22");
    cr_assert_eq(ipc_cobs_decode(out, (const uint8_t *)"\xFF", 1), IPC_EFRAME, "FF");
    b_hex(&s, "05 11 22 00"); /* 4 data bytes announced, 2 before the delimiter */
    b_hex(&s, "02 33 00");
    ev_error(&want, IPC_EFRAME, 3);
    ev_frame(&want, "\x33", 1);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, cobs_decode_of_zero_inside_a_block_is_eframe, .timeout = 10) {
    uint8_t out[8];
    uint8_t *g = guarded_copy("\x03\x11\x00\x22", 4);
    cr_assert_eq(ipc_cobs_decode(out, g, 4), IPC_EFRAME, "03 11 00 22: zero as data");
    guarded_free(g, 4);
    g = guarded_copy("\x02\x11\x00\x22", 4);
    cr_assert_eq(ipc_cobs_decode(out, g, 4), IPC_EFRAME, "02 11 00 22: zero as a code byte");
    guarded_free(g, 4);
}

Test(codec_suite, cobs_decoder_zero_inside_a_block_is_eframe_and_ends_the_frame, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    b_hex(&s, "04 11 00 22 33 00"); /* block cut by a 00: the frame ends there */
    b_hex(&s, "03 44 55 00");
    ev_error(&want, IPC_EFRAME, 2);
    ev_error(&want, IPC_EFRAME, 5); /* "22 33 00": code 22 announces 33 bytes */
    ev_frame(&want, "\x44\x55", 2);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, cobs_no_delimiter_at_end_is_truncation, .timeout = 10) {
    static const char *cut[] = {"01", "03 11 22", "03 11", "FF 11", "02 11 01"};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        bytes s = {0};
        events want = {0};
        b_hex(&s, "02 11 00");
        b_hex(&s, cut[i]);
        ev_frame(&want, "\x11", 1);
        ev_finish(&want, IPC_ETRUNC);
        assert_split_independent(IPC_COBS, 0, s.p, s.n, &want);
        ev_free(&want);
        b_free(&s);
    }
}

Test(codec_suite, cobs_frame_equal_to_max_is_accepted, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    put_cobs(&s, "\x11\x22\x00\x33", 4);
    put_cobs(&s, "\x11\x22\x33\x44", 4);
    put_cobs(&s, "\x00\x00\x00\x00", 4);
    ev_frame(&want, "\x11\x22\x00\x33", 4);
    ev_frame(&want, "\x11\x22\x33\x44", 4);
    ev_frame(&want, "\x00\x00\x00\x00", 4);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 4, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, cobs_frame_over_max_is_toobig_then_the_next_frame_decodes, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    put_cobs(&s, "\x11\x22\x33\x44\x55", 5); /* five data bytes */
    put_cobs(&s, "ok", 2);
    put_cobs(&s, "\x11\x22\x33\x44\x00", 5); /* four, then a zero */
    put_cobs(&s, "\x00\x00\x00\x00\x00", 5); /* zeros only */
    put_cobs(&s, "\x11\x22\x33\x44", 4);
    ev_error(&want, IPC_ETOOBIG, ANY_OFFSET);
    ev_frame(&want, "ok", 2);
    ev_error(&want, IPC_ETOOBIG, ANY_OFFSET);
    ev_error(&want, IPC_ETOOBIG, ANY_OFFSET);
    ev_frame(&want, "\x11\x22\x33\x44", 4);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 4, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, cobs_frame_over_max_is_refused_before_it_is_buffered, .timeout = 10) {
    bytes s = {0}, p = {0};
    ipc_decoder d;
    uint64_t rng = 4;
    b_random(&p, &rng, 100000, 0);
    put_cobs(&s, p.p, p.n);
    ipc_test.allocs = 0;
    ipc_decoder_init(&d, IPC_COBS, 1000, NULL, 0);
    size_t used, flen;
    const uint8_t *frame;
    int rc;
    uint8_t *g = guarded_copy(s.p, s.n);
    size_t off = 0;
    while ((rc = ipc_decoder_feed(&d, g + off, s.n - off, &used, &frame, &flen)) == 0 && off + used < s.n) off += used;
    cr_assert_eq(rc, IPC_ETOOBIG);
    cr_assert_leq(d.err_offset, 1010, "refused only at offset %llu", (unsigned long long)d.err_offset);
    cr_assert_leq(d.cap, 1000, "buffered %zu bytes for a frame limited to 1000", d.cap);
    ipc_decoder_free(&d);
    guarded_free(g, s.n);
    b_free(&s);
    b_free(&p);
}

Test(codec_suite, cobs_err_offset_of_oversize_frame_is_independent_of_chunking, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    b_hex(&s, "02 11 00");             /* offsets 0..2 */
    b_hex(&s, "06 11 22 33 44 55 00"); /* offsets 3..9: the 5th data byte (offset 8) passes max 4 */
    ev_frame(&want, "\x11", 1);
    ev_error(&want, IPC_ETOOBIG, 8);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 4, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, cobs_err_offset_of_implied_zero_past_max_is_its_code_byte, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    b_hex(&s, "05 11 22 33 44 02 55 00"); /* 11 22 33 44 00 55: the code byte at 5 implies the 5th byte */
    ev_error(&want, IPC_ETOOBIG, 5);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 4, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, cobs_resynchronises_after_eframe, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    b_hex(&s, "00 00");          /* two lone delimiters */
    b_hex(&s, "07 11 22 00");    /* short block */
    put_cobs(&s, "abc", 3);      /* good */
    b_hex(&s, "03 11 00");       /* short block */
    put_cobs(&s, "\x00x\x00", 3); /* good */
    ev_error(&want, IPC_EFRAME, 0);
    ev_error(&want, IPC_EFRAME, 1);
    ev_error(&want, IPC_EFRAME, 5);
    ev_frame(&want, "abc", 3);
    ev_error(&want, IPC_EFRAME, 13);
    ev_frame(&want, "\x00x\x00", 3);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, cobs_decode_works_in_place, .timeout = 10) {
    bytes raw = {0}, enc = {0};
    for (int i = 0; cobs_vector(i, &raw, &enc); i++) {
        size_t body = enc.n - 1;
        uint8_t *buf = guarded_copy(enc.p, body);
        char what[64];
        ssize_t n = ipc_cobs_decode(buf, buf, body);
        snprintf(what, sizeof what, "COBS vector %d in place", i);
        cr_assert_geq(n, 0, "%s: %zd", what, n);
        assert_bytes(buf, (size_t)n, raw.p, raw.n, what);
        guarded_free(buf, body);
        b_free(&raw);
        b_free(&enc);
    }
    uint64_t rng = 77;
    for (size_t len = 0; len <= 1024; len += 13) {
        bytes p = {0}, e = {0};
        b_random(&p, &rng, len, len % 3 ? 3 : 0);
        put_cobs(&e, p.p, p.n);
        uint8_t *buf = guarded_copy(e.p, e.n - 1);
        ssize_t n = ipc_cobs_decode(buf, buf, e.n - 1);
        cr_assert_eq(n, (ssize_t)len, "length %zu in place: %zd", len, n);
        assert_bytes(buf, len, p.p, len, "random payload in place");
        guarded_free(buf, e.n - 1);
        b_free(&p);
        b_free(&e);
    }
}

/* Every length 0..1024: encode (into exactly ipc_cobs_bound bytes), check the
   size bound and that no 00 sits before the delimiter, decode both ways. */
static void cobs_round_trip_every_length(uint64_t seed, unsigned zero_every) {
    uint64_t rng = seed;
    for (size_t n = 0; n <= 1024; n++) {
        bytes p = {0};
        events want = {0};
        b_random(&p, &rng, n, zero_every);
        size_t bound = ipc_cobs_bound(n);
        uint8_t *in = guard_slot_copy(1, p.p, n), *enc = guard_slot(2, bound);
        size_t len = ipc_cobs_encode(enc, in, n);
        cr_assert_leq(len, bound, "n %zu: encoded %zu > ipc_cobs_bound %zu", n, len, bound);
        cr_assert_leq(len - 1, n + (n + 253) / 254 + 1, "n %zu: %zu bytes before the delimiter", n, len - 1);
        cr_assert_eq(enc[len - 1], 0, "n %zu: no delimiter", n);
        cr_assert_null(memchr(enc, 0, len - 1), "n %zu: a 00 inside the frame", n);
        uint8_t *body = guard_slot_copy(3, enc, len - 1), *out = guard_slot(4, n);
        ssize_t got = ipc_cobs_decode(out, body, len - 1);
        cr_assert_eq(got, (ssize_t)n, "n %zu: decoded %zd bytes", n, got);
        assert_bytes(out, n, p.p, n, "round trip");
        ev_frame(&want, p.p, n);
        ev_finish(&want, 0);
        assert_split_independent(IPC_COBS, 0, enc, len, &want);
        ev_free(&want);
        b_free(&p);
    }
}

Test(codec_suite, cobs_round_trips_every_length_to_1024_random_bytes, .timeout = 10) {
    cobs_round_trip_every_length(0xC0B5, 0);
}

Test(codec_suite, cobs_round_trips_every_length_to_1024_zero_heavy_bytes, .timeout = 10) {
    cobs_round_trip_every_length(0x2E80, 1); /* about half the bytes 00 */
}

Test(codec_suite, cobs_encode_matches_plain_encoder_for_every_length, .timeout = 10) {
    uint64_t rng = 0xE0C;
    for (size_t n = 0; n <= 1024; n++) {
        bytes p = {0}, want = {0};
        b_random(&p, &rng, n, n % 4 == 0 ? 0 : n % 4 == 1 ? 40 : n % 4 == 2 ? 200 : 1);
        put_cobs(&want, p.p, n);
        size_t bound = ipc_cobs_bound(n);
        uint8_t *enc = (uint8_t *)guarded_alloc(bound);
        char what[64];
        snprintf(what, sizeof what, "encoding of %zu bytes", n);
        assert_bytes(enc, ipc_cobs_encode(enc, p.p, n), want.p, want.n, what);
        guarded_free(enc, bound);
        b_free(&p);
        b_free(&want);
    }
}

Test(codec_suite, cobs_bound_is_n_plus_n_over_254_plus_2, .timeout = 10) {
    static const size_t n[] = {0, 1, 253, 254, 255, 507, 508, 509, 1024, 1 << 20};
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
        cr_assert_eq(ipc_cobs_bound(n[i]), n[i] + n[i] / 254 + 2, "ipc_cobs_bound(%zu)", n[i]);
}

Test(codec_suite, cobs_decoding_is_independent_of_chunking, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    mixed_stream(IPC_COBS, 31, 0, &s, &want);
    mixed_stream(IPC_COBS, 32, 1, &s, &want);
    mixed_stream(IPC_COBS, 33, 60, &s, &want);
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 0, s.p, s.n, &want);
    ev_free(&want);
    b_free(&s);
}

Test(codec_suite, cobs_errors_mid_stream_resynchronise_the_same_in_any_chunking, .timeout = 10) {
    bytes s = {0};
    events want = {0};
    uint64_t rng = 41;
    for (int i = 0; i < 300; i++) {
        bytes p = {0};
        size_t n = (size_t)(rng_next(&rng) % 700);
        unsigned kind = (unsigned)(rng_next(&rng) % 8);
        b_random(&p, &rng, n, i % 3 ? 0 : 2);
        if (kind == 0) { /* lone 00 */
            b_hex(&s, "00");
            ev_error(&want, IPC_EFRAME, ANY_OFFSET);
        } else if (kind == 1) { /* a block cut short by the delimiter */
            b_hex(&s, "09 11 22 33 00");
            ev_error(&want, IPC_EFRAME, ANY_OFFSET);
        } else if (kind == 2 && n > 512) { /* over the limit */
            put_cobs(&s, p.p, n);
            ev_error(&want, IPC_ETOOBIG, ANY_OFFSET);
        } else {
            if (n > 512) n = 512; /* at most the limit */
            put_cobs(&s, p.p, n);
            ev_frame(&want, p.p, n);
        }
        b_free(&p);
    }
    ev_finish(&want, 0);
    assert_split_independent(IPC_COBS, 512, s.p, s.n, &want);
    /* and the three ways agree with each other, offsets aside */
    assert_split_independent(IPC_COBS, 512, s.p, s.n, NULL);
    ev_free(&want);
    b_free(&s);
}

/* ==== frames: ipc_frame_encode / ipc_frame_bound / ipc_frame_header ===== */

/* Encodes payload with codec into a guarded buffer of exactly ipc_frame_bound
   bytes; checks the result against want. */
static void check_frame_encode(ipc_codec codec, const bytes *payload, const bytes *want) {
    size_t cap = ipc_frame_bound(codec, payload->n);
    uint8_t *out = (uint8_t *)guarded_alloc(cap), *in = guarded_copy(payload->p, payload->n);
    char what[64];
    ssize_t n = ipc_frame_encode(codec, out, cap, in, payload->n);
    snprintf(what, sizeof what, "%s frame of %zu bytes", ipc_codec_name(codec), payload->n);
    cr_assert_geq(n, 0, "%s: %zd", what, n);
    assert_bytes(out, (size_t)n, want->p, want->n, what);
    guarded_free(out, cap);
    guarded_free(in, payload->n);
}

Test(codec_suite, frame_encode_len32_is_header_then_payload, .timeout = 10) {
    bytes p = {0}, want = {0};
    b_put(&p, "hello", 5);
    b_hex(&want, "00 00 00 05"), b_put(&want, "hello", 5);
    check_frame_encode(IPC_LEN32, &p, &want);
    b_free(&p), b_free(&want);
    b_hex(&want, "00 00 00 00");
    check_frame_encode(IPC_LEN32, &p, &want);
    b_free(&want);
}

Test(codec_suite, frame_encode_varint_is_leb128_then_payload, .timeout = 10) {
    bytes p = {0}, want = {0};
    uint64_t rng = 2;
    b_random(&p, &rng, 300, 0);
    b_hex(&want, "AC 02"), b_put(&want, p.p, p.n);
    check_frame_encode(IPC_VARINT, &p, &want);
    b_free(&p), b_free(&want);
    b_hex(&want, "00");
    check_frame_encode(IPC_VARINT, &p, &want);
    b_free(&want);
}

Test(codec_suite, frame_encode_cobs_is_stuffed_payload_then_delimiter, .timeout = 10) {
    bytes p = {0}, want = {0};
    b_hex(&p, "11 22 00 33");
    b_hex(&want, "03 11 22 02 33 00");
    check_frame_encode(IPC_COBS, &p, &want);
    b_free(&p), b_free(&want);
    b_hex(&want, "01 00");
    check_frame_encode(IPC_COBS, &p, &want);
    b_free(&want);
}

Test(codec_suite, frame_bound_is_the_frame_size, .timeout = 10) {
    cr_assert_eq(ipc_frame_bound(IPC_LEN32, 0), 4);
    cr_assert_eq(ipc_frame_bound(IPC_LEN32, 1000), 1004);
    cr_assert_eq(ipc_frame_bound(IPC_VARINT, 0), 1);
    cr_assert_eq(ipc_frame_bound(IPC_VARINT, 127), 128);
    cr_assert_eq(ipc_frame_bound(IPC_VARINT, 128), 130);
    cr_assert_eq(ipc_frame_bound(IPC_VARINT, 300), 302);
    cr_assert_eq(ipc_frame_bound(IPC_VARINT, 16384), 16387);
    cr_assert_eq(ipc_frame_bound(IPC_COBS, 0), 2);
    cr_assert_eq(ipc_frame_bound(IPC_COBS, 254), 257);
    cr_assert_eq(ipc_frame_bound(IPC_COBS, 1000), ipc_cobs_bound(1000));
}

/* Every cap below the bound: -ENOBUFS, and not one byte written past cap
   (out ends at a guard page). */
static void check_short_buffer(ipc_codec codec, size_t n) {
    bytes p = {0};
    uint64_t rng = n + 1;
    b_random(&p, &rng, n, 4);
    size_t bound = ipc_frame_bound(codec, n);
    for (size_t cap = 0; cap < bound; cap++) {
        uint8_t *out = (uint8_t *)guarded_alloc(cap);
        cr_assert_eq(ipc_frame_encode(codec, out, cap, p.p, n), -ENOBUFS, "%s, %zu bytes, cap %zu",
                     ipc_codec_name(codec), n, cap);
        guarded_free(out, cap);
    }
    b_free(&p);
}

Test(codec_suite, frame_encode_len32_short_buffer_is_enobufs, .timeout = 10) {
    check_short_buffer(IPC_LEN32, 0);
    check_short_buffer(IPC_LEN32, 5);
    check_short_buffer(IPC_LEN32, 300);
}

Test(codec_suite, frame_encode_varint_short_buffer_is_enobufs, .timeout = 10) {
    check_short_buffer(IPC_VARINT, 0);
    check_short_buffer(IPC_VARINT, 5);
    check_short_buffer(IPC_VARINT, 300);
}

Test(codec_suite, frame_encode_cobs_short_buffer_is_enobufs, .timeout = 10) {
    check_short_buffer(IPC_COBS, 0);
    check_short_buffer(IPC_COBS, 5);
    check_short_buffer(IPC_COBS, 300);
}

Test(codec_suite, frame_encode_len32_over_2_31_minus_1_is_toobig, .timeout = 10) {
    uint8_t *out = (uint8_t *)guarded_alloc(16);
    /* the payload is never read: the length alone decides */
    cr_assert_eq(ipc_frame_encode(IPC_LEN32, out, 16, out, (size_t)IPC_LEN32_MAX + 1), IPC_ETOOBIG);
    guarded_free(out, 16);
}

Test(codec_suite, frame_encode_of_unrepresentable_length_is_toobig, .timeout = 10) {
    static const ipc_codec codecs[] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    uint8_t *out = (uint8_t *)guarded_alloc(16);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(ipc_frame_encode(codecs[i], out, 16, out, SIZE_MAX), IPC_ETOOBIG, "%s",
                     ipc_codec_name(codecs[i]));
    guarded_free(out, 16);
}

Test(codec_suite, frame_header_writes_the_codecs_header, .timeout = 10) {
    uint8_t out[IPC_HEADER_MAX];
    cr_assert_eq(ipc_frame_header(IPC_LEN32, out, 258), 4);
    assert_bytes(out, 4, (const uint8_t *)"\x00\x00\x01\x02", 4, "LEN32 header");
    cr_assert_eq(ipc_frame_header(IPC_VARINT, out, 300), 2);
    assert_bytes(out, 2, (const uint8_t *)"\xAC\x02", 2, "VARINT header");
    cr_assert_eq(ipc_frame_header(IPC_LEN32, out, (size_t)1 << 31), IPC_ETOOBIG);
}

Test(codec_suite, frame_header_for_cobs_is_einval, .timeout = 10) {
    uint8_t out[IPC_HEADER_MAX];
    cr_assert_eq(ipc_frame_header(IPC_COBS, out, 5), -EINVAL);
}

/* ==== names and error strings ============================================ */

Test(codec_suite, codec_parse_maps_names_to_codecs, .timeout = 10) {
    cr_assert_eq(ipc_codec_parse("len32"), IPC_LEN32);
    cr_assert_eq(ipc_codec_parse("varint"), IPC_VARINT);
    cr_assert_eq(ipc_codec_parse("cobs"), IPC_COBS);
}

Test(codec_suite, codec_parse_of_unknown_name_is_0, .timeout = 10) {
    static const char *bad[] = {"", "len", "len32 ", "len320", "cob", "cobsx", "varint\n", "json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq((int)ipc_codec_parse(bad[i]), 0, "ipc_codec_parse(\"%s\")", bad[i]);
}

Test(codec_suite, codec_name_round_trips_through_parse, .timeout = 10) {
    cr_assert_str_eq(ipc_codec_name(IPC_LEN32), "len32");
    cr_assert_str_eq(ipc_codec_name(IPC_VARINT), "varint");
    cr_assert_str_eq(ipc_codec_name(IPC_COBS), "cobs");
    for (int c = IPC_LEN32; c <= IPC_COBS; c++)
        cr_assert_eq((int)ipc_codec_parse(ipc_codec_name((ipc_codec)c)), c);
}

Test(codec_suite, codec_name_of_unknown_codec_is_question_mark, .timeout = 10) {
    cr_assert_str_eq(ipc_codec_name((ipc_codec)0), "?");
    cr_assert_str_eq(ipc_codec_name((ipc_codec)4), "?");
    cr_assert_str_eq(ipc_codec_name((ipc_codec)-1), "?");
}

Test(codec_suite, strerror_names_every_library_code_distinctly, .timeout = 10) {
    static const int codes[] = {IPC_EOF, IPC_EFRAME, IPC_ETOOBIG, IPC_ETRUNC, IPC_ECORRUPT, IPC_EPEERDEAD};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = ipc_strerror(codes[i]);
        cr_assert_not_null(s, "code %d", codes[i]);
        cr_assert_gt(strlen(s), 0, "code %d has an empty name", codes[i]);
        cr_assert_lt(codes[i], -1000, "library codes sit below -1000");
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(s, ipc_strerror(codes[j]), "codes %d and %d share \"%s\"", codes[i], codes[j], s);
        for (int e = 1; e < 134; e++) /* and none reads like a system error */
            cr_assert_str_neq(s, ipc_strerror(-e), "code %d reads like -errno %d: \"%s\"", codes[i], e, s);
    }
}

Test(codec_suite, strerror_names_errno_codes, .timeout = 10) {
    static const int errs[] = {EAGAIN, ETIMEDOUT, EPIPE, ENOMEM, ENOBUFS, EINVAL};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        const char *s = ipc_strerror(-errs[i]);
        cr_assert_not_null(s);
        cr_assert_gt(strlen(s), 0, "-errno %d has an empty name", errs[i]);
        for (size_t j = 0; j < i; j++) cr_assert_str_neq(s, ipc_strerror(-errs[j]));
    }
    cr_assert_not_null(ipc_strerror(-99999), "an unknown code still has a name");
    cr_assert_gt(strlen(ipc_strerror(-99999)), 0);
}

/* ==== decoder memory ===================================================== */

Test(codec_suite, decoder_limit_with_caller_buffer_is_min_of_max_and_cap, .timeout = 10) {
    static const ipc_codec codecs[] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    uint8_t buf[64];
    for (size_t i = 0; i < 3; i++) {
        ipc_decoder d;
        ipc_decoder_init(&d, codecs[i], 100, buf, 50);
        cr_assert_eq(d.max_frame, 50, "%s: max 100, cap 50", ipc_codec_name(codecs[i]));
        ipc_decoder_free(&d);
        ipc_decoder_init(&d, codecs[i], 20, buf, 50);
        cr_assert_eq(d.max_frame, 20, "%s: max 20, cap 50", ipc_codec_name(codecs[i]));
        ipc_decoder_free(&d);
        ipc_decoder_init(&d, codecs[i], 0, buf, 50);
        cr_assert_eq(d.max_frame, 50, "%s: default max, cap 50", ipc_codec_name(codecs[i]));
        ipc_decoder_free(&d);
    }
}

Test(codec_suite, decoder_with_caller_buffer_assembles_split_frames_without_allocating, .timeout = 10) {
    static const ipc_codec codecs[] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    bytes p = {0};
    uint64_t rng = 6;
    b_random(&p, &rng, 50, 3);
    for (size_t i = 0; i < 3; i++) {
        bytes s = {0};
        events want = {0}, got = {0};
        uint8_t *buf = (uint8_t *)guarded_alloc(50);
        ipc_decoder d;
        chunker c = {0};
        put_frame(&s, codecs[i], p.p, p.n);
        put_frame(&s, codecs[i], p.p, 17);
        ev_frame(&want, p.p, p.n);
        ev_frame(&want, p.p, 17);
        ev_finish(&want, 0);
        ipc_test.allocs = 0;
        ipc_decoder_init(&d, codecs[i], 0, buf, 50);
        c.mode = FEED_BYTES;
        feed_stream(&d, s.p, s.n, &c, 1, &got);
        ev_assert_same(&want, &got, 1, ipc_codec_name(codecs[i]));
        cr_assert_eq(ipc_test.allocs, 0, "%s allocated with a caller buffer", ipc_codec_name(codecs[i]));
        ipc_decoder_free(&d);
        guarded_free(buf, 50);
        ev_free(&want);
        ev_free(&got);
        b_free(&s);
    }
    b_free(&p);
}

Test(codec_suite, decoder_with_caller_buffer_refuses_frame_over_cap, .timeout = 10) {
    static const ipc_codec codecs[] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    bytes p = {0};
    uint64_t rng = 8;
    b_random(&p, &rng, 51, 0);
    for (size_t i = 0; i < 3; i++) {
        bytes s = {0};
        events want = {0}, got = {0};
        uint8_t *buf = (uint8_t *)guarded_alloc(50);
        ipc_decoder d;
        chunker c = {0};
        put_frame(&s, codecs[i], p.p, p.n);
        ev_error(&want, IPC_ETOOBIG, ANY_OFFSET);
        ev_finish(&want, codecs[i] == IPC_COBS ? 0 : IPC_ETOOBIG);
        ipc_test.allocs = 0;
        ipc_decoder_init(&d, codecs[i], 0, buf, 50);
        c.mode = FEED_BYTES;
        feed_stream(&d, s.p, s.n, &c, codecs[i] != IPC_COBS, &got);
        ev_assert_same(&want, &got, 1, ipc_codec_name(codecs[i]));
        cr_assert_eq(ipc_test.allocs, 0);
        ipc_decoder_free(&d);
        guarded_free(buf, 50);
        ev_free(&want);
        ev_free(&got);
        b_free(&s);
    }
    b_free(&p);
}

/* Allocation N fails, for N = 1, 2, ... until a run needs no failing
   allocation. Each failing run must answer -ENOMEM (once, no crash) and
   otherwise deliver exactly the frames a good run delivers: all of them
   before the failure, and for COBS (which skips the lost frame) all after.
   Returns the number of failing runs. */
static unsigned alloc_failure_loop(ipc_codec codec, const bytes *s, const events *good, size_t chunk) {
    unsigned n;
    for (n = 1;; n++) {
        events got = {0};
        chunker c = {0};
        size_t i, j;
        cr_assert_lt(n, 64, "still failing at allocation %u", n);
        c.mode = FEED_FIXED;
        c.step = chunk;
        ipc_test.allocs = 0;
        ipc_test.alloc_fail_at = n;
        decode_with(codec, 0, s->p, s->n, &c, &got);
        ipc_test.alloc_fail_at = 0;
        if (ipc_test.allocs < n) { /* allocation n never happened: a clean run */
            ev_assert_same(good, &got, 1, "the run with no allocation failing");
            ev_free(&got);
            return n - 1;
        }
        for (i = 0; i < got.n && got.v[i].kind == EV_FRAME; i++) {
            char what[64];
            snprintf(what, sizeof what, "allocation %u failing: frame %zu", n, i);
            cr_assert_lt(i, good->n);
            assert_bytes(got.v[i].data.p, got.v[i].data.n, good->v[i].data.p, good->v[i].data.n, what);
        }
        cr_assert(i < got.n && got.v[i].kind == EV_ERROR && got.v[i].code == -ENOMEM,
                  "allocation %u failing: want -ENOMEM after %zu frames", n, i);
        if (codec == IPC_COBS) { /* the frame being built is lost; the rest follow */
            for (j = i + 1; j < got.n; j++) {
                cr_assert_lt(j, good->n);
                cr_assert_eq(got.v[j].kind, good->v[j].kind, "allocation %u failing: event %zu", n, j);
                if (got.v[j].kind == EV_FRAME)
                    assert_bytes(got.v[j].data.p, got.v[j].data.n, good->v[j].data.p, good->v[j].data.n,
                                 "frames after the failure");
            }
            cr_assert_eq(got.n, good->n);
        } else { /* LEN32/VARINT: sticky, the stream ends there */
            cr_assert_eq(got.n, i + 2);
            cr_assert_lt(got.v[i + 1].code, 0, "finish after a failed allocation says the stream is broken");
        }
        ev_free(&got);
    }
}

/* Two split frames: a small one, then one bigger than the first buffer. */
static void alloc_failure_case(ipc_codec codec) {
    bytes s = {0}, a = {0}, b = {0};
    events good = {0};
    uint64_t rng = 10;
    b_random(&a, &rng, 100, codec == IPC_COBS ? 5 : 0);
    b_random(&b, &rng, 20000, codec == IPC_COBS ? 5 : 0);
    put_frame(&s, codec, a.p, a.n);
    put_frame(&s, codec, b.p, b.n);
    put_frame(&s, codec, "ok", 2);
    ev_frame(&good, a.p, a.n);
    ev_frame(&good, b.p, b.n);
    ev_frame(&good, "ok", 2);
    ev_finish(&good, 0);
    unsigned failing = alloc_failure_loop(codec, &s, &good, 37);
    cr_assert_geq(failing, 1, "decoding split frames never allocated");
    ev_free(&good);
    b_free(&s);
    b_free(&a);
    b_free(&b);
}

Test(codec_suite, len32_decoder_allocation_failure_at_each_step_is_enomem, .timeout = 10) {
    alloc_failure_case(IPC_LEN32);
}

Test(codec_suite, varint_decoder_allocation_failure_at_each_step_is_enomem, .timeout = 10) {
    alloc_failure_case(IPC_VARINT);
}

Test(codec_suite, cobs_decoder_allocation_failure_at_each_step_is_enomem, .timeout = 10) {
    alloc_failure_case(IPC_COBS);
}

Test(codec_suite, decoder_reset_keeps_its_memory, .timeout = 10) {
    bytes s = {0}, p = {0};
    events want = {0}, got = {0};
    ipc_decoder d;
    chunker c = {0};
    uint64_t rng = 12;
    b_random(&p, &rng, 1000, 0);
    put_len32(&s, p.p, p.n);
    ev_frame(&want, p.p, p.n);
    ev_finish(&want, 0);
    ipc_test.allocs = 0;
    ipc_decoder_init(&d, IPC_LEN32, 0, NULL, 0);
    c.mode = FEED_BYTES;
    feed_stream(&d, s.p, s.n, &c, 1, &got);
    ev_assert_same(&want, &got, 1, "first pass");
    unsigned long allocs = ipc_test.allocs;
    cr_assert_geq(allocs, 1);
    ipc_decoder_reset(&d);
    ev_free(&got);
    memset(&c, 0, sizeof c);
    c.mode = FEED_BYTES;
    feed_stream(&d, s.p, s.n, &c, 1, &got);
    ev_assert_same(&want, &got, 1, "after reset");
    cr_assert_eq(ipc_test.allocs, allocs, "reset dropped the buffer");
    ipc_decoder_free(&d);
    ev_free(&want);
    ev_free(&got);
    b_free(&s);
    b_free(&p);
}

/* A hostile peer announcing a huge frame and sending a byte buys a page of
   memory, not the frame's length: the buffer grows with the bytes that came. */
Test(codec_suite, decoder_memory_grows_with_bytes_received_not_with_claimed_length, .timeout = 10) {
    static const uint8_t claim[2][6] = {{0x00, 0xF0, 0x00, 0x00, 0xAB, 0xCD},  /* LEN32: 15 MiB */
                                        {0x80, 0x80, 0xC0, 0x07, 0xAB, 0xCD}}; /* VARINT: 15 MiB */
    const ipc_codec codecs[2] = {IPC_LEN32, IPC_VARINT};
    const size_t hdr[2] = {4, 4};
    for (int c = 0; c < 2; c++) {
        ipc_decoder d;
        const uint8_t *f;
        size_t used, len;
        uint8_t *in = guarded_copy(claim[c], hdr[c] + 2);
        ipc_decoder_init(&d, codecs[c], 16u << 20, NULL, 0);
        cr_assert_eq(ipc_decoder_feed(&d, in, hdr[c] + 2, &used, &f, &len), 0, "%s", ipc_codec_name(codecs[c]));
        cr_assert_eq(used, hdr[c] + 2);
        cr_assert_leq(d.cap, 4096, "%s: %zu bytes held for 2 received", ipc_codec_name(codecs[c]), d.cap);
        cr_assert_eq(ipc_decoder_finish(&d), IPC_ETRUNC);
        ipc_decoder_free(&d);
        guarded_free(in, hdr[c] + 2);
    }
}
