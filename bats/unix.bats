#!/usr/bin/env bats
# Unix domain sockets across processes.
# unix_echo serve/client: an echo server on a path or an abstract name,
# many clients at once, peers of another uid refused, a stale socket file
# replaced, a live address never stolen. fd_pass: an open file handed to an
# unprivileged process as a descriptor. pipeline: parent and K stages over
# pipes (ipc_pipe, ipc_reader, ipc_send_frame), every result checked.
#
# Socket files live in a directory of their own (mktemp -d, short enough
# for sun_path's 107 bytes); teardown fails the test if anything is left in
# it, or if a socket under this test's abstract name is still listed in
# /proc/net/unix. Every server runs with --timeout so none outlives a test
# for long; teardown kills what is left.

load helper

setup() {
    require_examples unix_echo fd_pass pipeline
    TMP=$BATS_TEST_TMPDIR
    DIR=$(mktemp -d /tmp/ipc-unix.XXXXXX)
    SOCK=$DIR/echo.sock
    ABS=@ipc-bats-echo-$$-$BATS_TEST_NUMBER
}

teardown() {
    kill_bg
    local problems=() left
    # After a failure kill_bg may have SIGKILLed a server: what it leaves
    # says nothing more. Only a test that passed must have cleaned up.
    left=$(ls -A "$DIR" 2>/dev/null)
    rm -rf "$DIR"
    [ -n "${BATS_TEST_COMPLETED:-}" ] || return 0
    [ -z "$left" ] || problems+=("left behind in $DIR: $left")
    if grep -qF " ${ABS}" /proc/net/unix; then problems+=("abstract socket $ABS still exists"); fi
    if [ "${#problems[@]}" -gt 0 ]; then
        printf 'teardown: %s\n' "${problems[@]}" >&2
        return 1
    fi
}

# wait_exit PID [SECONDS]: waits at most SECONDS (default 20) for a peer
# started with bg to exit, then reaps it: its exit status is in EXIT.
# (kill -0 cannot tell: an exited child stays a zombie until reaped.)
wait_exit() {
    local pid=$1 tries=$((${2:-20} * 20)) state
    while state=$(ps -o stat= -p "$pid") && [[ $state != Z* ]]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { fail "pid $pid still running after ${2:-20} s"; return 1; }
        sleep 0.05
    done
    EXIT=0
    wait "$pid" || EXIT=$?
}

# serve ADDR OUT ERR [OPTIONS...]: unix_echo serve in the background
# (SERVER is its pid), once it listens.
serve() {
    local addr=$1 out=$2 err=$3
    shift 3
    bg unix_echo serve "$addr" --timeout 10000 "$@" > "$out" 2> "$err"
    SERVER=$BG_PID
    wait_for_content "$out" "listening on $addr"
}

has_setpriv() {
    command -v setpriv > /dev/null || skip "setpriv is not installed"
    [ "$(id -u)" = 0 ] || skip "needs root to run a client as uid 65534"
}

# "${NOBODY[@]}" CMD...: CMD as uid and gid 65534, no supplementary groups.
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# ==== unix_echo ================================================================

@test "echo over a path: each MSG comes back in order; the server removes its socket file" {
    serve "$SOCK" "$TMP/out" "$TMP/err" --clients 1
    assert [ -S "$SOCK" ]
    run --separate-stderr timeout 20 unix_echo client "$SOCK" hello "two words" "" last
    assert_success
    assert_output $'hello\ntwo words\n\nlast'
    assert_equal "$stderr" ""
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    assert_file_not_exists "$SOCK"
    run cat "$TMP/out"
    assert_equal "${#lines[@]}" 3
    assert_line --index 0 "listening on $SOCK"
    assert_line --index 1 --regexp "^client pid [0-9]+ uid $(id -u): 4 messages echoed\$"
    assert_line --index 2 "served 1 client"
    assert_equal "$(cat "$TMP/err")" ""
}

