#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/NAME/seed-* (run from the repository
root: python3 fuzz/seeds.py). The seeds are committed; this script says what
each one is and regenerates them. The input layouts are described at the top
of each harness (fuzz/fuzz_decoder.h for the three decoders)."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
DEFAULT = None  # the library's default frame limit, 16 MiB


def write(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(bytes(data))


# ---- decoders: byte 0 + low nibble of byte 1 = limit - 1 (FFF = default),
# high nibble of byte 1 = modes, byte 2 = chunk seed --------------------------
def dec(limit, stream, mode=0, seed=0):
    raw = 0xFFF if limit is DEFAULT else limit - 1
    assert 0 <= raw <= 0xFFF
    return bytes([raw & 0xFF, (raw >> 8) | (mode << 4), seed]) + bytes(stream)


def be32(n):
    return struct.pack(">I", n)


def leb128(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def cobs(payload):
    out, block = bytearray(), bytearray()
    for i, b in enumerate(payload):
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254 and i + 1 < len(payload):
                out += b"\xff" + block
                block = bytearray()
    return bytes(out + bytes([len(block) + 1]) + block + b"\x00")


hello, world = b"hello", b"world"

L = "fuzz_len32"
write(L, "two-frames", dec(64, be32(5) + hello + be32(5) + world + be32(0) + be32(2) + b"ok", mode=1, seed=0x13))
write(L, "empty-frame", dec(16, be32(0) + be32(0) + be32(1) + b"x"))
for k in (1, 2, 3):
    write(L, "header-%d-bytes-then-eof" % k, dec(16, be32(5)[:k]))
write(L, "frame-plus-part-of-next", dec(64, be32(5) + hello + be32(5) + b"wo", mode=2, seed=7))
write(L, "len-equals-max", dec(8, be32(8) + b"12345678" + be32(0), mode=4))
write(L, "len-max-plus-1", dec(8, be32(9) + b"123456789", mode=4 | 8))
write(L, "7fffffff", dec(DEFAULT, be32(0x7FFFFFFF) + b"abc"))
write(L, "80000000", dec(DEFAULT, be32(0x80000000) + b"abc"))
write(L, "fffffffc", dec(DEFAULT, be32(0xFFFFFFFC)))
write(L, "ffffffff-garbage", dec(4000, b"\xff\xff\xff\xff" + bytes(range(1, 40))))
write(L, "truncated-payload", dec(100, be32(10) + b"abc", mode=3, seed=99))
write(L, "long-frame-chunked", dec(4000, be32(3000) + bytes((i * 7 + 1) & 0xFF for i in range(3000)), mode=3, seed=3))

V = "fuzz_varint"
write(V, "two-frames", dec(64, leb128(5) + hello + leb128(5) + world + leb128(0) + leb128(2) + b"ok", mode=1, seed=0x17))
write(V, "empty-frame", dec(16, b"\x00\x00" + leb128(1) + b"x"))
write(V, "80-00-noncanonical", dec(64, b"\x80\x00"))
write(V, "80-80-00-noncanonical", dec(64, b"\x81\x80\x00"))
write(V, "u64-max", dec(DEFAULT, b"\xff" * 9 + b"\x01"))
write(V, "10th-byte-02", dec(DEFAULT, b"\xff" * 9 + b"\x02"))
write(V, "11-bytes", dec(DEFAULT, b"\xff" * 10 + b"\x01"))
write(V, "eof-mid-varint", dec(64, leb128(5) + hello + b"\x80"))
write(V, "len-over-max", dec(100, leb128(300) + b"a" * 300))
write(V, "len-equals-max", dec(300, leb128(300) + bytes(range(256)) + b"b" * 44, mode=4))
write(V, "two-byte-len", dec(DEFAULT, leb128(200) + b"c" * 200, mode=2, seed=5))
write(V, "three-byte-len-truncated", dec(DEFAULT, b"\x80\x80\x01" + b"d" * 100, mode=3, seed=1))

C = "fuzz_cobs"
write(C, "empty", dec(16, cobs(b"")))
write(C, "single-00", dec(16, b"\x00"))
write(C, "runs-of-01", dec(16, b"\x01\x01\x01\x00\x01\x00"))
write(C, "hello-world", dec(64, cobs(hello) + cobs(b"a\x00b") + cobs(world), mode=1, seed=0x12))
write(C, "254-nonzero", dec(DEFAULT, cobs(b"\x42" * 254)))
write(C, "255-nonzero", dec(DEFAULT, cobs(b"\x43" * 255), mode=2))
write(C, "508-nonzero", dec(1000, cobs(bytes((i % 255) + 1 for i in range(508))), mode=3, seed=9))
write(C, "254-then-zero", dec(DEFAULT, cobs(b"\x44" * 254 + b"\x00")))
write(C, "code-past-end", dec(64, b"\x05\x41\x00" + cobs(hello)))
write(C, "zero-inside-block", dec(64, b"\x04\x41\x00\x42\x00" + cobs(world)))
write(C, "no-delimiter-at-eof", dec(64, cobs(hello) + b"\x03\x41\x42"))
write(C, "frame-over-max", dec(4, cobs(b"abcdef") + cobs(b"ab") + cobs(b"abcd"), mode=4))
write(C, "implied-zero-over-max", dec(2, b"\x03ab\x01\x00" + cobs(b"a\x00")))
write(C, "garbage-then-resync", dec(64, b"\x07\x01\x02\xff\xfe" + b"\x00" + cobs(hello), mode=1))

# ---- roundtrip: mode, seed, 8-byte big length, then payloads --------------
def payload(p):
    n = len(p)
    return (bytes([n]) if n < 0xE0 else bytes([0xE0 | (n >> 8), n & 0xFF])) + p


def long_run(n, fill):
    """A payload of n bytes that costs a few input bytes: the harness repeats
    the fill bytes it got (only valid as the input's last payload)."""
    return (bytes([n]) if n < 0xE0 else bytes([0xE0 | (n >> 8), n & 0xFF])) + fill


def rt(mode, seed, big, *payloads):
    return bytes([mode, seed]) + struct.pack(">Q", big) + b"".join(payloads)


R = "fuzz_roundtrip"
write(R, "hello-world", rt(0, 1, 0, payload(hello), payload(b""), payload(world)))
write(R, "zeros", rt(1, 2, 0x7FFFFFFF, payload(b"\x00"), payload(b"\x00\x00"), payload(b"a\x00\x00b\x00")))
write(R, "len32-limit", rt(2, 3, 0x80000000, payload(b"x")))
write(R, "wraps", rt(3, 4, 0xFFFFFFFFFFFFFFFF, payload(b"")))
write(R, "fffffffc", rt(4, 5, 0xFFFFFFFC, payload(b"y" * 10)))
write(R, "254-run", rt(4, 6, 0, payload(b"q"), long_run(254, b"A")))
write(R, "253-run", rt(8, 7, 0, long_run(253, b"B")))
write(R, "255-run", rt(5, 8, 0, long_run(255, b"C")))
write(R, "508-run", rt(6, 9, 0, long_run(508, b"DE")))
write(R, "254-run-then-zero", rt(0, 10, 0, payload(b"F" * 254 + b"\x00")))
write(R, "1024-mixed", rt(7, 11, 1 << 40, long_run(1024, b"\x01\x02\x00\xff\x80")))
write(R, "many-small", rt(2, 12, 12345, *[payload(bytes([i]) * (i % 7)) for i in range(40)]))
write(R, "batch-many-small", rt(16 | 3, 7, 0, *[payload(bytes([i + 1]) * (i % 5)) for i in range(40)]))
write(R, "batch-whole-chunks", rt(16 | 2, 15, 0, *[payload(bytes([i]) * i) for i in range(30)]))

# ---- io_partial: flags, max_io, eintr_at, eintr_every, high water, limit
# (2 bytes LE), script length, script, payloads ------------------------------
def io(script=b"", payloads=(), flags=0, max_io=0, eintr_at=0, every=0, hw=0xFF, limit=64):
    return (bytes([flags, max_io, eintr_at, every, hw]) + struct.pack("<H", limit - 1) + bytes([len(script)]) +
            script + b"".join(payloads))


def iop(p):
    n = len(p)
    return (bytes([n]) if n < 0xF0 else bytes([0xF0 | (n >> 8), n & 0xFF])) + p


P = [iop(hello), iop(b""), iop(b"a\x00b"), iop(world)]
I = "fuzz_io_partial"
write(I, "plain", io(payloads=P))
write(I, "short-counts", io(b"\x03\x0b\x13\x1b\x04" * 20, P))
write(I, "eintr", io(b"\x00\x03" * 30, P, max_io=0x80))
write(I, "eagain", io(b"\x01\x02\x03" * 40, P))
write(I, "eagain-not-ready", io(b"\x01\x01" * 100, P + [iop(b"z" * 40)] * 6, hw=2))
write(I, "backpressure", io(b"\x0b\x01\x01" + b"\x01\x01" * 60, [iop(b"m" * 30)] * 12, hw=3))
write(I, "hard-errors", io(b"\x03\x02\x03\x02", P, max_io=0x80))
write(I, "hard-errors-write-all", io(b"\x03\x03\x02\x03\x02", P))
write(I, "poll-first-timeout", io(b"\x03\x00\x01\x0b" * 10, P, flags=1))
write(I, "hooks-max-io-eintr", io(b"", P, flags=2 | 4, max_io=3, eintr_at=2, every=3))
write(I, "small-reader-buffer", io(b"\x0b" * 10, [iop(b"r" * 100), iop(b"s" * 3)], flags=1 << 3))
write(I, "default-reader-buffer", io(b"\x0b" * 10, [iop(b"t" * 100), iop(b"u" * 3)], flags=31 << 3))
write(I, "cobs-long-payload", io(b"\x3b" * 20, [iop(bytes((i % 255) + 1 for i in range(4095)))]))
write(I, "raw-garbage", io(b"\x03" * 5, [iop(b"\xff\xff\xff\xff" + b"\x80\x00" + b"\x00\x05ab\x00")], limit=8))
write(I, "raw-truncated", io(b"", [iop(be32(5) + b"he"), iop(b"\x05")], limit=16))

# ---- ring_ops: byte 0 (capacity 64 << (v & 7), flags), [index base], then
# operations; see fuzz/fuzz_ring_ops.c ----------------------------------------
SEND, RECV, RESERVE, COMMIT, RESCOMMIT, PEEK, RELEASE, PEEK2, PEEKREL, STAT, FILL, DRAIN = range(12)


def rsz(n):
    """A size byte (and maybe a u16) for n bytes."""
    if n < 32:
        return bytes([n])
    if n % 8 == 0 and n // 8 < 32:
        return bytes([0xE0 | n // 8])
    return bytes([0x20]) + struct.pack("<H", n)


def rmax(k=0):
    return bytes([0x40 | k])  # max_record - k


def rover(k=0):
    return bytes([0x60 | k])  # max_record + 1 + k


def rhuge(k=0):
    return bytes([0xC0 | k])  # SIZE_MAX - k (k < 8), about 2^32 (8..15), k x capacity


def rfits_end(k=0):
    return bytes([0x80 | k])  # the room before the end of the buffer - 8 - k


def rfill(k=0):
    return bytes([0xA0 | k])  # the free space - 8 - k


def cm(k):
    return bytes([k])  # commit reserved - k


def cm_lit(k):
    return bytes([0x40 | k])


def cm_over(k=0):
    return bytes([0x80 | k])


def ring(cap_log, *ops, multi=False, spin=False, odd=False, real=False, wrap=None):
    b0 = cap_log | (8 if odd else 0) | (16 if multi else 0) | (32 if spin else 0) | (128 if real else 0)
    head = b""
    if wrap is not None:
        b0 |= 64
        head = bytes([wrap])
    return bytes([b0]) + head + b"".join(bytes([o]) if isinstance(o, int) else o for o in ops)


def op(code, *args):
    return bytes([code]) + b"".join(bytes([a]) if isinstance(a, int) else a for a in args)


O = "fuzz_ring_ops"
write(O, "send-recv-64", ring(0, op(SEND, rsz(0), 1), op(SEND, rsz(5), 2), op(RECV, rsz(31)), op(RECV, rsz(5)),
                              op(RECV, rsz(0))))
write(O, "fill-drain-4096", ring(6, op(FILL, rsz(100), 3), op(STAT), op(DRAIN), op(FILL, rsz(0), 4), op(DRAIN)))
write(O, "fill-drain-real-mapping", ring(2, op(FILL, rsz(24), 5), op(DRAIN), real=True))
write(O, "reserve-commit-short", ring(1, op(RESCOMMIT, rsz(40), 6, cm(30)), op(PEEK), op(RELEASE), op(RELEASE)))
write(O, "reserve-abandoned", ring(1, op(RESERVE, rsz(16), 7), op(RESERVE, rsz(8), 8), op(COMMIT, cm(0)),
                                   op(COMMIT, cm(0)), op(RESERVE, rsz(3), 9), op(SEND, rsz(2), 10), op(DRAIN)))
write(O, "commit-over-and-none", ring(0, op(COMMIT, cm_lit(0)), op(RESERVE, rsz(8), 11), op(COMMIT, cm_over(0)),
                                      op(COMMIT, cm_over(5)), op(COMMIT, cm_lit(8)), op(RECV, rsz(8))))
write(O, "pad-at-end", ring(1, op(SEND, rsz(80), 12), op(RECV, rsz(80)), op(SEND, rsz(48), 13), op(PEEK2),
                            op(RELEASE), op(SEND, rfits_end(0), 14), op(SEND, rfits_end(16), 15), op(DRAIN)))
write(O, "max-record", ring(0, op(SEND, rmax(0), 16), op(RECV, rmax(1)), op(RECV, rmax(0)), op(STAT)))
write(O, "over-max-and-huge", ring(2, op(SEND, rover(0), 17), op(SEND, rover(9), 18), op(SEND, rhuge(0), 19),
                                   op(SEND, rhuge(9), 20), op(SEND, rhuge(17), 21), op(RESERVE, rhuge(3), 22),
                                   op(RECV, rhuge(0))))
write(O, "recv-buffer-too-small", ring(1, op(SEND, rsz(16), 23), op(RECV, rsz(4)), op(RECV, rsz(15)),
                                       op(RECV, rsz(16))))
write(O, "peek-twice-release", ring(1, op(SEND, rsz(9), 24), op(SEND, rsz(0), 25), op(PEEK2), op(PEEK),
                                    op(RELEASE), op(PEEKREL), op(RELEASE), op(PEEK)))
write(O, "release-without-peek", ring(0, op(RELEASE), op(SEND, rsz(1), 26), op(RELEASE), op(RECV, rsz(1))))
write(O, "multi-lock", ring(2, op(RESERVE, rsz(12), 27), op(STAT), op(RESERVE, rsz(20), 28),
                            op(COMMIT, cm(4)), op(FILL, rsz(30), 29), op(DRAIN), multi=True))
write(O, "spin-unrounded", ring(3, op(FILL, rsz(7), 30), op(DRAIN), spin=True, odd=True))
write(O, "fake-headers", ring(2, op(SEND, rsz(40), 0x80), op(SEND, rsz(24), 0x85), op(PEEK2), op(DRAIN)))
write(O, "fill-exactly", ring(1, op(SEND, rsz(8), 31), op(SEND, rfill(0), 32), op(SEND, rsz(0), 33), op(DRAIN)))
# the indices start 8 (v + 1) bytes before 2^64 and wrap during the run
write(O, "wrap-2^64", ring(1, op(SEND, rsz(3), 34), op(SEND, rsz(20), 35), op(RECV, rsz(3)), op(SEND, rsz(0), 36),
                           op(DRAIN), op(FILL, rsz(10), 37), op(PEEKREL), op(DRAIN), wrap=10))

# ---- ring_attach: byte 0 (capacity, flags), index base, registry, role,
# records, overwrites, operations; see fuzz/fuzz_ring_attach.c ----------------
A_RECV, A_PEEK, A_PEEK2, A_RELEASE, A_SEND, A_RESCOMMIT, A_STAT, A_POKE, A_DRAIN, A_RESERVE = range(10)
F_MAGIC, F_VERSION, F_FLAGS, F_CAP, F_DOFF, F_TAIL, F_SENT, F_HW, F_FULL, F_LOCK, F_EVER, F_HEAD, F_RECVD, \
    F_CONSUMER, F_CCLOSED, F_PRODUCER0 = range(16)
T_NONE, T_OURS, T_DEAD, T_LIVE = range(4)
W1, W2, W4, W8 = range(4)


def poke_lit(target, value, width=W8):
    """Writes value (little-endian) to a named target (0-15 header fields,
    16 + k record k's length, 24 + k its tag)."""
    return bytes([width | target << 2]) + value.to_bytes(8, "little")[:1 << width]


def poke_val(target, sel, rel=0, width=W8):
    """An interesting value: sel 0 rel, 2 eight, 3 capacity + rel, 4 -8 - rel,
    5/6 tail +/- 8, 7/8 head +/- 8, 9 ~0, 10 2^31, 11 REC1, 12 PAD1, 13 the
    magic, 14 our tid, 15 capacity - 8 - rel (rel in units of 8)."""
    return bytes([0x80 | width | target << 2, sel | rel << 4])


def poke_at(offset, value, width=W8):
    return bytes([width | 31 << 2]) + struct.pack("<H", offset) + value.to_bytes(8, "little")[:1 << width]


def attach(cap_log, *ops, records=(), overwrites=(), base=0, consumer=T_NONE, producer=T_NONE, lock=T_NONE,
           ever=False, closed=False, role=0, other=(T_NONE, 0), multi=False, spin=False, ff=False, real=False,
           size=None):
    b0 = cap_log | (8 if ff else 0) | (16 if multi else 0) | (32 if spin else 0) | (64 if real else 0)
    out = bytearray()
    if size is not None:
        b0 |= 128
        out += struct.pack("<H", size)
    out = bytearray([b0]) + out
    out += base if isinstance(base, bytes) else bytes([base])
    out += bytes([consumer | producer << 2 | lock << 4 | (64 if ever else 0) | (128 if closed else 0)])
    out += bytes([role | other[0] << 2 | other[1] << 4])
    out += bytes([len(records)]) + b"".join(rsz(n) + bytes([salt]) for n, salt in records)
    out += bytes([len(overwrites)]) + b"".join(overwrites)
    out += b"".join(bytes([o]) if isinstance(o, int) else o for o in ops)
    return bytes(out)


def aop(code, *args):
    return op(code, *args)


def base_wrap(k):
    return bytes([0x40 | k])  # 2^64 - 8 (k + 1)


def base_lap_end(k):
    return bytes([0x80 | k])  # capacity * k - 8


T = "fuzz_ring_attach"
three = ((5, 1), (0, 2), (40, 3))
write(T, "empty-both-roles", attach(0, aop(A_RECV, rsz(8)), aop(A_SEND, rsz(3), 4), aop(A_PEEK2), aop(A_RECV, rsz(8))))
write(T, "three-records", attach(2, aop(A_PEEK), aop(A_RELEASE), aop(A_RECV, rsz(0)), aop(A_RECV, rsz(63)),
                                 records=three, ever=True, producer=T_DEAD))
write(T, "three-records-rdonly", attach(2, aop(A_DRAIN), aop(A_SEND, rsz(1), 5), records=three, role=1))
write(T, "wrap-2^64", attach(1, aop(A_DRAIN), aop(A_SEND, rsz(30), 6), aop(A_DRAIN),
                             records=((20, 7), (8, 8), (16, 9)), base=base_wrap(4)))
write(T, "pad-at-lap-end", attach(1, aop(A_PEEK2), aop(A_DRAIN), records=((20, 10), (9, 11)), base=base_lap_end(3)))
write(T, "16k-many-records", attach(7, aop(A_DRAIN), records=tuple((i * 37 % 300, i) for i in range(31)),
                                    base=bytes([0xC0]) + struct.pack("<Q", 0x123456789ABCDEF8)))
write(T, "real-mapping-fake-headers", attach(0, aop(A_DRAIN), records=((16, 0x80), (0, 0x81)), real=True, ff=True))
write(T, "rdonly-consumer-live", attach(0, records=three[:1], consumer=T_LIVE, role=1))
write(T, "rdonly-consumer-dead", attach(0, aop(A_DRAIN), records=three[:1], consumer=T_DEAD, role=1))
write(T, "wronly-producer-live", attach(0, records=three[:1], producer=T_LIVE, role=2))
write(T, "wronly-producer-dead", attach(0, aop(A_SEND, rsz(2), 12), aop(A_RECV, rsz(8)), producer=T_DEAD, role=2))
write(T, "both-consumer-live", attach(0, aop(A_RECV, rsz(8)), aop(A_SEND, rmax(0), 13), aop(A_SEND, rsz(0), 14),
                                     consumer=T_LIVE))
write(T, "eof-producers-gone", attach(0, aop(A_DRAIN), aop(A_PEEK), records=three[:1], ever=True))
write(T, "peerdead-producer", attach(0, aop(A_DRAIN), aop(A_PEEK), records=three[:1], ever=True, producer=T_DEAD))
write(T, "multi-lock-live", attach(1, aop(A_SEND, rsz(4), 15), aop(A_RESERVE, rsz(4), 16), aop(A_DRAIN),
                                   multi=True, lock=T_LIVE, other=(T_LIVE, 15)))
write(T, "multi-lock-dead", attach(1, aop(A_SEND, rsz(4), 17), aop(A_DRAIN), multi=True, lock=T_DEAD, spin=True))
write(T, "consumer-closed-full", attach(0, aop(A_SEND, rmax(0), 18), aop(A_SEND, rsz(0), 19),
                                       records=((40, 20),), closed=True, role=2))
write(T, "reserve-commit", attach(1, aop(A_RESCOMMIT, rsz(30), 21, 5), aop(A_RESERVE, rsz(9), 22),
                                  aop(A_RESCOMMIT, rsz(12), 23, 0x81), aop(A_STAT), aop(A_DRAIN)))
# refused at attach
write(T, "bad-magic", attach(0, overwrites=(poke_lit(F_MAGIC, 0x676e69722e637068),)))
write(T, "bad-version", attach(0, overwrites=(poke_lit(F_VERSION, 2, W4),)))
write(T, "unknown-flags", attach(0, overwrites=(poke_lit(F_FLAGS, 1, W4),)))
write(T, "capacity-not-size", attach(1, overwrites=(poke_lit(F_CAP, 64),)))
write(T, "capacity-not-pow2", attach(1, overwrites=(poke_lit(F_CAP, 96),)))
write(T, "capacity-huge", attach(1, overwrites=(poke_val(F_CAP, 9),)))
write(T, "data-offset", attach(0, overwrites=(poke_lit(F_DOFF, 4104),)))
write(T, "tail-unaligned", attach(0, records=three[:1], overwrites=(poke_lit(F_TAIL, 20),)))
write(T, "tail-minus-head-over-capacity", attach(0, overwrites=(poke_val(F_TAIL, 3, 1),)))
write(T, "head-after-tail", attach(0, records=three[:1], overwrites=(poke_val(F_HEAD, 7, 2),)))
write(T, "size-under-header", attach(0, size=100))
write(T, "size-header-only", attach(0, size=4096))
write(T, "size-zero", attach(0, size=0))
write(T, "size-not-capacity", attach(1, aop(A_DRAIN), size=4096 + 64))
# accepted at attach, refused at the record
write(T, "record-len-over-space", attach(1, aop(A_DRAIN), aop(A_SEND, rsz(1), 24), aop(A_DRAIN), records=three,
                                         overwrites=(poke_val(16 + 1, 3, 0, W4),)))
write(T, "record-bad-tag", attach(1, aop(A_PEEK2), aop(A_DRAIN), records=three, overwrites=(poke_lit(24, 0x31434553, W4),)))
write(T, "record-len-max-u32", attach(1, aop(A_DRAIN), records=three, overwrites=(poke_val(16, 9, 0, W4),)))
write(T, "pad-wrong-length", attach(1, aop(A_DRAIN), records=((20, 10), (9, 11)), base=base_lap_end(3),
                                    overwrites=(poke_lit(16, 16, W4),)))
write(T, "tail-ahead-of-records", attach(1, aop(A_DRAIN), records=three[:1], overwrites=(poke_val(F_TAIL, 5, 3),)))
# changed under the attached ring
write(T, "poke-tail-after-attach", attach(1, aop(A_RECV, rsz(8)), aop(A_POKE, poke_val(F_TAIL, 5, 15)), aop(A_DRAIN),
                                          aop(A_SEND, rsz(4), 25), records=three))
write(T, "poke-head-after-attach", attach(1, aop(A_SEND, rsz(8), 26), aop(A_POKE, poke_val(F_HEAD, 8, 1)),
                                          aop(A_SEND, rsz(8), 27), aop(A_DRAIN), records=three))
write(T, "poke-record-length-after-peek", attach(1, aop(A_PEEK), aop(A_POKE, poke_val(16, 3, 0, W4)), aop(A_RELEASE),
                                                 aop(A_DRAIN), records=three))
write(T, "poke-flags-multi", attach(1, aop(A_POKE, poke_lit(F_FLAGS, 64, W4)), aop(A_SEND, rsz(8), 28),
                                    aop(A_POKE, poke_lit(F_LOCK, 1, W4)), aop(A_SEND, rsz(8), 29), aop(A_DRAIN)))

# ---- cmsg (layout at the top of fuzz/fuzz_cmsg.c) ----------------------------
# Mode F: byte 0 flags, byte 1 fds_room, bytes 2-3 msg_controllen, records.
CM_CTRUNC, CM_ALIGNED, CM_NULL_CTL = 4, 8, 16
CM_AUX_NULL, CM_FDS_NULL, CM_FDS = 0, 1 << 5, 2 << 5
CM_BUILT = 0xFF00  # msg_controllen = the built length (+ int8 in the low byte)
CM_INT_MAX, CM_MINUS_1, CM_INT_MIN = 0xFD, 0xFE, 0xFF


def cm_room(n):
    """fds_room n in 0..16 as is, 17..77 (over IPC_UNIX_MAX_FDS) from C0."""
    return n if n <= 16 else 0xC0 + n - 17


def cm(flags, room, records, controllen=CM_BUILT):
    return bytes([flags, room]) + struct.pack("<H", controllen) + b"".join(records)


def cm_built(delta):
    return CM_BUILT | (delta & 0xFF)


def cm_rec(what, items=b"", lenmode=0, lenarg=b"", args=b"", nopad=False, wide=False):
    """One record: op, count, the type/level bytes, the payload (descriptor
    bytes b: fd 1000 + b; or 4-byte ints with wide; or raw bytes), then the
    cmsg_len mode's argument."""
    op = what | lenmode << 3 | (0x40 if nopad else 0) | (0x80 if wide else 0)
    count = len(items) // 4 if wide else len(items)
    return bytes([op, count]) + bytes(args) + bytes(items) + bytes(lenarg)


def cm_fds(*bs):
    return bytes(bs)


def cm_ints(*vs):
    return b"".join(struct.pack("<i", v) for v in vs)


def cm_cred(pid, uid, gid):
    return struct.pack("<iII", pid, uid, gid)


CM_RIGHTS, CM_CREDS, CM_PIDFD, CM_SOL_TYPE, CM_LEVEL_TYPE, CM_OTHER_LEVEL, CM_RAW, CM_GAP = range(8)
CM_EXACT, CM_PLUS, CM_BELOW, CM_HUGE, CM_U16, CM_TO_END, CM_PAST_END = range(7)
CM = "fuzz_cmsg"
write(CM, "3-fds-room-4", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1, 2, 3))]))
write(CM, "4-fds-room-1", cm(CM_FDS, 1, [cm_rec(CM_RIGHTS, cm_fds(1, 2, 3, 4))]))
write(CM, "16-fds-room-16", cm(CM_FDS, 16, [cm_rec(CM_RIGHTS, bytes(range(16)))]))
write(CM, "two-messages-over-room", cm(CM_FDS, 3, [cm_rec(CM_RIGHTS, cm_fds(1, 2)), cm_rec(CM_RIGHTS, cm_fds(3, 4))]))
write(CM, "ctrunc-stored", cm(CM_FDS | CM_CTRUNC, 4, [cm_rec(CM_RIGHTS, cm_fds(5, 6))]))
write(CM, "ctrunc-no-fds", cm(CM_FDS | CM_CTRUNC, 4, [cm_rec(CM_CREDS, cm_cred(1, 2, 3))]))
write(CM, "cred-rights-pidfd", cm(CM_FDS, 16, [cm_rec(CM_CREDS, cm_cred(42, 1000, 100)), cm_rec(CM_RIGHTS, cm_fds(7, 8)),
                                               cm_rec(CM_PIDFD, cm_fds(9))]))
