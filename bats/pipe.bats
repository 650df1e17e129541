#!/usr/bin/env bats
# Framed messages between two processes through a pipe: frame_send writes
# frames (ipc_send_frame), frame_recv reads them (ipc_reader) and prints one
# payload a line; pipe_demo runs a parent and a child over two pipes.
# Wire formats are LEN32 unless -f says otherwise.

load helper

setup() {
    require_examples frame_send frame_recv pipe_demo
    TMP=$BATS_TEST_TMPDIR
    FIFO=$TMP/fifo.$$
}

teardown() {
    kill_bg
}

# ---- messages arrive, one per line, in order --------------------------------

@test "frame_send a b c | frame_recv prints a, b, c" {
    run --separate-stderr bash -c 'frame_send a b c | frame_recv'
    assert_success
    assert_output $'a\nb\nc'
    assert_equal "$stderr" ""
}

@test "every wire format carries the same messages" {
    for c in len32 varint cobs; do
        echo "codec $c"
        run --separate-stderr bash -c "frame_send -f $c hello 'two words' '' last | frame_recv -f $c"
        assert_success
        assert_output $'hello\ntwo words\n\nlast'
    done
}

@test "the wire bytes are LEN32, VARINT and COBS exactly" {
    run bash -c 'frame_send hi "" | od -An -tx1 | tr -s " \n" " "'
    assert_output " 00 00 00 02 68 69 00 00 00 00 "
    run bash -c 'frame_send -f varint hi "" | od -An -tx1 | tr -s " \n" " "'
    assert_output " 02 68 69 00 "
    run bash -c 'frame_send -f cobs hi "" | od -An -tx1 | tr -s " \n" " "'
    assert_output " 03 68 69 00 01 00 "
}

@test "with no arguments each line of stdin is one message, empty lines included" {
    # The last line has no newline: it is a message all the same.
    printf 'one\ntwo\n\nfour\n' > "$TMP/want"
    for c in len32 varint cobs; do
        echo "codec $c"
        run --separate-stderr bash -c "printf 'one\ntwo\n\nfour' | frame_send -f $c | frame_recv -f $c > '$TMP/got'"
        assert_success
        cmp "$TMP/want" "$TMP/got"
    done
}

@test "an empty message arrives as an empty line" {
    for c in len32 varint cobs; do
        echo "codec $c"
        run --separate-stderr bash -c "frame_send -f $c '' | frame_recv -f $c | od -An -tx1"
        assert_success
        assert_output " 0a"
    done
}

@test "1000 lines arrive exactly once and in order" {
    seq 1000 > "$TMP/in"
    for c in len32 varint cobs; do
        echo "codec $c"
        run --separate-stderr bash -c "frame_send -f $c < '$TMP/in' | frame_recv -f $c"
        assert_success
        assert_equal "${#lines[@]}" 1000
        assert_output "$(seq 1000)"
    done
}

@test "a message of 100000 bytes arrives whole, from argv and from stdin" {
    big=$(head -c 100000 /dev/zero | tr '\0' x)
    for c in len32 varint cobs; do
        echo "codec $c"
        run --separate-stderr bash -c "frame_send -f $c \"\$0\" | frame_recv -f $c" "$big"
        assert_success
        assert_equal "${#output}" 100000
        assert_equal "$output" "$big"
    done
}

@test "a binary message of 100000 bytes (zeros included) survives every format" {
    # Random bytes without newlines, so the message is one line of stdin.
    head -c 400000 /dev/urandom | tr -d '\n' | head -c 100000 > "$TMP/msg"
    assert_equal "$(wc -c < "$TMP/msg")" 100000
    { cat "$TMP/msg"; echo; } > "$TMP/want"
    for c in len32 varint cobs; do
        echo "codec $c"
        run bash -c "frame_send -f $c < '$TMP/msg' | frame_recv -f $c > '$TMP/got.$c'"
        assert_success
        cmp "$TMP/want" "$TMP/got.$c"
    done
}

@test "frame_recv -n 2 stops after two messages" {
    run --separate-stderr bash -c 'frame_send a b c | frame_recv -n 2'
    assert_success
    assert_output $'a\nb'
}

@test "frame_recv -n 2 stops even when the writer never ends" {
    run --separate-stderr timeout 10 bash -c 'yes | frame_send | frame_recv -n 2'
    assert_success
    assert_output $'y\ny'
}

@test "frame_send whose reader went away fails with EPIPE, not SIGPIPE" {
    run bash -c "seq 100000 | frame_send 2> '$TMP/err' | true; echo \${PIPESTATUS[1]}"
    assert_output 1
    assert_equal "$(wc -l < "$TMP/err")" 1
    assert_file_contains "$TMP/err" "frame_send: stdout: Broken pipe"
}

# ---- bad input: one line on stderr naming the error, exit 1 ------------------

@test "garbage input exits 1 naming a malformed frame" {
    run --separate-stderr bash -c "printf '\xff\xff\xff\xffgarbage' | frame_recv"
    assert_failure 1
    assert_output ""
    assert_equal "${#stderr_lines[@]}" 1
    assert_equal "$stderr" "frame_recv: stdin: malformed frame (at byte 0)"
}