@test "echo over an abstract name: no file anywhere, gone with the server" {
    serve "$ABS" "$TMP/out" "$TMP/err" --clients 1
    grep -qF " $ABS" /proc/net/unix
    run --separate-stderr timeout 20 unix_echo client "$ABS" one two
    assert_success
    assert_output $'one\ntwo'
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    assert_file_contains "$TMP/out" "served 1 client"
    ! grep -qF " $ABS" /proc/net/unix
}

@test "each line of stdin is one message, empty lines and a last line without newline included" {
    serve "$SOCK" "$TMP/out" "$TMP/err" --clients 1
    run --separate-stderr timeout 20 bash -c 'printf "a\n\nb b\nc" | unix_echo client "$0"' "$SOCK"
    assert_success
    assert_output $'a\n\nb b\nc'
    seq 1000 > "$TMP/in"
    serve "$SOCK" "$TMP/out2" "$TMP/err2" --clients 1
    run --separate-stderr timeout 20 unix_echo client "$SOCK" < "$TMP/in"
    assert_success
    assert_equal "$output" "$(seq 1000)"
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    assert_file_contains "$TMP/out2" ": 1000 messages echoed"
}

@test "several clients at once: one stays connected and idle while four others stream 500 messages each" {
    serve "$SOCK" "$TMP/out" "$TMP/err" --clients 5
    # Client A sends one line, then waits for its stdin (a FIFO fed by a
    # writer that waits for $TMP/go): a server serving one client at a time
    # would never get to the others.
    mkfifo "$TMP/a.in"
    bg bash -c 'exec 4> "$0"; echo a1 >&4
                for i in $(seq 400); do [ -e "$1" ] && break; sleep 0.05; done
                echo a2 >&4' "$TMP/a.in" "$TMP/go"
    bg bash -c 'exec unix_echo client "$0" < "$1" > "$2" 2> "$3"' "$SOCK" "$TMP/a.in" "$TMP/a.out" "$TMP/a.err"
    a=$BG_PID
    wait_for_content "$TMP/a.out" a1
    pids=()
    for c in 1 2 3 4; do
        seq -f "client $c line %g" 500 > "$TMP/$c.in"
        bg bash -c 'exec unix_echo client "$0" < "$1" > "$2" 2> "$3"' "$SOCK" "$TMP/$c.in" "$TMP/$c.out" "$TMP/$c.err"
        pids+=("$BG_PID")
    done
    for c in 1 2 3 4; do
        wait_exit "${pids[c - 1]}"
        assert_equal "$EXIT" 0
        cmp "$TMP/$c.in" "$TMP/$c.out"
        assert_equal "$(cat "$TMP/$c.err")" ""
    done
    # A was connected all along, and is still served.
    state=$(ps -o stat= -p "$a") && [[ $state != Z* ]] || fail "client A is gone"
    touch "$TMP/go"
    wait_exit "$a"
    assert_equal "$EXIT" 0
    assert_equal "$(cat "$TMP/a.out")" $'a1\na2'
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    assert_equal "$(grep -c ': 500 messages echoed$' "$TMP/out")" 4
    assert_equal "$(grep -c ': 2 messages echoed$' "$TMP/out")" 1
    assert_file_contains "$TMP/out" "served 5 clients"
    assert_equal "$(cat "$TMP/err")" ""
}

@test "a client of another uid is refused with one line on stderr; the next honest client is served" {
    has_setpriv
    # An abstract name has no file permissions: anyone may connect, and
    # SO_PEERCRED is what keeps them out.
    serve "$ABS" "$TMP/out" "$TMP/err" --clients 1
    run --separate-stderr timeout 20 "${NOBODY[@]}" unix_echo client "$ABS" secret
    assert_failure 1
    assert_output ""
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" "^unix_echo: $ABS: the server closed the connection before echoing message 1"
    wait_for_content "$TMP/err" "refused peer"
    run --separate-stderr timeout 20 unix_echo client "$ABS" honest
    assert_success
    assert_output honest
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    run cat "$TMP/err"
    assert_equal "${#lines[@]}" 1
    assert_regex "$output" '^unix_echo: refused peer pid [0-9]+ uid 65534$'
    assert_file_contains "$TMP/out" "served 1 client"
    refute grep -q 'uid 65534:' "$TMP/out"
}

