/* Helpers shared by the fuzz harnesses: CHECK, a byte-input reader, a small
   PRNG for chunk boundaries, and a growable record of decoder events.
   Header-only (static functions): each harness is its own translation unit
   and includes ipc.h itself before this file. */
#ifndef IPC_FUZZ_COMMON_H
#define IPC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant, not an assertion: stays on under NDEBUG, names the failed
   condition, and aborts so libFuzzer and AFL++ record the input. */
#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                   \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* Reads the fuzz input front to back; past the end every byte is 0. */
typedef struct fz_in {
    const uint8_t *p;
    size_t n, pos;
} fz_in;
static inline uint8_t fz_byte(fz_in *in) {
    return in->pos < in->n ? in->p[in->pos++] : 0;
}
static inline uint16_t fz_u16(fz_in *in) {
    uint16_t v = fz_byte(in);
    return (uint16_t)(v | fz_byte(in) << 8);
}
static inline size_t fz_left(const fz_in *in) {
    return in->n - in->pos;
}

/* xorshift64: chunk sizes from a seed the input chose. */
static inline uint64_t fz_next(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15u;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return *s = x;
}
/* A chunk length >= 1, shaped by style: 0 tiny (1..4), 1 small (1..16),
   2 around a frame (1..300), 3 a mix with the occasional large one. */
static inline size_t fz_chunk(uint64_t *s, unsigned style) {
    uint64_t r = fz_next(s);
    switch (style & 3) {
    case 0: return 1 + (size_t)(r % 4);
    case 1: return 1 + (size_t)(r % 16);
    case 2: return 1 + (size_t)(r % 300);
    default: return (r >> 32) % 8 == 0 ? 1 + (size_t)(r % 5000) : 1 + (size_t)(r % 12);
    }
}

/* Decoder events in order: a frame (rc 1, bytes kept in an arena) or an
   error (rc < 0, with the decoder's err_offset). */
typedef struct fz_event {
    int rc;
    size_t at, len;      /* frame bytes: arena[at .. at+len) */
    uint64_t err_offset; /* errors only */
} fz_event;
typedef struct fz_events {
    fz_event *ev;
    size_t n, cap;
    uint8_t *arena;
    size_t used, room;
} fz_events;

static inline void fz_events_free(fz_events *e) {
    free(e->ev);
    free(e->arena);
    memset(e, 0, sizeof *e);
}
static inline fz_event *fz_events_add(fz_events *e) {
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 16;
        e->ev = (fz_event *)realloc(e->ev, e->cap * sizeof *e->ev);
        CHECK(e->ev != NULL);
    }
    memset(&e->ev[e->n], 0, sizeof e->ev[0]);
    return &e->ev[e->n++];
}
static inline void fz_events_frame(fz_events *e, const uint8_t *p, size_t len) {
    fz_event *v;
    if (e->room - e->used < len) {
        while (e->room - e->used < len)
            e->room = e->room ? 2 * e->room : 4096;
        e->arena = (uint8_t *)realloc(e->arena, e->room);
        CHECK(e->arena != NULL);
    }
    v = fz_events_add(e);
    v->rc = 1;
    v->at = e->used;
    v->len = len;
    if (len) memcpy(e->arena + e->used, p, len);
    e->used += len;
}
static inline void fz_events_error(fz_events *e, int rc, uint64_t err_offset) {
    fz_event *v = fz_events_add(e);
    v->rc = rc;
    v->err_offset = err_offset;
}

/* Prints the first difference between two event lists (to make a finding
   readable), then returns whether they are identical. */
static inline int fz_events_same(const fz_events *a, const fz_events *b, const char *an, const char *bn) {
    size_t i;
    for (i = 0; i < a->n || i < b->n; i++) {
        const fz_event *x = i < a->n ? &a->ev[i] : NULL, *y = i < b->n ? &b->ev[i] : NULL;
        if (x && y && x->rc == y->rc &&
            (x->rc == 1 ? x->len == y->len && (x->len == 0 || !memcmp(a->arena + x->at, b->arena + y->at, x->len))
                        : x->err_offset == y->err_offset))
            continue;
        fprintf(stderr, "event %zu differs: %s ", i, an);
        if (!x)
            fprintf(stderr, "(none)");
        else if (x->rc == 1)
            fprintf(stderr, "frame of %zu bytes", x->len);
        else
            fprintf(stderr, "error %d at offset %llu", x->rc, (unsigned long long)x->err_offset);
        fprintf(stderr, ", %s ", bn);
        if (!y)
            fprintf(stderr, "(none)");
        else if (y->rc == 1)
            fprintf(stderr, "frame of %zu bytes", y->len);
        else
            fprintf(stderr, "error %d at offset %llu", y->rc, (unsigned long long)y->err_offset);
        fprintf(stderr, "\n");
        return 0;
    }
    return 1;
}

#endif