@test "malformed VARINT and COBS frames exit 1 naming a malformed frame" {
    # 11 varint bytes with the continuation bit: over 64 bits.
    run --separate-stderr bash -c "printf '\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff' | frame_recv -f varint"
    assert_failure 1
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" '^frame_recv: stdin: malformed frame'
    # COBS: a lone delimiter; a block that announces more bytes than it has.
    for bytes in '\x00' '\x05ab\x00'; do
        run --separate-stderr bash -c "printf '$bytes' | frame_recv -f cobs"
        assert_failure 1
        assert_equal "${#stderr_lines[@]}" 1
        assert_regex "$stderr" '^frame_recv: stdin: malformed frame'
    done
}

@test "good frames before a malformed one are printed first" {
    run --separate-stderr bash -c "{ frame_send ok; printf '\xff\xff\xff\xff'; } | frame_recv"
    assert_failure 1
    assert_output ok
    assert_equal "$stderr" "frame_recv: stdin: malformed frame (at byte 6)"
}

@test "a truncated frame exits 1 naming truncation" {
    # A LEN32 header announcing 16 bytes, then 3; a header cut short.
    for bytes in '\0\0\0\x10abc' '\0\0'; do
        run --separate-stderr bash -c "printf '$bytes' | frame_recv"
        assert_failure 1
        assert_output ""
        assert_equal "$stderr" "frame_recv: stdin: stream ended inside a frame"
    done
    run --separate-stderr bash -c "printf '\x80' | frame_recv -f varint"
    assert_failure 1
    assert_equal "$stderr" "frame_recv: stdin: stream ended inside a frame"
    run --separate-stderr bash -c "printf '\x03ab' | frame_recv -f cobs"
    assert_failure 1
    assert_equal "$stderr" "frame_recv: stdin: stream ended inside a frame"
}

@test "--max 10 refuses a longer frame, naming the limit, and takes one of 10" {
    for c in len32 varint cobs; do
        echo "codec $c"
        run --separate-stderr bash -c "frame_send -f $c 0123456789 | frame_recv -f $c --max 10"
        assert_success
        assert_output 0123456789
        run --separate-stderr bash -c "frame_send -f $c 0123456789A | frame_recv -f $c --max 10"
        assert_failure 1
        assert_output ""
        assert_equal "${#stderr_lines[@]}" 1
        assert_regex "$stderr" '^frame_recv: stdin: frame longer than the limit'
    done
}

@test "a huge LEN32 length is refused at once, before anything is buffered" {
    # 0x7FFFFFFF is a valid length over the 16 MiB default limit: the error
    # comes from the header alone, while the writer is still connected.
    mkfifo "$FIFO"
    bg bash -c 'exec > "$0"; printf "\x7f\xff\xff\xff"; exec sleep 60' "$FIFO"
    run --separate-stderr timeout 10 frame_recv < "$FIFO"
    assert_failure 1
    assert_equal "$stderr" "frame_recv: stdin: frame longer than the limit (at byte 0)"
}

# ---- waits run out; writers die --------------------------------------------

@test "a writer that sends a partial header and stalls makes --timeout 300 exit 3" {
    mkfifo "$FIFO"
    bg bash -c 'exec > "$0"; printf "\0\0"; exec sleep 60' "$FIFO"
    t0=$(now_ms)
    run --separate-stderr timeout 10 frame_recv --timeout 300 < "$FIFO"
    t1=$(now_ms)
    assert_failure 3
    assert_output ""
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" '^frame_recv: stdin: Connection timed out'
    # It waited about 300 ms: not much less, and far from forever.
    (( t1 - t0 >= 280 )) || fail "gave up after $((t1 - t0)) ms"
    (( t1 - t0 < 5000 )) || fail "took $((t1 - t0)) ms"
}

@test "--timeout bounds a whole frame: one trickled in a byte every 100 ms times out" {
    mkfifo "$FIFO"
    bg bash -c 'exec > "$0"; for b in 00 00 00 08 61 62 63 64 65 66 67 68; do
                    printf "\x$b"; sleep 0.1; done; exec sleep 60' "$FIFO"
    run --separate-stderr timeout 10 frame_recv --timeout 500 < "$FIFO"
    assert_failure 3
    assert_output ""
    assert_regex "$stderr" '^frame_recv: stdin: Connection timed out'
}

@test "a writer killed mid-frame: the whole frames arrive, then truncation" {
    mkfifo "$FIFO"
    # One whole frame, then a header announcing 16 bytes and 5 of them.
    bg bash -c 'exec > "$0"; printf "\0\0\0\3abc\0\0\0\x10hello"; exec sleep 60' "$FIFO"
    writer=$BG_PID
    bg bash -c 'exec frame_recv --timeout 10000 < "$0" > "$1" 2> "$2"' "$FIFO" "$TMP/out" "$TMP/err"
    reader=$BG_PID
    wait_for_content "$TMP/out" abc # the reader has it all and is waiting
    kill -KILL "$writer"
    status=0
    wait "$reader" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$TMP/out")" abc
    assert_equal "$(cat "$TMP/err")" "frame_recv: stdin: stream ended inside a frame"
}