@test "--allow-uid 65534 lets that uid in" {
    has_setpriv
    serve "$ABS" "$TMP/out" "$TMP/err" --clients 1 --allow-uid 65534
    run --separate-stderr timeout 20 "${NOBODY[@]}" unix_echo client "$ABS" hi
    assert_success
    assert_output hi
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    assert_regex "$(cat "$TMP/out")" 'client pid [0-9]+ uid 65534: 1 messages echoed'
    assert_equal "$(cat "$TMP/err")" ""
}

@test "a path socket is made 0600 even under umask 000: another uid cannot connect (EACCES)" {
    has_setpriv
    chmod 755 "$DIR" # so only the socket file's own mode is in the way
    bg bash -c 'umask 000; exec unix_echo serve "$0" --timeout 10000 --clients 1' "$SOCK" > "$TMP/out" 2> "$TMP/err"
    SERVER=$BG_PID
    wait_for_content "$TMP/out" "listening on"
    assert_equal "$(stat -c '%a %u %F' "$SOCK")" "600 $(id -u) socket"
    run --separate-stderr timeout 20 "${NOBODY[@]}" unix_echo client "$SOCK" --timeout 2000 hi
    assert_failure 1
    assert_equal "$stderr" "unix_echo: $SOCK: Permission denied"
    assert_equal "$(cat "$TMP/err")" "" # the server never heard of it
    run --separate-stderr timeout 20 unix_echo client "$SOCK" ok
    assert_success
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
}

@test "a peer sending a malformed or oversized frame is dropped with one line; the others are served" {
    command -v python3 > /dev/null || skip "python3 is not installed"
    serve "$SOCK" "$TMP/out" "$TMP/err" --clients 3
    # FF FF FF FF: a LEN32 length over 2^31-1; 00 20 00 00: 2 MiB, over the
    # server's 1 MiB limit (refused from the header alone).
    for hdr in 'ffffffff' '00200000'; do
        run timeout 20 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(bytes.fromhex(sys.argv[2]) + b"junk")
print("closed" if s.recv(1) == b"" else "answered")' "$SOCK" "$hdr"
        assert_output closed
    done
    run --separate-stderr timeout 20 unix_echo client "$SOCK" honest
    assert_success
    assert_output honest
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    run cat "$TMP/err"
    assert_equal "${#lines[@]}" 2
    assert_line --index 0 --regexp "^unix_echo: $SOCK: client pid [0-9]+ uid $(id -u) dropped: request 1: malformed frame"
    assert_line --index 1 --regexp "^unix_echo: $SOCK: client pid [0-9]+ uid $(id -u) dropped: request 1: frame longer than the limit"
}

@test "a client that never reads its echoes holds up nobody else; Python's multiprocessing speaks LEN32" {
    command -v python3 > /dev/null || skip "python3 is not installed"
    serve "$SOCK" "$TMP/out" "$TMP/err" --clients 3
    # 100 frames of 64 KiB, never reading: the echoes fill the socket and
    # then this client's 256 KiB queue in the server, and it blocks in send.
    bg python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print("connected", flush=True)
for i in range(100):
    s.sendall(struct.pack(">I", 65536) + bytes(65536))
print("all sent", flush=True)' "$SOCK" > "$TMP/hog.out"
    hog=$BG_PID
    wait_for_content "$TMP/hog.out" connected
    sleep 0.5
    run --separate-stderr timeout 20 unix_echo client "$SOCK" --timeout 5000 "not held up"
    assert_success
    assert_output "not held up"
    refute grep -q "all sent" "$TMP/hog.out" # it is still blocked: the server stopped reading it
    # multiprocessing.connection's send_bytes/recv_bytes are LEN32 frames.
    run timeout 20 python3 -c '
import sys
from multiprocessing.connection import Client
c = Client(sys.argv[1], family="AF_UNIX")
c.send_bytes(b"from python")
print(c.recv_bytes().decode())' "$SOCK"
    assert_success
    assert_output "from python"
    kill -KILL "$hog"
    wait_exit "$hog"
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    assert_file_contains "$TMP/out" "served 3 clients"
}

