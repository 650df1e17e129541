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
