/* bench_codec.c - encoder and decoder throughput of LEN32, VARINT and COBS,
   beside a plain memcpy of the same bytes.

   Usage: bench_codec [-r REPS]

   For each wire format and each frame size (64 B, 1 KiB, 64 KiB payloads of
   random bytes, zeros included) it builds a stream of about 64 MiB of
   frames and times:
     encode  every frame written into the stream buffer: for LEN32 and VARINT
             ipc_frame_header plus a memcpy of the payload behind it (what a
             caller batching frames into one buffer does), for COBS
             ipc_cobs_encode;
     decode  the stream fed to ipc_decoder_feed in 64 KiB chunks, as read()
             would hand it over; the decoder returns a frame lying whole
             inside a chunk in place and copies only the frames that straddle
             two chunks (COBS always decodes into its own buffer). Each frame
             is touched (first and last byte, length summed) so no work can
             be optimised away;
     memcpy  the same stream copied in 64 KiB chunks into one 64 KiB buffer:
             the cost of merely moving those bytes, the floor a decoder is
             measured against (dec/memcpy = decode speed / memcpy speed).
   Every figure is the best of REPS repetitions (default 15) of the CPU time
   the thread used (CLOCK_THREAD_CPUTIME_ID): on a small, shared machine the
   best run is the one least disturbed, and time spent preempted is not the
   code's. MB is 10^6 bytes of the encoded stream, headers and COBS overhead
   included; Mf/s is millions of frames a second. A correctness pass (every
   decoded frame compared with what was encoded) runs first, untimed; the
   program exits 1 if it fails, and 0 otherwise, whether or not the targets
   printed beside the table are met. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STREAM_BYTES (64u << 20) /* each stream: about this many bytes */
#define CHUNK (64u << 10)        /* what one read() would return */
#define POOL (128u << 10)        /* random bytes payloads are taken from */

/* The time this thread has run, in ns. Time spent preempted does not
   count: with two cores shared by other work, wall-clock figures measure the
   neighbours as much as the code. */
static int64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* cannot fail for this clock */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Keeps the compiler from dropping stores it cannot see used. */
#define CLOBBER(p) __asm__ volatile("" : : "r"(p) : "memory")

static uint8_t pool[POOL];

/* The payload of frame i: size bytes from the pool, at an offset that
   varies from frame to frame (kept in cache: the encoder's input is not
   what we measure). */
static const uint8_t *payload(size_t i, size_t size) {
    return pool + (i * 4099) % (POOL - size + 1);
}

static void fill_pool(void) {
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < POOL; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        pool[i] = (uint8_t)(x >> 56);
    }
}

/* The stream under test. */
typedef struct stream {
    ipc_codec codec;
    size_t size;   /* payload bytes per frame */
    size_t frames; /* frames in the stream */
    uint8_t *buf;
    size_t len; /* bytes in buf */
} stream;

/* Encodes every frame into s->buf; returns the bytes written. */
static size_t encode(stream *s) {
    uint8_t *o = s->buf;
    if (s->codec == IPC_COBS) {
        for (size_t i = 0; i < s->frames; i++)
            o += ipc_cobs_encode(o, payload(i, s->size), s->size);
    } else {
        for (size_t i = 0; i < s->frames; i++) {
            int h = ipc_frame_header(s->codec, o, s->size);
            memcpy(o + h, payload(i, s->size), s->size);
            o += (size_t)h + s->size;
        }
    }
    CLOBBER(s->buf);
    return (size_t)(o - s->buf);
}

/* What decoding a stream adds up, so nothing is optimised away and the
   result can be checked. */
typedef struct tally {
    size_t frames;
    uint64_t bytes; /* payload bytes */
    unsigned touch; /* first and last bytes, summed */
    int error;
} tally;

/* Feeds s->buf to d in CHUNK pieces, a frame per ipc_decoder_feed call or,
   with batch set, up to BATCH frames per ipc_decoder_feed_many call; with
   check set, compares every frame with the payload it was made from. */