write(CM, "pidfd-and-too-many", cm(CM_FDS, 1, [cm_rec(CM_PIDFD, cm_fds(9)), cm_rec(CM_RIGHTS, cm_fds(7, 8))]))
write(CM, "cred-short", cm(CM_FDS, 4, [cm_rec(CM_CREDS, cm_cred(1, 2, 3)[:8]), cm_rec(CM_RIGHTS, cm_fds(1))]))
write(CM, "two-creds-last-wins", cm(CM_FDS, 4, [cm_rec(CM_CREDS, cm_cred(1, 2, 3)), cm_rec(CM_CREDS, cm_cred(4, 5, 6))]))
write(CM, "len-below-header", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1)), cm_rec(CM_RIGHTS, cm_fds(2), CM_BELOW, b"\x08")]))
write(CM, "len-zero-gap", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1)), cm_rec(CM_GAP, bytes(16))]))
write(CM, "len-one-short", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1, 2), CM_PLUS, b"\xff")]))
write(CM, "len-past-end", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1)), cm_rec(CM_RIGHTS, cm_fds(2, 3), CM_PAST_END)]))
write(CM, "len-to-end-unaligned", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1, 2, 3), CM_TO_END)], cm_built(3)))
for k, name in enumerate(("size-max", "2-63", "uint32-max", "2-32-plus")):
    write(CM, "len-huge-" + name, cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1)), cm_rec(CM_RIGHTS, cm_fds(2), CM_HUGE, bytes([k]))]))
