/* Fuzzes encode -> decode for the three codecs: what goes in comes out.

   Input: byte 0 picks modes (bits 0-1 chunk style; bit 2 decode into a
   caller buffer of exactly the longest payload's size, else allocate; bit 3
   with allocation, the limit is exactly the longest payload, else the
   default; bit 4 decode with ipc_decoder_feed_many); byte 1 seeds the chunk
   sizes, its low nibble is the batch size - 1; bytes 2-9 a 64-bit length for the
   oversize checks; then payloads until the input ends (at most 64 of them,
   64 KiB in all): a length byte L (L < E0: L bytes; else a second byte B
   and ((L & 1F) << 8 | B) bytes), then that many bytes of input -- when the
   input runs short the payload repeats what it got, so a 254-byte run of
   one non-zero byte costs three input bytes. An empty payload is passed
   as (NULL, 0), as callers pass one.

   For each codec every payload is encoded with ipc_frame_encode (into a
   buffer of exactly ipc_frame_bound bytes), and compared byte for byte
   with an encoder written here from DESIGN.md's wire formats, with the
   header-only forms (ipc_frame_header + payload, ipc_len32_header,
   ipc_varint_encode) and with ipc_cobs_encode; a buffer one byte short (or
   shorter) gives -ENOBUFS without a write past it. The COBS frame holds no
   00 but its last byte and is at most n + ceil(n/254) + 2 bytes;
   ipc_cobs_decode (out of place and in place) and ipc_varint_decode undo
   the encoding. Then the frames, concatenated, go through the incremental
   decoder in input-chosen chunks (ipc_decoder_feed or the batch form
   ipc_decoder_feed_many): the same payloads come back, identical,
   in order, with no error, and ipc_decoder_finish says 0. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include "fuzz_common.h"

#define MAX_PAYLOADS 64
#define MAX_TOTAL (64u << 10)

/* ---- reference encoders, from the wire formats -------------------------- */

static size_t ref_len32(uint8_t *out, size_t n) {
    out[0] = (uint8_t)(n >> 24), out[1] = (uint8_t)(n >> 16), out[2] = (uint8_t)(n >> 8), out[3] = (uint8_t)n;
    return 4;
}
static size_t ref_varint(uint8_t *out, uint64_t v) {
    size_t k = 0;
    do {
        out[k] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v) out[k] |= 0x80;
        k++;
    } while (v);
    return k;
}
/* COBS, canonical: a block closes at a zero (code = its length + 1) or after
   254 data bytes (code FF, no implied zero); a payload ending on a full
   block gets no empty block after it. Then the 00. */
static size_t ref_cobs(uint8_t *out, const uint8_t *in, size_t n) {
    size_t o = 1, code_at = 0, i;
    unsigned code = 1;
    for (i = 0; i < n; i++) {
        if (in[i] == 0) {
            out[code_at] = (uint8_t)code, code_at = o++, code = 1;
            continue;
        }
        out[o++] = in[i];
        if (++code == 0xFF && i + 1 < n) out[code_at] = (uint8_t)code, code_at = o++, code = 1;
    }
    out[code_at] = (uint8_t)code;
    out[o++] = 0;
    return o;
}

/* A heap buffer of exactly n bytes (NULL for 0), so ASan sees a write past it. */
static uint8_t *exact(size_t n) {
    uint8_t *p = n ? (uint8_t *)malloc(n) : NULL;
    CHECK(n == 0 || p != NULL);
    return p;
}