@test "a writer killed between frames: a clean end, exit 0" {
    mkfifo "$FIFO"
    bg bash -c 'exec > "$0"; printf "\0\0\0\3abc"; exec sleep 60' "$FIFO"
    writer=$BG_PID
    bg bash -c 'exec frame_recv --timeout 10000 < "$0" > "$1" 2> "$2"' "$FIFO" "$TMP/out" "$TMP/err"
    reader=$BG_PID
    wait_for_content "$TMP/out" abc
    kill -KILL "$writer"
    status=0
    wait "$reader" || status=$?
    assert_equal "$status" 0
    assert_equal "$(cat "$TMP/out")" abc
    assert_equal "$(cat "$TMP/err")" ""
}

# ---- the command lines ------------------------------------------------------

@test "--help exits 0 and prints the usage on stdout" {
    for p in frame_send frame_recv pipe_demo; do
        run --separate-stderr "$p" --help
        assert_success
        assert_line --index 0 --regexp "^usage: $p "
        assert_equal "$stderr" ""
    done
}

@test "a bad option or argument exits 2 with one line on stderr" {
    for cmd in "frame_send --bogus" "frame_send -f xml a" "frame_send -f" \
        "frame_recv --bogus" "frame_recv -x" "frame_recv -f xml" "frame_recv -n abc" \
        "frame_recv --timeout -5" "frame_recv --max 0" "frame_recv extra" \
        "pipe_demo -n 0" "pipe_demo --bogus"; do
        echo "command: $cmd"
        run --separate-stderr $cmd < /dev/null
        assert_failure 2
        assert_output ""
        assert_equal "${#stderr_lines[@]}" 1
    done
}

# ---- the demo ----------------------------------------------------------------

@test "pipe_demo: every message makes the round trip, with every format" {
    run --separate-stderr timeout 20 pipe_demo -n 2000
    assert_success
    assert_line --regexp '^len32 +2000 .* ok$'
    assert_line --regexp '^varint +2000 .* ok$'
    assert_line --regexp '^cobs +2000 .* ok$'
    assert_equal "$stderr" ""
}

@test "pipe_demo: messages larger than the pipe buffer, under backpressure" {
    run --separate-stderr timeout 20 pipe_demo -n 100 -s 200000
    assert_success
    assert_equal "$(grep -c ' ok$' <<< "$output")" 3
}

# ---- ipc.h behaviour no example program shows -------------------------------

@test "ipc_sender takes frames again once a flush brings its queue down to low_water" {
    # ipc.h: "once more than high_water bytes are queued, send answers -EAGAIN
    # until flushing brings the queue down to low_water". Here the reader
    # drains enough of the pipe for a flush to take the queue to a quarter
    # of high_water (under low_water = high_water / 2), and the pipe is full
    # again. The next send should be accepted.
    cat > "$TMP/lowwater.c" <<'C'
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
static char payload[1000], sink[1 << 20];
int main(void) {
    int fds[2], rc, sent = 0, size;
    ipc_sender s;
    if (pipe(fds) < 0 || (size = fcntl(fds[1], F_GETPIPE_SZ)) < 0) return perror("pipe"), 2;
    if ((rc = ipc_sender_init(&s, fds[1], IPC_LEN32, (size_t)size)) < 0) return puts(ipc_strerror(rc)), 2;
    while ((rc = ipc_sender_send(&s, payload, sizeof payload)) == 0) sent++;
    if (rc != -EAGAIN) return printf("send: %s\n", ipc_strerror(rc)), 2;
    size_t pending = ipc_sender_pending(&s), drain = pending - s.low_water / 2, got = 0;
    printf("pipe %d B; %d frames sent, then -EAGAIN with %zu B queued (high %zu, low %zu)\n", size, sent,
           pending, s.high_water, s.low_water);
    if (drain > (size_t)size) return puts("the pipe holds too little for this test"), 2;
    while (got < drain) {
        ssize_t n = read(fds[0], sink, drain - got);
        if (n <= 0) return perror("read"), 2;
        got += (size_t)n;
    }
    rc = ipc_sender_flush(&s, 0);
    printf("reader took %zu B; flush(0): %s; %zu B queued\n", got, ipc_strerror(rc), ipc_sender_pending(&s));
    if (ipc_sender_pending(&s) > s.low_water) return puts("the queue did not go down to low_water"), 2;
    rc = ipc_sender_send(&s, payload, sizeof payload);
    printf("send: %s (want: success)\n", rc == 0 ? "accepted" : ipc_strerror(rc));
    ipc_sender_free(&s);
    return rc == 0 ? 0 : 1;
}
C
    gcc -std=c11 -Wall -Wextra -Werror -I "$BATS_TEST_DIRNAME/.." -o "$TMP/lowwater" "$TMP/lowwater.c" -pthread
    run timeout 10 "$TMP/lowwater"
    echo "$output"
    assert_success
}