write(CM, "len-u16", cm(CM_FDS, 8, [cm_rec(CM_RIGHTS, cm_fds(1, 2), CM_U16, struct.pack("<H", 0x200))]))
write(CM, "controllen-0", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1))], 0))
write(CM, "controllen-8", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1))], 8))
write(CM, "controllen-16", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1))], 16))
write(CM, "padding-cut", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1, 2)), cm_rec(CM_RIGHTS, cm_fds(3))], cm_built(-4)))
write(CM, "padding-cut-aligned", cm(CM_FDS | CM_ALIGNED, 4, [cm_rec(CM_RIGHTS, cm_fds(3))], cm_built(-4)))
write(CM, "one-byte-past-built", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(3))], cm_built(1)))
write(CM, "aux-null-with-fds", cm(CM_AUX_NULL, 4, [cm_rec(CM_RIGHTS, cm_fds(1, 2))]))
write(CM, "aux-null-cred-pidfd", cm(CM_AUX_NULL, 4, [cm_rec(CM_CREDS, cm_cred(1, 2, 3)), cm_rec(CM_PIDFD, cm_fds(4))]))
write(CM, "fds-null-room-4", cm(CM_FDS_NULL, 4, [cm_rec(CM_RIGHTS, cm_fds(1))]))
write(CM, "room-minus-1", cm(CM_FDS, CM_MINUS_1, [cm_rec(CM_RIGHTS, cm_fds(1))]))
write(CM, "room-int-min", cm(CM_FDS, CM_INT_MIN, [cm_rec(CM_RIGHTS, cm_fds(1))]))
write(CM, "room-int-max", cm(CM_FDS, CM_INT_MAX, [cm_rec(CM_RIGHTS, bytes(range(40)))]))
write(CM, "room-17-with-17", cm(CM_FDS, cm_room(17), [cm_rec(CM_RIGHTS, bytes(range(17)))]))
write(CM, "room-0-no-fds", cm(CM_FDS, 0, [cm_rec(CM_CREDS, cm_cred(7, 8, 9))]))
write(CM, "rights-type-other-level", cm(CM_FDS, 0, [cm_rec(CM_OTHER_LEVEL, cm_fds(1, 2), args=b"\x00"),
                                                    cm_rec(CM_OTHER_LEVEL, cm_fds(3), args=b"\x03")]))