/* Encodes one payload every way there is; appends the frame to the stream. */
static void encode_one(ipc_codec codec, const uint8_t *pl, size_t n, size_t short_cap, uint8_t *stream, size_t *slen) {
    size_t bound = ipc_frame_bound(codec, n), rlen;
    uint8_t *ref = exact(n + n / 254 + 2 + IPC_HEADER_MAX), *out = exact(bound), *small;
    ssize_t r;

    /* the reference frame, and the sizing function */
    if (codec == IPC_COBS) {
        rlen = ref_cobs(ref, pl, n);
        CHECK(bound == n + n / 254 + 2);
        CHECK(rlen <= n + (n + 253) / 254 + 2); /* n + ceil(n/254) + 1, plus the 00 */
    } else {
        rlen = codec == IPC_LEN32 ? ref_len32(ref, n) : ref_varint(ref, n);
        if (n) memcpy(ref + rlen, pl, n);
        rlen += n;
        CHECK(bound == rlen); /* exact for the prefixed codecs */
    }
    CHECK(rlen <= bound);

    /* ipc_frame_encode into exactly bound bytes: the reference bytes */
    r = ipc_frame_encode(codec, out, bound, pl, n);
    CHECK(r >= 0 && (size_t)r == rlen);
    CHECK(!memcmp(out, ref, rlen));

    /* too small a buffer: -ENOBUFS, and nothing written past it (ASan) */
    short_cap %= bound; /* < bound */
    small = exact(short_cap);
    CHECK(ipc_frame_encode(codec, small, short_cap, pl, n) == -ENOBUFS);
    free(small);
    small = exact(bound - 1);
    CHECK(ipc_frame_encode(codec, small, bound - 1, pl, n) == -ENOBUFS);
    free(small);

    if (codec == IPC_COBS) {
        uint8_t *again = exact(bound), *dec = exact(n + 1);
        size_t i;
        ssize_t d;
        CHECK(ipc_cobs_encode(again, pl, n) == rlen && !memcmp(again, ref, rlen));
        CHECK(ipc_frame_header(codec, again, n) == -EINVAL); /* COBS has no header */
        for (i = 0; i + 1 < rlen; i++)
            CHECK(out[i] != 0);
        CHECK(out[rlen - 1] == 0);
        d = ipc_cobs_decode(dec, out, rlen - 1);
        CHECK(d >= 0 && (size_t)d == n && (n == 0 || !memcmp(dec, pl, n)));
        d = ipc_cobs_decode(again, again, rlen - 1); /* in place */
        CHECK(d >= 0 && (size_t)d == n && (n == 0 || !memcmp(again, pl, n)));
        free(again);
        free(dec);
    } else {
        uint8_t hdr[IPC_HEADER_MAX], hdr2[IPC_HEADER_MAX];
        uint64_t v = 0;
        int h = ipc_frame_header(codec, hdr, n), h2;
        CHECK(h > 0 && (size_t)h + n == rlen && !memcmp(hdr, ref, (size_t)h));
        h2 = codec == IPC_LEN32 ? ipc_len32_header(hdr2, n) : ipc_varint_encode(hdr2, n);
        CHECK(h2 == h && !memcmp(hdr2, hdr, (size_t)h));
        if (codec == IPC_VARINT) CHECK(ipc_varint_decode(out, rlen, &v) == h && v == n);
    }
    memcpy(stream + *slen, ref, rlen);
    *slen += rlen;
    free(ref);
    free(out);
}

/* The oversize paths, with no payload behind them: a length past the
   format's limit is IPC_ETOOBIG, a length that merely needs more room than
   given is -ENOBUFS, and the size arithmetic never wraps. */