#define BATCH 64
static tally decode(const stream *s, ipc_decoder *d, int check, int batch) {
    tally t = {0, 0, 0, 0};
    ipc_frame frames[BATCH];
    ipc_decoder_reset(d);
    for (size_t off = 0; off < s->len; off += CHUNK) {
        const uint8_t *p = s->buf + off;
        size_t n = s->len - off < CHUNK ? s->len - off : CHUNK;
        while (n > 0) {
            size_t used;
            int rc = batch ? ipc_decoder_feed_many(d, p, n, &used, frames, BATCH)
                           : ipc_decoder_feed(d, p, n, &used, &frames[0].data, &frames[0].len);
            p += used, n -= used;
            if (rc < 0) {
                t.error = rc;
                return t;
            }
            for (int i = 0; i < rc; i++) {
                const uint8_t *f = frames[i].data;
                size_t len = frames[i].len;
                if (check && (len != s->size || memcmp(f, payload(t.frames, s->size), len) != 0)) {
                    t.error = IPC_EFRAME;
                    return t;
                }
                t.frames++;
                t.bytes += len;
                t.touch += f[0] + f[len - 1]; /* every size here is > 0 */
            }
        }
    }
    if (ipc_decoder_finish(d) < 0) t.error = ipc_decoder_finish(d);
    return t;
}

/* The baseline: the same bytes moved in CHUNK pieces into one buffer. */
static unsigned copy_chunks(const stream *s, uint8_t *dst) {
    unsigned touch = 0;
    for (size_t off = 0; off < s->len; off += CHUNK) {
        size_t n = s->len - off < CHUNK ? s->len - off : CHUNK;
        memcpy(dst, s->buf + off, n);
        CLOBBER(dst);
        touch += dst[0];
    }
    return touch;
}

typedef struct row {
    double enc_ns, dec_ns, many_ns, cpy_ns; /* best times, ns */
} row;

/* Times encode, decode and memcpy of s, reps times each, interleaved so a
   noisy moment hurts all three alike; keeps the best of each. Returns 0, or
   -1 after printing what went wrong. */
static int measure(stream *s, ipc_decoder *d, uint8_t *dst, int reps, row *out, unsigned *sink) {
    out->enc_ns = out->dec_ns = out->many_ns = out->cpy_ns = 1e300;
    for (int r = 0; r < reps; r++) {
        int64_t t0 = cpu_ns();
        size_t len = encode(s);
        int64_t t1 = cpu_ns();
        tally t = decode(s, d, 0, 0);
        int64_t t2 = cpu_ns();
        *sink += copy_chunks(s, dst);
        int64_t t3 = cpu_ns();
        tally tm = decode(s, d, 0, 1);
        int64_t t4 = cpu_ns();
        if (tm.error || tm.frames != t.frames || tm.touch != t.touch) t.error = tm.error ? tm.error : IPC_EFRAME;
        if (len != s->len || t.error || t.frames != s->frames || t.bytes != (uint64_t)s->frames * s->size) {
            fprintf(stderr, "bench_codec: %s %zu B: decoded %zu of %zu frames (%s)\n", ipc_codec_name(s->codec),
                    s->size, t.frames, s->frames, t.error ? ipc_strerror(t.error) : "lengths differ");
            return -1;
        }
        *sink += t.touch;
        if (t1 - t0 < out->enc_ns) out->enc_ns = (double)(t1 - t0);
        if (t2 - t1 < out->dec_ns) out->dec_ns = (double)(t2 - t1);
        if (t3 - t2 < out->cpy_ns) out->cpy_ns = (double)(t3 - t2);
        if (t4 - t3 < out->many_ns) out->many_ns = (double)(t4 - t3);
    }
    return 0;
}

static const char *size_name(size_t size) {
    return size == 64 ? "64 B" : size == 1024 ? "1 KiB" : "64 KiB";
}