write(CM, "other-types", cm(CM_FDS, 4, [cm_rec(CM_SOL_TYPE, b"abcd", args=b"\x1d"),
                                       cm_rec(CM_LEVEL_TYPE, b"xyz", args=b"\x29\x32"),
                                       cm_rec(CM_SOL_TYPE, b"\x01\x00\x00\x00", args=b"\x03"),
                                       cm_rec(CM_RIGHTS, cm_fds(1))]))
write(CM, "raw-header", cm(CM_FDS, 4, [cm_rec(CM_RAW, struct.pack("<QiI", 20, 1, 1) + cm_ints(77))]))
write(CM, "msg-control-null", cm(CM_FDS | CM_NULL_CTL, 4, [cm_rec(CM_RIGHTS, cm_fds(1))]))
write(CM, "msg-control-null-ctrunc", cm(CM_FDS | CM_NULL_CTL | CM_CTRUNC, 4, []))
write(CM, "nopad-misaligned", cm(CM_FDS, 8, [cm_rec(CM_RIGHTS, cm_fds(1), nopad=True), cm_rec(CM_RIGHTS, cm_fds(2, 3))]))
write(CM, "wide-special-numbers", cm(CM_FDS, 8, [cm_rec(CM_RIGHTS, cm_ints(-1, 0, 1, 2, 0x7FFFFFFF, -0x80000000), wide=True)]))
write(CM, "wide-too-many", cm(CM_FDS, 2, [cm_rec(CM_RIGHTS, cm_ints(-1, 0, 2), wide=True)]))
write(CM, "duplicate-numbers", cm(CM_FDS, 1, [cm_rec(CM_RIGHTS, cm_fds(5, 5, 5))]))
write(CM, "flags-trunc-eor", cm(CM_FDS | 1, 4, [cm_rec(CM_RIGHTS, cm_fds(1))]))
write(CM, "flags-trunc", cm(CM_FDS | 2, 4, [cm_rec(CM_RIGHTS, cm_fds(1))]))
write(CM, "rights-odd-length", cm(CM_FDS, 4, [cm_rec(CM_RIGHTS, cm_fds(1, 2), CM_PLUS, b"\x03")]))


