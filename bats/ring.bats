#!/usr/bin/env bats
# The shared-memory ring across processes: ring_stream produce sends
# self-checking records (sequence number, length, chained CRC-32 of the
# payloads) through a named ring, ring_stream consume checks every one of
# them. Each side prints one summary line,
#   sent|received N records, B bytes, X MB/s, Y records/s, crc 0x........
# and the stream arrived whole when the two lines agree on N, B and crc.
#
# Every test has its own ring name, $RING (with $$ and the test number);
# rings a test needs beside it are called $RING-SOMETHING. teardown kills
# whatever a test left running, then fails the test (after removing them)
# if any of those names is still in /dev/shm: the consumer removes the ring
# when it stops, and the tests remove the rings nobody consumed.
#
# Background programs run under `timeout 20` (so every wait for them is
# bounded); child_pid finds the ring_stream that a `timeout` runs, for the
# tests that kill it.

load helper

setup() {
    require_examples ring_stream
    TMP=$BATS_TEST_TMPDIR
    RING=/ipc-bats-ring.$$.$BATS_TEST_NUMBER
    SHM=/dev/shm/${RING#/} # where the ring shows up
}

teardown() {
    local pid c f left=()
    for pid in "${BG_PIDS[@]}"; do # timeout's children first: killing timeout leaves them running
        for c in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do kill -KILL "$c" 2>/dev/null || true; done
    done
    kill_bg
    for f in "$SHM" "$SHM"-*; do
        [ -e "$f" ] || continue
        left+=("$f")
        rm -f "$f"
    done
    if [ "${#left[@]}" -gt 0 ]; then
        echo "teardown: left behind in /dev/shm: ${left[*]}" >&2
        return 1
    fi
}

SUMMARY_RE='^(sent|received) [0-9]+ records, [0-9]+ bytes, [0-9]+\.[0-9] MB/s, [0-9]+ records/s, crc 0x[0-9a-f]{8}$'

# run_bg NAME CMD...: CMD in the background under timeout 20, its stdout in
# $TMP/NAME.out and its stderr in $TMP/NAME.err; timeout's pid in BG_PID.
run_bg() {
    local name=$1
    shift
    bg timeout 20 "$@" > "$TMP/$name.out" 2> "$TMP/$name.err"
}

# child_pid PID: the pid of the program that `timeout` (PID) runs, once it
# has started (at most 5 s).
child_pid() {
    local c tries=100
    while :; do
        c=$(cat "/proc/$1/task/$1/children" 2>/dev/null) || true
        c=${c%% *}
        [ -n "$c" ] && { echo "$c"; return 0; }
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { echo "child_pid: $1 has no child" >&2; return 1; }
        sleep 0.05
    done
}

# reap PID: waits for a background PID (bounded: it runs under timeout
# 20); its exit status in $reaped. (Not in $(...): a subshell cannot wait
# for its parent's children.)
reap() {
    reaped=0
    wait "$1" || reaped=$?
}

# wait_for_file PATH: waits until PATH exists (at most 10 s).
wait_for_file() {
    local tries=200
    until [ -e "$1" ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { fail "$1 never appeared"; return 1; }
        sleep 0.05
    done
}

# The parts of a summary line (the first one in TEXT).
summary_of() { grep -E '^(sent|received) ' <<< "$1" | head -1; }
count_of() { sed -nE 's/^(sent|received) ([0-9]+) records, .*/\2/p' <<< "$(summary_of "$1")"; }
bytes_of() { sed -nE 's/^(sent|received) [0-9]+ records, ([0-9]+) bytes, .*/\2/p' <<< "$(summary_of "$1")"; }
crc_of() { sed -nE 's/.*, crc (0x[0-9a-f]{8})$/\1/p' <<< "$(summary_of "$1")"; }
# The sequence numbers a --trace printed, one a line.
traced() { sed -nE 's/^record ([0-9]+) [0-9]+$/\1/p' <<< "$1"; }

# same_stream PRODUCER_OUTPUT CONSUMER_OUTPUT N: both summaries are
# well-formed and say N records, and the same bytes and crc.
same_stream() {
    assert_regex "$(summary_of "$1")" "$SUMMARY_RE"
    assert_regex "$(summary_of "$2")" "$SUMMARY_RE"
    assert_regex "$(summary_of "$1")" '^sent '
    assert_regex "$(summary_of "$2")" '^received '
    assert_equal "$(count_of "$1")" "$3"
    assert_equal "$(count_of "$2")" "$3"
    assert_equal "$(bytes_of "$2")" "$(bytes_of "$1")"
    assert_equal "$(crc_of "$2")" "$(crc_of "$1")"
}

# stream SUFFIX N PRODUCER_ARGS...: a producer in the background and a
# consumer expecting N records on the ring $RING$SUFFIX (SUFFIX "" or
# "-something"), both succeeding with nothing on stderr; leaves their
# outputs in P_OUT and C_OUT.
stream() {
    local name=$1 n=$2 producer
    shift 2
    run_bg "p$name" ring_stream produce "$RING$name" -n "$n" --timeout 10000 "$@"
    producer=$BG_PID
    run --separate-stderr timeout 20 ring_stream consume "$RING$name" --expect "$n" --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    C_OUT=$output
    reap "$producer"
    assert_equal "$reaped" 0
    assert_equal "$(cat "$TMP/p$name.err")" ""
    P_OUT=$(cat "$TMP/p$name.out")
}

# ==== either side may start first ==========================================

@test "producer first: it fills the ring and exits; a consumer started afterwards gets every record and removes the ring" {
    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 200 -s 100 --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    assert_output --regexp "$SUMMARY_RE"
    p=$output
    assert_equal "$(bytes_of "$p")" 20000
    assert_file_exists "$SHM"
    [ "$(stat -c %a "$SHM")" = 600 ]
    run --separate-stderr timeout 20 ring_stream consume "$RING" --expect 200 --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    assert_output --regexp "$SUMMARY_RE"
    same_stream "$p" "$output" 200
    assert_file_not_exists "$SHM"
}

@test "producer first with more than the ring holds: it waits for the consumer, which gets everything" {
    run_bg p ring_stream produce "$RING" -n 20000 -s 100 --cap 4K --timeout 10000
    producer=$BG_PID
    wait_for_file "$SHM"
    run --separate-stderr timeout 20 ring_stream consume "$RING" --expect 20000 --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    reap "$producer"
    assert_equal "$reaped" 0
    assert_equal "$(cat "$TMP/p.err")" ""
    same_stream "$(cat "$TMP/p.out")" "$output" 20000
    assert_equal "$(bytes_of "$output")" 2000000
    assert_file_not_exists "$SHM"
}

@test "consumer first: it creates the ring and waits; the producer joins it, and the consumer sees the end of the stream" {
    run_bg c ring_stream consume "$RING" --expect 20000 --timeout 10000
    consumer=$BG_PID
    wait_for_file "$SHM"
    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 20000 -s 100 --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    reap "$consumer"
    assert_equal "$reaped" 0
    assert_equal "$(cat "$TMP/c.err")" ""
    same_stream "$output" "$(cat "$TMP/c.out")" 20000
    assert_file_not_exists "$SHM"
}

@test "both sides at once, five times: whichever creates the ring, the other joins it" {
    for k in 1 2 3 4 5; do
        run_bg "c$k" ring_stream consume "$RING-$k" --expect 3000 --timeout 10000
        consumer=$BG_PID
        run_bg "p$k" ring_stream produce "$RING-$k" -n 3000 -s 300 --cap 16K --timeout 10000
        producer=$BG_PID
        reap "$producer"
        assert_equal "$reaped" 0
        reap "$consumer"
        assert_equal "$reaped" 0
        assert_equal "$(cat "$TMP/p$k.err" "$TMP/c$k.err")" ""
        same_stream "$(cat "$TMP/p$k.out")" "$(cat "$TMP/c$k.out")" 3000
        assert_file_not_exists "$SHM-$k"
    done
}

# ==== what goes through =====================================================

@test "an IPC_RING_SPIN ring (--spin on both sides) carries the stream whole" {
    run_bg c ring_stream consume "$RING" --spin --expect 100000 --timeout 10000
    consumer=$BG_PID
    wait_for_file "$SHM"
    run --separate-stderr timeout 20 ring_stream produce "$RING" --spin -n 100000 -s 64 --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    reap "$consumer"
    assert_equal "$reaped" 0
    assert_equal "$(cat "$TMP/c.err")" ""
    same_stream "$output" "$(cat "$TMP/c.out")" 100000
}

@test "64 KiB records through a 256 KiB ring" {
    stream "" 300 -s 64K --cap 256K
    same_stream "$P_OUT" "$C_OUT" 300
    assert_equal "$(bytes_of "$C_OUT")" $((300 * 65536))
}

@test "a record as large as the ring allows goes through; one byte more is refused before anything is sent" {
    # A 256 KiB ring takes records of 128K - 8 bytes (half the ring, less
    # the ring's record header); ring_stream's header is 24 of those.
    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 1 -s 131040 --cap 256K --timeout 10000
    assert_success
    p=$output
    run --separate-stderr timeout 20 ring_stream produce "$RING-big" -n 1 -s 131041 --cap 256K --timeout 10000
    assert_failure 1
    assert_output ""
    assert_equal "$stderr" "ring_stream: $RING-big: records of 131041 payload bytes do not fit this ring (capacity 262144 bytes: 131040 payload bytes a record at most)"
    run --separate-stderr timeout 20 ring_stream consume "$RING" --expect 1 --timeout 10000
    assert_success
    same_stream "$p" "$output" 1
    run --separate-stderr timeout 20 ring_stream consume "$RING-big" --expect 0 --timeout 10000
    assert_success # the producer closed without sending: an empty stream
    assert_equal "$(count_of "$output")" 0
}

@test "ipc.h: records over half the capacity never leave the producer stuck with an empty ring" {
    # A record never wraps: it goes at the tail, or after a pad at the
    # start of the buffer. With the tail at offset T of capacity C, a
    # record of R bytes (header included) fits neither when R > C - T and
    # R > T, however empty the ring is; so ipc_ring_max_record is C/2 - 8,
    # and bigger sizes are refused up front (the producer then says they
    # do not fit and sends nothing). Found by this test.
    run_bg c ring_stream consume "$RING" --cap 64K --timeout 3000
    consumer=$BG_PID
    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 300 -s rand:60000 --cap 64K --timeout 3000
    if [ "$status" -eq 1 ]; then
        assert_regex "$stderr" "do not fit this ring"
        assert_output ""
    else
        assert_success
        assert_equal "$stderr" ""
        reap "$consumer"
        assert_equal "$reaped" 0
        same_stream "$output" "$(cat "$TMP/c.out")" 300
    fi
}

@test "varying sizes (-s rand, rand:MAX) wrap around small rings, padding their ends" {
    stream -a 20000 -s rand --cap 16K
    same_stream "$P_OUT" "$C_OUT" 20000
    # Records up to half the capacity (32768 bytes with the ring's 8-byte
    # header): ipc_ring_max_record.
    stream -b 3000 -s rand:32736 --cap 64K
    same_stream "$P_OUT" "$C_OUT" 3000
    stream -c 5000 -s 0 --cap 64
    same_stream "$P_OUT" "$C_OUT" 5000
    assert_equal "$(bytes_of "$C_OUT")" 0
}

@test "a slow consumer on a small ring gets every record exactly once, in order" {
    run_bg p ring_stream produce "$RING" -n 1000 -s rand:200 --cap 1K --timeout 10000
    producer=$BG_PID
    run --separate-stderr timeout 20 ring_stream consume "$RING" --cap 1K --delay 300 --trace --expect 1000 --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    assert_equal "$(traced "$output")" "$(seq 1000)"
    reap "$producer"
    assert_equal "$reaped" 0
    same_stream "$(cat "$TMP/p.out")" "$output" 1000
}

# ==== a peer killed mid-stream =============================================

@test "the producer SIGKILLed while it waits for room: the consumer gets what was committed, then exits 4" {
    run_bg c ring_stream consume "$RING" --cap 4K --delay 500 --trace --timeout 10000
    consumer=$BG_PID
    run_bg p ring_stream produce "$RING" -n 1000000 -s 100 --cap 4K --timeout 10000
    producer=$BG_PID
    wait_for_content "$TMP/c.out" "record 100 "
    kill -KILL "$(child_pid "$producer")"
    reap "$producer"
    assert_equal "$reaped" 137
    reap "$consumer"
    assert_equal "$reaped" 4
    out=$(cat "$TMP/c.out")
    n=$(count_of "$out")
    [ "$n" -gt 100 ] && [ "$n" -lt 1000000 ] || fail "received $n records"
    assert_equal "$(cat "$TMP/c.err")" "ring_stream: $RING: peer process died after $n records"
    assert_regex "$(summary_of "$out")" "$SUMMARY_RE"
    assert_equal "$(traced "$out")" "$(seq "$n")" # each checked, in order, once
    assert_file_not_exists "$SHM"
}

@test "the producer SIGKILLed while it streams flat out: the consumer exits 4 with a prefix of the stream, byte for byte" {
    run_bg c ring_stream consume "$RING" --from-any --timeout 10000
    consumer=$BG_PID
    run_bg p ring_stream produce "$RING" -n 1000000000 -s 64 --timeout 10000
    producer=$BG_PID
    wait_for_content "$TMP/c.out" "first seq 1"
    sleep 0.2
    kill -KILL "$(child_pid "$producer")"
    reap "$producer"
    assert_equal "$reaped" 137
    reap "$consumer"
    assert_equal "$reaped" 4
    out=$(cat "$TMP/c.out")
    n=$(count_of "$out")
    [ "$n" -gt 0 ] || fail "received $n records"
    assert_equal "$(cat "$TMP/c.err")" "ring_stream: $RING: peer process died after $n records"
    # The same N records sent afresh have the same crc: the consumer got
    # records 1..N of the stream, intact.
    stream -ref "$n" -s 64 --cap 1M
    assert_equal "$(crc_of "$out")" "$(crc_of "$P_OUT")"
    assert_equal "$(bytes_of "$out")" "$(bytes_of "$P_OUT")"
    assert_file_not_exists "$SHM"
}

@test "the consumer SIGKILLed mid-stream: a new consumer takes over where it stopped, and the producer finishes" {
    run_bg p ring_stream produce "$RING" -n 3000 -s 100 --cap 4K --timeout 10000
    producer=$BG_PID
    run_bg c1 ring_stream consume "$RING" --cap 4K --delay 1000 --trace --timeout 10000
    first=$BG_PID
    wait_for_content "$TMP/c1.out" "record 200 "
    kill -KILL "$(child_pid "$first")"
    reap "$first"
    assert_equal "$reaped" 137
    # The producer, waiting for room, notices and waits for another consumer.
    wait_for_content "$TMP/p.err" "waiting for another"
    assert_file_exists "$SHM" # a killed consumer removes nothing
    traced1=$(traced "$(cat "$TMP/c1.out")")
    a=$(tail -1 <<< "$traced1")
    assert_equal "$traced1" "$(seq "$a")"
    run --separate-stderr timeout 20 ring_stream consume "$RING" --from-any --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    k=$(sed -n 's/^first seq \([0-9][0-9]*\)$/\1/p' <<< "$output")
    n2=$(count_of "$output")
    # The record the first consumer traced last was released or comes again:
    # nothing is skipped, at most that one is seen twice.
    ((k == a || k == a + 1)) || fail "first consumer traced 1..$a, the second started at $k"
    assert_equal $((k + n2 - 1)) 3000
    ((a + n2 >= 3000)) || fail "$a + $n2 < 3000"
    reap "$producer"
    assert_equal "$reaped" 0
    assert_regex "$(cat "$TMP/p.err")" "^ring_stream: $RING: the consumer died after [0-9]+ records; waiting for another$"
    p=$(cat "$TMP/p.out")
    assert_equal "$(count_of "$p")" 3000
    assert_equal "$(crc_of "$output")" "$(crc_of "$p")" # the chained crc: the two parts join up
    assert_file_not_exists "$SHM"
}

@test "consume -n stops early and leaves the ring; a consumer with --from-any gets the rest" {
    run_bg p ring_stream produce "$RING" -n 2000 -s 100 --cap 4K --timeout 10000
    producer=$BG_PID
    run --separate-stderr timeout 20 ring_stream consume "$RING" -n 500 --cap 4K --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    assert_equal "$(count_of "$output")" 500
    assert_file_exists "$SHM"
    run --separate-stderr timeout 20 ring_stream consume "$RING" --from-any --timeout 10000
    assert_success
    assert_line --index 0 "first seq 501"
    assert_equal "$(count_of "$output")" 1500
    reap "$producer"
    assert_equal "$reaped" 0
    p=$(cat "$TMP/p.out")
    assert_equal "$(crc_of "$output")" "$(crc_of "$p")"
    # The producer may have found the ring without a consumer for a moment.
    perr=$(cat "$TMP/p.err")
    [ -z "$perr" ] || assert_regex "$perr" "^ring_stream: $RING: the consumer left after [0-9]+ records; waiting for another$"
    assert_file_not_exists "$SHM"
}

@test "without --from-any a consumer refuses a stream that does not start at record 1" {
    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 20 -s 10 --timeout 10000
    assert_success
    run --separate-stderr timeout 20 ring_stream consume "$RING" -n 5 --keep --timeout 10000
    assert_success
    run --separate-stderr timeout 20 ring_stream consume "$RING" --timeout 10000
    assert_failure 1
    assert_equal "$stderr" "ring_stream: $RING: the stream starts at record 6, not 1 (another consumer took the ones before; --from-any accepts that)"
    assert_file_not_exists "$SHM"
}

# ==== damage, signals, timeouts ============================================

# poke OFFSET BYTES...: writes the bytes (octal escapes for printf) into
# this test's ring at OFFSET, in place.
poke() {
    local off=$1
    shift
    printf "$@" | dd of="$SHM" bs=1 seek="$off" conv=notrunc status=none
}

@test "a damaged record is caught: payload, sequence number, ring record length" {
    # 20 records of 100 payload bytes: each takes 8 (ring) + 24 (ours) +
    # 100, padded to 136 bytes, from offset 4096 (the ring's header).
    rec3=$((4096 + 2 * 136))
    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 20 -s 100 --timeout 10000
    poke $((rec3 + 8 + 24 + 10)) '\377'
    run --separate-stderr timeout 20 ring_stream consume "$RING" --timeout 10000
    assert_failure 1
    assert_equal "$stderr" "ring_stream: $RING: record 3: its payload (100 bytes) does not match its checksum"
    assert_equal "$(count_of "$output")" 2
    assert_file_not_exists "$SHM"

    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 20 -s 100 --timeout 10000
    poke $((rec3 + 8 + 8)) '\011' # seq 3 -> 9
    run --separate-stderr timeout 20 ring_stream consume "$RING" --timeout 10000
    assert_failure 1
    assert_equal "$stderr" "ring_stream: $RING: record 9 came where 3 was due (a gap)"
    assert_file_not_exists "$SHM"

    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 20 -s 100 --timeout 10000
    poke "$rec3" '\377\377\000\000' # the ring's own length field: past the data
    run --separate-stderr timeout 20 ring_stream consume "$RING" --timeout 10000
    assert_failure 1
    assert_equal "$stderr" "ring_stream: $RING: after 2 records: shared region fails validation"
    assert_file_not_exists "$SHM"
}

@test "SIGINT to a waiting consumer, SIGTERM to a busy one: 130 and 143, the ring removed, the producer told" {
    run_bg c ring_stream consume "$RING"
    consumer=$BG_PID
    wait_for_file "$SHM"
    t0=$(now_ms)
    kill -INT "$(child_pid "$consumer")"
    reap "$consumer"
    assert_equal "$reaped" 130
    t1=$(now_ms)
    ((t1 - t0 < 5000)) || fail "took $((t1 - t0)) ms"
    assert_equal "$(cat "$TMP/c.err")" "ring_stream: $RING: interrupted (SIGINT) after 0 records"
    assert_regex "$(cat "$TMP/c.out")" "$SUMMARY_RE"
    assert_file_not_exists "$SHM"

    run_bg c ring_stream consume "$RING" --cap 4K --delay 1000 --trace --timeout 10000
    consumer=$BG_PID
    run_bg p ring_stream produce "$RING" -n 100000 -s 100 --cap 4K --timeout 10000
    producer=$BG_PID
    wait_for_content "$TMP/c.out" "record 50 "
    kill -TERM "$(child_pid "$consumer")"
    reap "$consumer"
    assert_equal "$reaped" 143
    out=$(cat "$TMP/c.out")
    n=$(count_of "$out")
    assert_equal "$(cat "$TMP/c.err")" "ring_stream: $RING: terminated (SIGTERM) after $n records"
    assert_equal "$(traced "$out")" "$(seq "$n")"
    # Nobody can take the removed ring over: the producer stops.
    reap "$producer"
    assert_equal "$reaped" 1
    assert_regex "$(cat "$TMP/p.err")" "^ring_stream: $RING: record [0-9]+: the consumer removed the ring \\([0-9]+ sent\\)$"
    assert_regex "$(cat "$TMP/p.out")" "$SUMMARY_RE"
    assert_file_not_exists "$SHM"
}

@test "--timeout: a consumer with no producer exits 3 and removes the ring; a producer with a full ring exits 3" {
    t0=$(now_ms)
    run --separate-stderr timeout 20 ring_stream consume "$RING" --timeout 300
    t1=$(now_ms)
    assert_failure 3
    assert_equal "$stderr" "ring_stream: $RING: no record for 300 ms (0 received): Connection timed out"
    ((t1 - t0 >= 280)) || fail "gave up after $((t1 - t0)) ms"
    ((t1 - t0 < 5000)) || fail "took $((t1 - t0)) ms"
    assert_file_not_exists "$SHM"

    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 1000 -s 100 --cap 4K --timeout 300
    assert_failure 3
    assert_regex "$stderr" "^ring_stream: $RING: record [0-9]+: Connection timed out \\(the ring stayed full for 300 ms\\)$"
    sent=$(count_of "$output")
    ((sent > 0 && sent < 1000)) || fail "sent $sent"
    # What it sent is in the ring, and its close ended the stream.
    run --separate-stderr timeout 20 ring_stream consume "$RING" --expect "$sent" --timeout 10000
    assert_success
    assert_equal "$(count_of "$output")" "$sent"
    assert_file_not_exists "$SHM"
}

@test "--expect: a stream of another length fails with exit 1" {
    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 200 -s 10 --timeout 10000
    run --separate-stderr timeout 20 ring_stream consume "$RING" --expect 201 --timeout 10000
    assert_failure 1
    assert_equal "$stderr" "ring_stream: $RING: the stream ended after 200 records, not 201"
    assert_file_not_exists "$SHM"
}

# ==== rm, names, usage ======================================================

@test "ring_stream rm: removes a ring; a missing one is exit 1 with one line" {
    run --separate-stderr timeout 20 ring_stream produce "$RING" -n 1 --timeout 10000
    assert_file_exists "$SHM"
    run --separate-stderr ring_stream rm "$RING"
    assert_success
    assert_output ""
    assert_equal "$stderr" ""
    assert_file_not_exists "$SHM"
    run --separate-stderr ring_stream rm "$RING"
    assert_failure 1
    assert_output ""
    assert_equal "$stderr" "ring_stream: $RING: No such file or directory"
}

@test "a bad ring name exits 2 with one line, before anything is created" {
    long=/$(printf 'x%.0s' $(seq 300))
    for name in "noslash-$$-$BATS_TEST_NUMBER" "/a/b" "/" "" "$long"; do
        for cmd in produce consume rm; do
            echo "ring_stream $cmd '$name'"
            run --separate-stderr timeout 20 ring_stream "$cmd" "$name"
            assert_failure 2
            assert_output ""
            assert_equal "${#stderr_lines[@]}" 1
            assert_regex "$stderr" "^ring_stream: '.*': (Invalid argument|File name too long) \\(a ring name is '/' and a name without '/', as in /stream\\)$"
        done
    done
    [ ! -e "/dev/shm/noslash-$$-$BATS_TEST_NUMBER" ]
}

@test "ring_stream: --help, and bad usage exits 2 with one line and no ring" {
    for cmd in "--help" "produce --help" "consume -h"; do
        run --separate-stderr ring_stream $cmd
        assert_success
        assert_line --index 0 --regexp '^usage: ring_stream produce NAME'
        assert_equal "$stderr" ""
    done
    for cmd in "" "bogus $RING" "produce" "produce $RING -n x" "produce $RING -s 2G" "produce $RING -s rand:0" \
        "produce $RING --cap 0" "produce $RING --cap 2G" "produce $RING --timeout -1" "produce $RING --trace" "produce $RING extra" \
        "consume $RING -n 0" "consume $RING -s 10" "consume $RING -n 5 --expect 5" "consume $RING --delay x" \
        "consume $RING -n" "rm $RING --keep" "rm"; do
        echo "command: ring_stream $cmd"
        run --separate-stderr timeout 20 ring_stream $cmd
        assert_failure 2
        assert_output ""
        assert_equal "${#stderr_lines[@]}" 1
    done
    assert_file_not_exists "$SHM"
}
