/* The body of the three decoder harnesses: fuzz_len32.c, fuzz_varint.c and
   fuzz_cobs.c each define FUZZ_CODEC and include this file after ipc.h.

   Input: byte 0 and the low nibble of byte 1 are the frame limit (v + 1 for
   v = 0..4094, so IPC_ETOOBIG is easy to reach; FF 0F (v = 0xFFF) is the
   default 16 MiB); the high nibble of byte 1 picks modes (bits 0-1 chunk
   style, bit 2 the chunked run uses a caller buffer, bit 3 caller-buffer
   runs pass max_frame 0 so that the buffer's size alone is the limit);
   byte 2 seeds the chunk sizes and its low nibble is the batch size - 1;
   the rest is the stream.

   The stream is decoded six ways -- whole (allocating), a byte at a time
   (into a caller buffer exactly limit bytes long), in input-chosen chunks,
   whole again after ipc_decoder_reset on the chunked run's decoder, and
   with the batch form ipc_decoder_feed_many (1..16 frames a call, from
   byte 2) in other chunks and whole -- and each event sequence (frame bytes, or error code and err_offset) and
   ipc_decoder_finish must equal what a plain, non-incremental model of the
   wire format (written here from DESIGN.md, not from ipc.h) predicts. Every
   feed also checks the decoder's own contract: used <= n, 0 means all input
   consumed, a frame never exceeds the limit, offset counts bytes consumed,
   LEN32/VARINT errors are sticky, COBS goes on after the next 00. For COBS,
   ipc_cobs_decode on each 00-delimited piece (out of place and in place)
   must agree with the incremental decoder. */
#include "fuzz_common.h"

#ifndef FUZZ_CODEC
#error "define FUZZ_CODEC (IPC_LEN32, IPC_VARINT or IPC_COBS) before including fuzz_decoder.h"
#endif

/* ---- the model: what the wire format says the stream contains ---------- */

/* LEN32: 4-byte big-endian length (above 2^31-1 is malformed), payload.
   Errors are reported at the header's first byte and end the stream. */
static int model_len32(const uint8_t *s, size_t n, size_t limit, fz_events *e) {
    size_t pos = 0;
    while (pos < n) {
        uint64_t len;
        if (n - pos < 4) return IPC_ETRUNC;
        len = (uint64_t)s[pos] << 24 | (uint64_t)s[pos + 1] << 16 | (uint64_t)s[pos + 2] << 8 | s[pos + 3];
        if (len > 0x7FFFFFFFu) return fz_events_error(e, IPC_EFRAME, pos), IPC_EFRAME;
        if (len > limit) return fz_events_error(e, IPC_ETOOBIG, pos), IPC_ETOOBIG;
        if (n - pos - 4 < len) return IPC_ETRUNC;
        fz_events_frame(e, s + pos + 4, (size_t)len);
        pos += 4 + (size_t)len;
    }
    return 0;
}

/* VARINT: LEB128 length. The 10th byte may only be 0 or 1 (64 bits), and a
   last byte of 0 after the first is non-canonical: both IPC_EFRAME at that
   byte. Too long: IPC_ETOOBIG at the header's first byte. */
static int model_varint(const uint8_t *s, size_t n, size_t limit, fz_events *e) {
    size_t pos = 0;
    while (pos < n) {
        uint64_t v = 0, lib_v = 0;
        size_t i;
        int lib = ipc_varint_decode(s + pos, n - pos, &lib_v);
        for (i = 0;; i++) {
            uint8_t b;
            if (pos + i >= n) { /* the stream ends inside the varint */
                CHECK(lib == 0);
                return IPC_ETRUNC;
            }
            b = s[pos + i];
            if ((i == 9 && b > 1) || (i > 0 && b == 0)) {
                CHECK(lib == IPC_EFRAME);
                fz_events_error(e, IPC_EFRAME, pos + i);
                return IPC_EFRAME;
            }
            v |= (uint64_t)(b & 0x7F) << (7 * i);
            if (!(b & 0x80)) break;
        }
        CHECK(lib == (int)i + 1 && lib_v == v); /* the one-shot decoder agrees */
        if (v > limit) return fz_events_error(e, IPC_ETOOBIG, pos), IPC_ETOOBIG;
        pos += i + 1;
        if (n - pos < v) return IPC_ETRUNC;
        fz_events_frame(e, s + pos, (size_t)v);
        pos += (size_t)v;
    }
    return 0;
}