# Mode R: byte 0 (& 3 == 3) flags, byte 1 aux | room, byte 2 descriptors,
# byte 3 length, byte 4 cap, byte 5 RLIMIT_NOFILE slack, then the message.
R_SEQPACKET, R_PASSCRED, R_PIDFD, R_RAW, R_RLIMIT, R_SHORT_CAP = 4, 8, 16, 32, 64, 128
R_AUX_NULL, R_FDS_NULL, R_FDS = 0, 1, 2


def cm_real(flags, aux, room, nfds, msg=b"", cap=0, slack=0):
    r = room if room <= 4 else 27 + room
    assert 0 <= r < 64 and (room <= 4 or room >= 5)
    return bytes([3 | flags, aux | r << 2, nfds, len(msg), cap, slack]) + msg


write(CM, "real-4-fds-room-4", cm_real(0, R_FDS, 4, 4, b"hello"))
write(CM, "real-4-fds-room-1", cm_real(0, R_FDS, 1, 4, b"hello"))
write(CM, "real-fds-aux-null", cm_real(0, R_AUX_NULL, 0, 2, b"x"))
write(CM, "real-fds-null", cm_real(0, R_FDS_NULL, 4, 1, b"x"))
write(CM, "real-no-fds", cm_real(0, R_FDS, 4, 0, b"plain"))
write(CM, "real-empty-message-with-fds", cm_real(0, R_FDS, 4, 3))
write(CM, "real-passcred", cm_real(R_PASSCRED, R_FDS, 4, 2, b"cred"))
write(CM, "real-pidfd", cm_real(R_PIDFD, R_FDS, 4, 1, b"pid"))
write(CM, "real-passcred-pidfd-truncated", cm_real(R_PASSCRED | R_PIDFD, R_FDS, 2, 4, b"both"))
write(CM, "real-seqpacket", cm_real(R_SEQPACKET | R_PASSCRED, R_FDS, 3, 3, b"seq"))
write(CM, "real-seqpacket-empty", cm_real(R_SEQPACKET, R_FDS, 0, 0))
write(CM, "real-raw-40-kernel-ctrunc", cm_real(R_RAW, R_FDS, 36, 40, b"many"))
write(CM, "real-raw-30-room-36", cm_real(R_RAW, R_FDS, 36, 30, b"many"))
write(CM, "real-raw-17-room-16", cm_real(R_RAW, R_FDS, 16, 17, b"many"))
write(CM, "real-raw-22-cred-pidfd", cm_real(R_RAW | R_PASSCRED | R_PIDFD, R_FDS, 36, 22, b"squeeze"))
write(CM, "real-rlimit-edge", cm_real(R_RLIMIT, R_FDS, 4, 4, b"limit", slack=1))
write(CM, "real-rlimit-none-free", cm_real(R_RLIMIT | R_PIDFD, R_FDS, 4, 3, b"limit", slack=0))
write(CM, "real-short-cap", cm_real(R_SHORT_CAP, R_FDS, 4, 2, b"0123456789", cap=4))
write(CM, "real-short-cap-pidfd", cm_real(R_SHORT_CAP | R_PIDFD | R_SEQPACKET, R_FDS, 4, 4, b"abc", cap=0))