@test "out of descriptors: accept pauses (one line, no spinning) and the waiting client is served later" {
    # RLIMIT_NOFILE 8: stdin, stdout, stderr, the listener, and room for a
    # few clients (fewer if bats hands the server descriptors of its own).
    # Clients connect and stay until $TMP/go, one at a time, until one is
    # left waiting in the backlog: accept said EMFILE.
    bg bash -c 'ulimit -n 8; exec unix_echo serve "$0" --timeout 10000' "$SOCK" > "$TMP/out" 2> "$TMP/err"
    SERVER=$BG_PID
    wait_for_content "$TMP/out" "listening on"
    pids=()
    for c in $(seq 8); do
        mkfifo "$TMP/$c.in"
        bg bash -c 'exec 4> "$0"; echo first >&4
                    for i in $(seq 400); do [ -e "$1" ] && break; sleep 0.05; done
                    echo second >&4' "$TMP/$c.in" "$TMP/go"
        bg bash -c 'exec unix_echo client "$0" --timeout 15000 < "$1" > "$2"' "$SOCK" "$TMP/$c.in" "$TMP/$c.out"
        pids+=("$BG_PID")
        for i in $(seq 200); do
            grep -q first "$TMP/$c.out" && break
            grep -q "Too many open files" "$TMP/err" && break 2
            sleep 0.05
        done
        grep -q first "$TMP/$c.out" || fail "client $c neither served nor refused for lack of descriptors"
    done
    grep -q "Too many open files" "$TMP/err" || fail "accept never ran out of descriptors"
    n=${#pids[@]}
    ticks0=$(awk '{ print $14 + $15 }' "/proc/$SERVER/stat")
    sleep 1
    ticks1=$(awk '{ print $14 + $15 }' "/proc/$SERVER/stat")
    (( ticks1 - ticks0 < 20 )) || fail "the server used $((ticks1 - ticks0)) clock ticks of CPU in 1 s while waiting"
    assert_equal "$(cat "$TMP/$n.out")" "" # the last one is still waiting
    touch "$TMP/go"
    for c in $(seq "$n"); do
        wait_exit "${pids[c - 1]}"
        assert_equal "$EXIT" 0
        assert_equal "$(cat "$TMP/$c.out")" $'first\nsecond'
    done
    kill -TERM "$SERVER"
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    assert_file_contains "$TMP/out" "served $n clients"
    run cat "$TMP/err"
    assert_output "unix_echo: $SOCK: accept: Too many open files (trying again every 100 ms)"
}

@test "a stale socket file from a SIGKILLed server is replaced on restart" {
    serve "$SOCK" "$TMP/out" "$TMP/err"
    kill -KILL "$SERVER"
    wait_exit "$SERVER"
    assert [ -S "$SOCK" ] # left behind: nobody listens
    serve "$SOCK" "$TMP/out2" "$TMP/err2" --clients 1
    run --separate-stderr timeout 20 unix_echo client "$SOCK" again
    assert_success
    assert_output again
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    assert_equal "$(cat "$TMP/err2")" ""
    assert_file_not_exists "$SOCK"
}

@test "a second server on a live address fails with EADDRINUSE naming it; the first is untouched" {
    for addr in "$SOCK" "$ABS"; do
        echo "address $addr"
        serve "$addr" "$TMP/out" "$TMP/err"
        first=$SERVER
        run --separate-stderr timeout 20 unix_echo serve "$addr" --timeout 2000
        assert_failure 1
        assert_output ""
        assert_equal "$stderr" "unix_echo: $addr: Address already in use"
        run --separate-stderr timeout 20 unix_echo client "$addr" still-here
        assert_success
        assert_output still-here
        # SIGTERM: a clean stop, the socket file removed.
        kill -TERM "$first"
        wait_exit "$first"
        assert_equal "$EXIT" 0
        assert_file_contains "$TMP/out" "served "
        assert_file_not_exists "$SOCK"
    done
}

@test "a non-socket at the path is refused and left as it is" {
    echo precious > "$SOCK"
    run --separate-stderr timeout 20 unix_echo serve "$SOCK" --timeout 1000
    assert_failure 1
    assert_equal "$stderr" "unix_echo: $SOCK: File exists"
    assert_equal "$(cat "$SOCK")" precious
    rm "$SOCK"
}

@test "SIGINT stops the server cleanly; an idle server stops with exit 3 after --timeout; both remove the file" {
    serve "$SOCK" "$TMP/out" "$TMP/err"
    kill -INT "$SERVER"
    wait_exit "$SERVER"
    assert_equal "$EXIT" 0
    assert_file_not_exists "$SOCK"
    run --separate-stderr timeout 20 unix_echo serve "$SOCK" --timeout 300
    assert_failure 3
    assert_equal "$stderr" "unix_echo: $SOCK: nothing happened for 300 ms (0 clients served)"
    assert_file_not_exists "$SOCK"
}

@test "a client may start before its server; with no server at all it exits 3 after --timeout" {
    bg bash -c 'exec unix_echo client "$0" --timeout 10000 early > "$1" 2>&1' "$SOCK" "$TMP/c.out"
    client=$BG_PID
    sleep 0.2
    serve "$SOCK" "$TMP/out" "$TMP/err" --clients 1
    wait_exit "$client"
    assert_equal "$EXIT" 0
    assert_equal "$(cat "$TMP/c.out")" early
    wait_exit "$SERVER"
    t0=$(now_ms)
    run --separate-stderr timeout 20 unix_echo client "$DIR/nobody.sock" --timeout 300 x
    t1=$(now_ms)
    assert_failure 3
    assert_equal "$stderr" "unix_echo: $DIR/nobody.sock: no server within 300 ms"
    (( t1 - t0 >= 280 && t1 - t0 < 5000 )) || fail "waited $((t1 - t0)) ms"
}

@test "unix_echo: usage errors exit 2 with one line" {
    for cmd in "unix_echo" "unix_echo bogus" "unix_echo serve" "unix_echo client" \
        "unix_echo serve @" "unix_echo serve /x --clients 0" "unix_echo client /x --clients 1" \
        "unix_echo serve /x --bogus" "unix_echo serve /x extra" "unix_echo client /x --timeout -1" \
        "unix_echo serve /$(printf 'a%.0s' {1..120})"; do
        echo "command: $cmd"
        run --separate-stderr $cmd < /dev/null
        assert_failure 2
        assert_output ""
        assert_equal "${#stderr_lines[@]}" 1
    done
    run --separate-stderr unix_echo --help
    assert_success
    assert_line --index 0 --regexp '^usage: unix_echo serve '
}

# ==== fd_pass ====================================================================

@test "fd_pass: an unprivileged receiver reads a 0600 root file through the passed descriptor" {
    [ "$(id -u)" = 0 ] || skip "needs root to drop the receiver to uid 65534"
    chmod 755 "$DIR" # the file's own mode is what stops the receiver
    { echo "first line"; printf 'bin\0ary\n'; head -c 5000 /dev/urandom; } > "$DIR/secret"
    chmod 600 "$DIR/secret"
    size=$(stat -c %s "$DIR/secret")
    run --separate-stderr timeout 20 fd_pass "$DIR/secret"
    assert_success
    # stdout is the file, byte for byte ($output drops NULs: compare files).
    timeout 20 fd_pass "$DIR/secret" 2> /dev/null > "$TMP/copy"
    cmp "$DIR/secret" "$TMP/copy"
    assert_regex "$stderr" "fd_pass: receiver pid [0-9]+ runs as uid 65534 gid 65534"
    assert_regex "$stderr" "fd_pass: receiver cannot open $DIR/secret by its path: Permission denied"
    assert_regex "$stderr" "fd_pass: the sender is pid [0-9]+ uid 0 gid 0 \\(SO_PEERCRED\\)"
    assert_regex "${stderr_lines[-1]}" "^fd_pass: received fd [0-9]+ \\(close-on-exec\\), read $size bytes$"
    rm "$DIR/secret"
}

@test "fd_pass: a file the receiver could read anyway is passed the same; a missing file exits 1" {
    echo "public" > "$DIR/public"
    chmod 644 "$DIR/public"
    chmod 755 "$DIR"
    run --separate-stderr timeout 20 fd_pass "$DIR/public"
    assert_success
    assert_output public
    assert_regex "$stderr" "could open $DIR/public by its path too"
    assert_regex "${stderr_lines[-1]}" '^fd_pass: received fd [0-9]+ \(close-on-exec\), read 7 bytes$'
    rm "$DIR/public"
    run --separate-stderr timeout 20 fd_pass "$DIR/missing"
    assert_failure 1
    assert_output ""
    assert_equal "$stderr" "fd_pass: $DIR/missing: No such file or directory"
    run --separate-stderr fd_pass
    assert_failure 2
}

# ==== pipeline ===================================================================

@test "pipeline: every codec, 1, 3 and 8 stages: all checked" {
    for c in len32 varint cobs; do
        for k in 1 3 8; do
            echo "codec $c, $k stages"
            run --separate-stderr timeout 20 pipeline --codec "$c" --stages "$k" -n 2000
            assert_success
            assert_output "pipeline: $k stage$([ "$k" = 1 ] || echo s), 2000 messages, all checked"
            assert_equal "$stderr" ""
        done
    done
}

@test "pipeline: one-page pipes (--pipe-size 4096) get a window of one message and still finish" {
    run --separate-stderr timeout 20 pipeline --stages 4 -n 500 --pipe-size 4096 -v -f cobs
    assert_success
    assert_line "pipe 0 (parent -> stage 1): capacity 4096 bytes"
    assert_line "pipe 4 (stage 4 -> parent): capacity 4096 bytes"
    assert_line --regexp '^window: 1 messages in flight'
    assert_line "pipeline: 4 stages, 500 messages, all checked"
    run --separate-stderr timeout 20 pipeline --stages 2 -n 500 --pipe-size 5000 -v
    assert_success
    assert_line "pipe 1 (stage 1 -> stage 2): capacity 8192 bytes" # rounded up to a power of two of pages
}

@test "pipeline: a stage killed mid-stream is named, and the parent exits 1" {
    bg pipeline --stages 3 -n 100000000 > "$TMP/out" 2> "$TMP/err"
    parent=$BG_PID
    stage=
    for i in $(seq 200); do
        stage=$(ps -o pid= --ppid "$parent" | sed -n 2p | tr -d ' ')
        [ -n "$stage" ] && break
        sleep 0.05
    done
    [[ $stage =~ ^[0-9]+$ ]] && [ "$stage" -gt 1 ] || fail "no stage 2 found"
    kill -KILL "$stage"
    wait_exit "$parent"
    assert_equal "$EXIT" 1
    assert_equal "$(cat "$TMP/out")" ""
    assert_file_contains "$TMP/err" "^pipeline: stage [123] died of signal 9$"
}

@test "pipeline: usage errors exit 2 with one line" {
    for cmd in "pipeline -n 0" "pipeline --stages 0" "pipeline --stages 33" "pipeline --codec xml" \
        "pipeline --bogus" "pipeline extra" "pipeline -n"; do
        echo "command: $cmd"
        run --separate-stderr $cmd
        assert_failure 2
        assert_output ""
        assert_equal "${#stderr_lines[@]}" 1
    done
}