int main(int argc, char *argv[]) {
    int reps = 15, opt;
    while ((opt = getopt(argc, argv, "r:h")) != -1) {
        if (opt == 'r' && (reps = atoi(optarg)) >= 1 && reps <= 1000) continue;
        fprintf(opt == 'h' ? stdout : stderr, "usage: bench_codec [-r REPS]  (REPS 1..1000, default 15)\n");
        return opt == 'h' ? 0 : 2;
    }

    const ipc_codec codecs[] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    const size_t sizes[] = {64, 1024, 65536};
    uint8_t *dst = malloc(CHUNK);
    uint8_t *buf = malloc(STREAM_BYTES);
    unsigned sink = 0;
    int status = 0;
    if (!dst || !buf) {
        fprintf(stderr, "bench_codec: %s\n", strerror(errno));
        return 1;
    }
    fill_pool();

    /* Warm up for about half a second: fault the stream buffer in and let
       the core settle at its working clock, or the first row pays for it. */
    stream warm = {IPC_LEN32, 64, 0, buf, STREAM_BYTES};
    memset(buf, 0x55, STREAM_BYTES);
    for (int64_t t0 = cpu_ns(); cpu_ns() - t0 < 500000000;)
        sink += copy_chunks(&warm, dst);

    printf("~64 MiB streams fed in 64 KiB chunks; best of %d runs, CPU time; MB = 10^6 stream bytes\n\n", reps);
    printf("%-6s %6s %7s | %8s %8s | %8s %8s | %8s %8s | %8s | %7s %7s  %s\n", "codec", "frame", "frames", "enc MB/s",
           "enc Mf/s", "dec MB/s", "dec Mf/s", "many MB/s", "many Mf/s", "cpy MB/s", "dec/cpy", "many/cpy",
           "target (best of dec, many)");
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
            stream s = {codecs[c], sizes[z], STREAM_BYTES / ipc_frame_bound(codecs[c], sizes[z]), buf, 0};
            ipc_decoder d;
            row r;
            /* Build the stream once and check that it decodes to what went in. */
            s.len = encode(&s);
            ipc_decoder_init(&d, s.codec, 0, NULL, 0);
            tally t = decode(&s, &d, 1, 0), tm = decode(&s, &d, 1, 1);
            if (!t.error && tm.error) t = tm;
            if (t.error || t.frames != s.frames) {
                fprintf(stderr, "bench_codec: %s %zu B: the stream does not decode to what was encoded (%s)\n",
                        ipc_codec_name(s.codec), s.size, t.error ? ipc_strerror(t.error) : "frames missing");
                status = 1;
            } else if (measure(&s, &d, dst, reps, &r, &sink) < 0) {
                status = 1;
            } else {
                double mb = (double)s.len / 1e6, ratio = r.cpy_ns / r.dec_ns, many = r.cpy_ns / r.many_ns;
                double dec_mfs = (double)s.frames / r.dec_ns * 1e3, many_mfs = (double)s.frames / r.many_ns * 1e3;
                double best = ratio > many ? ratio : many, best_mfs = dec_mfs > many_mfs ? dec_mfs : many_mfs;
                double want = s.codec == IPC_COBS ? 0.25 : 1.0;
                char target[64];
                int n = snprintf(target, sizeof target, ">= %.2f %s", want, best >= want ? "ok" : "BELOW");
                if (s.codec == IPC_LEN32 && s.size == 64)
                    snprintf(target + n, sizeof target - (size_t)n, "; >= 50 Mf/s %s", best_mfs >= 50 ? "ok" : "BELOW");
                printf("%-6s %6s %7zu | %8.0f %8.2f | %8.0f %8.2f | %9.0f %9.2f | %8.0f | %7.2f %8.2f  %s\n",
                       ipc_codec_name(s.codec), size_name(s.size), s.frames, mb / (r.enc_ns / 1e9),
                       (double)s.frames / r.enc_ns * 1e3, mb / (r.dec_ns / 1e9), dec_mfs, mb / (r.many_ns / 1e9),
                       many_mfs, mb / (r.cpy_ns / 1e9), ratio, many, target);
            }
            ipc_decoder_free(&d);
            fflush(stdout);
        }
    }
    printf("\ntargets: decode/memcpy >= 1.0 for LEN32 and VARINT, >= 0.25 for COBS;"
           " 64 B LEN32 decode >= 50 M frames/s\n(checksum %u)\n",
           sink);
    free(buf);
    free(dst);
    if (fflush(stdout) == EOF) {
        fprintf(stderr, "bench_codec: stdout: %s\n", strerror(errno));
        status = 1;
    }
    return status;
}