/* COBS: each 00-terminated piece is one frame body. A code byte k (1..FF)
   announces k-1 data bytes, then a zero unless k is FF or nothing follows.
   An empty piece or a block cut short by the 00 is IPC_EFRAME at the 00;
   a frame whose decoded bytes pass the limit is IPC_ETOOBIG at the byte
   that would be the (limit+1)-th (the implied zero's code byte, or a data
   byte), and decoding skips to the next 00. An unterminated last piece is
   a truncated frame, unless it has already passed the limit. */
static int model_cobs(const uint8_t *s, size_t n, size_t limit, fz_events *e, uint8_t *scratch, uint8_t *scratch2) {
    size_t pos = 0;
    int finish = 0;
    while (pos < n) {
        const uint8_t *zp = (const uint8_t *)memchr(s + pos, 0, n - pos);
        size_t z = zp ? (size_t)(zp - s) : n, j = pos, out = 0;
        unsigned prev = 0;
        int malformed = 0, toobig = 0;
        uint64_t toobig_at = 0;
        ssize_t lib;
        while (j < z) {
            size_t code = s[j], take;
            if (prev != 0 && prev < 0xFF) { /* the previous block's zero */
                if (out >= limit) {
                    toobig = 1, toobig_at = j;
                    break;
                }
                scratch[out++] = 0;
            }
            prev = (unsigned)code;
            j++;
            take = code - 1 < z - j ? code - 1 : z - j;
            if (take > limit - out) {
                toobig = 1, toobig_at = j + (limit - out);
                break;
            }
            memcpy(scratch + out, s + j, take);
            out += take, j += take;
            if (take < code - 1) malformed = 1;
        }
        finish = 0;
        if (toobig) {
            fz_events_error(e, IPC_ETOOBIG, toobig_at);
        } else if (z == n) {
            finish = IPC_ETRUNC; /* a non-empty piece without its 00 */
        } else if (z == pos || malformed) {
            fz_events_error(e, IPC_EFRAME, z);
        } else {
            fz_events_frame(e, scratch, out);
        }
        /* ipc_cobs_decode on the piece agrees, out of place and in place. */
        if (z < n) {
            lib = ipc_cobs_decode(scratch2, s + pos, z - pos);
            if (toobig) {
                CHECK(lib == IPC_EFRAME || (lib >= 0 && (size_t)lib > limit));
            } else if (z == pos || malformed) {
                CHECK(lib == IPC_EFRAME);
            } else {
                CHECK(lib >= 0 && (size_t)lib == out && (out == 0 || !memcmp(scratch2, scratch, out)));
            }
            if (z > pos) {
                uint8_t *inplace = (uint8_t *)malloc(z - pos);
                ssize_t lib2;
                CHECK(inplace != NULL);
                memcpy(inplace, s + pos, z - pos);
                lib2 = ipc_cobs_decode(inplace, inplace, z - pos);
                CHECK(lib2 == lib);
                if (lib > 0) CHECK(!memcmp(inplace, scratch2, (size_t)lib));
                free(inplace);
            }
        }
        pos = z + 1;
    }
    return finish;
}

/* ---- the decoder under test ----------------------------------------------- */

enum { FEED_WHOLE, FEED_BYTES, FEED_CHUNKS };
#define RUNS 6

/* Feeds s[0..n) to d as `how` says -- with ipc_decoder_feed, or when batch
   > 0 with ipc_decoder_feed_many taking up to batch frames a call -- and
   records every event in out; the err_offsets are recorded relative to
   d->offset at the start. Returns ipc_decoder_finish at the end. */