# ---- addr: the whole input is the address text (fuzz/fuzz_addr.c) ----------
AD = "fuzz_addr"
for name, text in [
    ("dash", b"-"), ("dash-cobs", b"-?frame=cobs"), ("stdio", b"stdio:?frame=varint&max=100"),
    ("fd", b"fd:3"), ("fd-int-max", b"fd:2147483647"), ("fd-minus-1", b"fd:-1"), ("fd-too-big", b"fd:2147483648"),
    ("fifo", b"fifo:/tmp/f?mode=0644&max=1"), ("unix-path", b"unix:/tmp/s?frame=len32"),
    ("unix-abstract", b"unix:@name?frame=cobs"), ("unix-dgram", b"unix-dgram:@d?msgsize=4096"),
    ("unix-seqpacket", b"unix-seqpacket:/tmp/q"),
    ("unix-107", b"unix:/" + b"x" * 106), ("unix-108", b"unix:/" + b"x" * 107),
    ("abstract-107", b"unix:@" + b"x" * 107), ("abstract-108", b"unix:@" + b"x" * 108),
    ("mq", b"mq:/q?cap=10&msgsize=8192&prio=5&mode=0640"), ("mq-prio-32768", b"mq:/q?prio=32768"),
    ("mq-no-slash", b"mq:q"), ("mq-inner-slash", b"mq:/a/b"), ("mq-255", b"mq:/" + b"n" * 255),
    ("mq-256", b"mq:/" + b"n" * 256), ("shm", b"shm:/r?cap=1073741824"), ("shm-cap-0", b"shm:/r?cap=0"),
    ("sysv-key", b"sysv:0x1234?type=7"), ("sysv-dec", b"sysv:4660"), ("sysv-key-0", b"sysv:0"),
    ("sysv-path", b"sysv:/tmp#65"), ("sysv-path-hash", b"sysv:/a#b#7"), ("sysv-proj-256", b"sysv:/tmp#256"),
    ("all-options", b"unix:/s?type=1&prio=2&mode=0&msgsize=3&cap=4&max=5&frame=varint"),
    ("duplicate", b"unix:/s?max=1&max=1"), ("unknown-key", b"unix:/s?foo=1"), ("empty-value", b"unix:/s?max="),
    ("mode-8", b"fifo:/f?mode=0800"), ("embedded-nul", b"unix:@ab\x00?frame=cobs"),
    ("name-4095", b"fifo:/" + b"p" * 4094), ("name-4096", b"fifo:/" + b"p" * 4095),
]:
    write(AD, name, text)