static void oversize(uint64_t big) {
    static const ipc_codec codecs[3] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    const uint8_t dummy = 0; /* never read: every call below fails first */
    uint8_t out[16], hdr[IPC_HEADER_MAX];
    size_t n = (size_t)big;
    int i;
    if (n < 64) n += 64; /* more than out holds, in every codec */
    for (i = 0; i < 3; i++) {
        size_t bound = ipc_frame_bound(codecs[i], n);
        ssize_t r = ipc_frame_encode(codecs[i], out, sizeof out, &dummy, n);
        CHECK(bound >= n); /* saturates, never wraps */
        if (n > (size_t)SSIZE_MAX / 2 || (codecs[i] == IPC_LEN32 && n > IPC_LEN32_MAX))
            CHECK(r == IPC_ETOOBIG);
        else
            CHECK(r == -ENOBUFS);
    }
    CHECK(ipc_len32_header(hdr, n) == (n > IPC_LEN32_MAX ? IPC_ETOOBIG : 4));
    CHECK(ipc_frame_header(IPC_VARINT, hdr, n) == (int)ref_varint(out, n) &&
          !memcmp(hdr, out, (size_t)ref_varint(out, n)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const ipc_codec codecs[3] = {IPC_LEN32, IPC_VARINT, IPC_COBS};
    fz_in in = {data, size, 0};
    unsigned mode = fz_byte(&in);
    uint64_t seed0 = fz_byte(&in), big = 0;
    const int batch = 1 + (int)(seed0 & 15);
    ipc_frame *frames = (ipc_frame *)malloc((size_t)batch * sizeof *frames); /* exactly batch: ASan */
    uint8_t *pl[MAX_PAYLOADS];
    size_t len[MAX_PAYLOADS], count = 0, total = 0, longest = 0, i;
    int c;

    CHECK(frames != NULL);
    for (i = 0; i < 8; i++)
        big = big << 8 | fz_byte(&in);
    oversize(big);

    /* the payloads */
    while (fz_left(&in) > 0 && count < MAX_PAYLOADS) {
        size_t L = fz_byte(&in), n, got, k;
        if (L >= 0xE0) L = (L & 0x1F) << 8 | fz_byte(&in);
        n = L;
        if (n > MAX_TOTAL - total) n = MAX_TOTAL - total;
        got = fz_left(&in) < n ? fz_left(&in) : n;
        pl[count] = exact(n);
        if (got) memcpy(pl[count], data + in.pos, got);
        in.pos += got;
        for (k = got; k < n; k++)
            pl[count][k] = got ? pl[count][k % got] : (uint8_t)(k * 7 + 1);
        len[count] = n;
        total += n;
        if (n > longest) longest = n;
        count++;
    }

    for (c = 0; c < 3; c++) {
        const ipc_codec codec = codecs[c];
        uint8_t *stream = exact(total + count * (IPC_HEADER_MAX + 2) + total / 254 + 1), *dbuf = NULL;
        size_t slen = 0, next = 0, off = 0;
        uint64_t seed = seed0 << 8 | (uint64_t)c;
        ipc_decoder d;

        for (i = 0; i < count; i++)
            encode_one(codec, pl[i], len[i], (size_t)fz_next(&seed), stream, &slen);

        /* decode it all back through chunks */
        if (mode & 4) {
            dbuf = exact(longest ? longest : 1);
            ipc_decoder_init(&d, codec, 0, dbuf, longest); /* the limit is the buffer: longest */
            CHECK(d.max_frame == longest || (longest == 0 && d.max_frame == 0));
        } else {
            ipc_decoder_init(&d, codec, (mode & 8) && longest ? longest : 0, NULL, 0);
        }
        while (off < slen) {
            size_t n = fz_chunk(&seed, mode & 3), used, flen;
            const uint8_t *frame, *p;
            uint8_t *chunk;
            if (n > slen - off) n = slen - off;
            chunk = exact(n);
            memcpy(chunk, stream + off, n);
            p = chunk;
            while (n > 0) {
                int rc, k;
                if (mode & 16) { /* the batch form */
                    rc = ipc_decoder_feed_many(&d, p, n, &used, frames, batch);
                    CHECK(rc <= batch);
                } else {
                    rc = ipc_decoder_feed(&d, p, n, &used, &frame, &flen);
                    frames[0].data = frame, frames[0].len = flen;
                }
                if (rc < 0)
                    fprintf(stderr, "%s: error %d (%s) at offset %llu, frame %zu\n", ipc_codec_name(codec), rc,
                            ipc_strerror(rc), (unsigned long long)d.err_offset, next);
                CHECK(rc >= 0);
                CHECK(used <= n);
                for (k = 0; k < rc; k++) {
                    CHECK(next < count);
                    CHECK(frames[k].len == len[next]);
                    CHECK(frames[k].len == 0 || !memcmp(frames[k].data, pl[next], frames[k].len));
                    next++;
                }
                if (rc == 0) CHECK(used == n);
                p += used, n -= used, off += used;
            }
            free(chunk);
        }
        CHECK(next == count);
        CHECK(ipc_decoder_finish(&d) == 0);
        CHECK(d.offset == slen);
        ipc_decoder_free(&d);
        free(dbuf);
        free(stream);
    }
    for (i = 0; i < count; i++)
        free(pl[i]);
    free(frames);
    return 0;
}