static int feed_all(ipc_decoder *d, const uint8_t *s, size_t n, int how, uint64_t seed, unsigned style, size_t limit,
                    int batch, fz_events *out) {
    const uint64_t base = d->offset;
    size_t off = 0, used = 99, flen = 99;
    const uint8_t *frame = (const uint8_t *)"";
    uint8_t *one = (uint8_t *)malloc(1);
    /* exactly batch entries: ASan sees a write past the last */
    ipc_frame *frames = (ipc_frame *)malloc((batch > 0 ? (size_t)batch : 1) * sizeof *frames);
    int rc, stop = 0, k;
    CHECK(one != NULL && frames != NULL);
    /* An empty feed consumes nothing and reports nothing. */
    rc = ipc_decoder_feed(d, s, 0, &used, &frame, &flen);
    CHECK(rc == 0 && used == 0 && frame == NULL && flen == 0 && d->offset == base);
    while (off < n && !stop) {
        size_t len = how == FEED_WHOLE ? n - off : how == FEED_BYTES ? 1 : fz_chunk(&seed, style);
        const uint8_t *chunk, *p;
        uint8_t *copy = NULL;
        size_t left, calls = 0;
        if (len > n - off) len = n - off;
        /* Each chunk in a buffer of exactly its size: ASan sees an over-read. */
        if (how == FEED_WHOLE) {
            chunk = s + off;
        } else if (how == FEED_BYTES) {
            one[0] = s[off];
            chunk = one;
        } else {
            copy = (uint8_t *)malloc(len);
            CHECK(copy != NULL);
            memcpy(copy, s + off, len);
            chunk = copy;
        }
        p = chunk, left = len;
        while (left > 0) {
            uint64_t before = d->offset;
            if (batch > 0) {
                used = 99;
                rc = ipc_decoder_feed_many(d, p, left, &used, frames, batch);
                CHECK(rc <= batch);
                CHECK(used <= left);
                CHECK(d->offset == before + used);
                /* every frame of the call is valid until the next call */
                for (k = 0; k < rc; k++) {
                    CHECK(frames[k].data != NULL);
                    CHECK(frames[k].len <= limit);
                    fz_events_frame(out, frames[k].data, frames[k].len);
                }
                if (rc > 0) {
                    CHECK(used > 0);
                    p += used, left -= used;
                    CHECK(++calls <= 2 * len + 2);
                    continue;
                }
                frame = NULL, flen = 0; /* for the checks below, shared with feed */
            } else {
                rc = ipc_decoder_feed(d, p, left, &used, &frame, &flen);
            }
            CHECK(used <= left);
            CHECK(d->offset == before + used);
            if (rc == 1) {
                CHECK(frame != NULL);
                CHECK(flen <= limit);
                CHECK(used > 0); /* a frame always ends with a byte of this input */
                fz_events_frame(out, frame, flen);
            } else if (rc == 0) {
                CHECK(used == left); /* "0: all the input was consumed" */
                CHECK(frame == NULL && flen == 0);
            } else {
                CHECK(rc == IPC_EFRAME || rc == IPC_ETOOBIG);
                CHECK(d->err_offset >= base && d->err_offset < base + off + len); /* a byte seen */
                fz_events_error(out, rc, d->err_offset - base);
                if (FUZZ_CODEC != IPC_COBS) { /* sticky: the stream has lost its framing */
                    size_t u2 = 99;
                    uint64_t at = d->err_offset;
                    CHECK(ipc_decoder_feed(d, p + used, left - used, &u2, &frame, &flen) == rc);
                    CHECK(u2 == 0 && d->offset == before + used && d->err_offset == at);
                    CHECK(ipc_decoder_finish(d) == rc);
                    stop = 1;
                    break;
                }
            }
            p += used, left -= used;
            CHECK(++calls <= 2 * len + 2); /* progress: COBS may take one call to skip */
        }
        free(copy);
        off += len;
    }
    free(one);
    free(frames);
    return ipc_decoder_finish(d);
}

/* A caller buffer for the default 16 MiB limit, made once, before the first
   input (so every run takes the same paths: AFL++ counts a path taken only
   on the first run as instability). */
static uint8_t *big;
static uint8_t *big_buffer(void) {
    return big;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    big = (uint8_t *)malloc(IPC_MAX_FRAME);
    CHECK(big != NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const ipc_codec codec = FUZZ_CODEC;
    fz_in in = {data, size, 0};
    unsigned raw = fz_byte(&in), mode;
    uint64_t seed;
    size_t limit, n;
    const uint8_t *s;
    fz_events model, ev[RUNS];
    int finish_model, finish[RUNS], i, batch;
    uint64_t consumed[RUNS];
    ipc_decoder d, dc;
    uint8_t *buf, *cbuf = NULL, *scratch, *scratch2;
    raw |= (unsigned)(fz_byte(&in) & 0x0F) << 8;
    mode = size > 1 ? data[1] >> 4 : 0;
    seed = (uint64_t)fz_byte(&in) << 16 | raw;
    s = data + in.pos, n = fz_left(&in);
    /* 1..4095, or 0xFFF for 0: the default 16 MiB (rarely: buffers that
       large make every run slow) */
    raw = raw == 0xFFF ? 0 : raw + 1;
    limit = raw ? raw : IPC_MAX_FRAME;

    memset(&model, 0, sizeof model);
    memset(ev, 0, sizeof ev);
    scratch = (uint8_t *)malloc(n + 1);
    scratch2 = (uint8_t *)malloc(n + 1);
    CHECK(scratch && scratch2);
    if (codec == IPC_LEN32)
        finish_model = model_len32(s, n, limit, &model);
    else if (codec == IPC_VARINT)
        finish_model = model_varint(s, n, limit, &model);
    else
        finish_model = model_cobs(s, n, limit, &model, scratch, scratch2);

    /* 0: whole, the decoder allocating. */
    ipc_decoder_init(&d, codec, raw, NULL, 0);
    CHECK(d.max_frame == limit && d.offset == 0);
    finish[0] = feed_all(&d, s, n, FEED_WHOLE, 0, 0, limit, 0, &ev[0]);
    consumed[0] = d.offset;
    ipc_decoder_free(&d);

    /* 1: a byte at a time into a caller buffer of exactly `limit` bytes. */
    buf = raw ? (uint8_t *)malloc(limit) : big_buffer();
    CHECK(buf != NULL);
    ipc_decoder_init(&d, codec, (mode & 8) ? 0 : raw, buf, limit);
    CHECK(d.max_frame == limit);
    finish[1] = feed_all(&d, s, n, FEED_BYTES, 0, 0, limit, 0, &ev[1]);
    consumed[1] = d.offset;
    ipc_decoder_free(&d);

    /* 2: input-chosen chunks, either memory mode. */
    if (mode & 4) {
        cbuf = raw ? (uint8_t *)malloc(limit) : big_buffer();
        CHECK(cbuf != NULL);
        ipc_decoder_init(&dc, codec, (mode & 8) ? 0 : raw, cbuf, limit);
    } else {
        ipc_decoder_init(&dc, codec, raw, NULL, 0);
    }
    CHECK(dc.max_frame == limit);
    finish[2] = feed_all(&dc, s, n, FEED_CHUNKS, seed, mode & 3, limit, 0, &ev[2]);
    consumed[2] = dc.offset;

    /* 3: the same decoder, reset (memory kept), whole again. */
    ipc_decoder_reset(&dc);
    CHECK(ipc_decoder_finish(&dc) == 0);
    finish[3] = feed_all(&dc, s, n, FEED_WHOLE, 0, 0, limit, 0, &ev[3]);
    CHECK(dc.offset == 2 * consumed[2]);
    consumed[3] = consumed[2];
    ipc_decoder_free(&dc);

    /* 4 and 5: the batch form, up to 1..16 frames a call, in other chunks
       (into the other memory mode than run 2's) and whole. */
    batch = 1 + (int)((seed >> 16) & 15);
    if (mode & 4) {
        ipc_decoder_init(&dc, codec, raw, NULL, 0);
    } else {
        cbuf = raw ? (uint8_t *)malloc(limit) : big_buffer();
        CHECK(cbuf != NULL);
        ipc_decoder_init(&dc, codec, (mode & 8) ? 0 : raw, cbuf, limit);
    }
    finish[4] = feed_all(&dc, s, n, FEED_CHUNKS, seed ^ 0x5A5A5A5A, mode & 3, limit, batch, &ev[4]);
    consumed[4] = dc.offset;
    ipc_decoder_free(&dc);
    ipc_decoder_init(&d, codec, raw, NULL, 0);
    finish[5] = feed_all(&d, s, n, FEED_WHOLE, 0, 0, limit, batch, &ev[5]);
    consumed[5] = d.offset;
    ipc_decoder_free(&d);

    /* Every way of feeding gives the model's events and end state. */
    {
        static const char *names[RUNS] = {"whole",       "bytewise",      "chunked",
                                          "after-reset", "batch-chunked", "batch-whole"};
        for (i = 0; i < RUNS; i++) {
            if (!fz_events_same(&model, &ev[i], "model", names[i]))
                CHECK(!"decoder events differ from the wire format's model");
            if (finish[i] != finish_model)
                fprintf(stderr, "%s: finish %d, model %d\n", names[i], finish[i], finish_model);
            CHECK(finish[i] == finish_model);
            /* all of the stream is consumed, except after a sticky error */
            CHECK(consumed[i] == consumed[0]);
            CHECK(consumed[i] == n || (FUZZ_CODEC != IPC_COBS && finish_model < 0 && finish_model != IPC_ETRUNC));
        }
    }

    for (i = 0; i < RUNS; i++)
        fz_events_free(&ev[i]);
    fz_events_free(&model);
    if (raw) free(buf), free(cbuf);
    free(scratch);
    free(scratch2);
    return 0;
}
