#!/usr/bin/env bats
# Named pipes across processes, through fifo_log: `serve PATH` makes the
# FIFO (0600), reads framed messages from any number of writers and prints
# each on a line; `write PATH MSG...` sends each MSG as one atomic frame
# (ipc_pipe_send_frame: one write of at most PIPE_BUF bytes).
#
# The FIFOs live in a directory of their own (mktemp -d); teardown fails a
# passing test that left a FIFO there: every serve removes its FIFO, and a
# writer that made one and then gave up removes it again.

load helper

setup() {
    require_examples fifo_log
    TMP=$BATS_TEST_TMPDIR
    DIR=$(mktemp -d /tmp/ipc-fifo.XXXXXX)
    FIFO=$DIR/log.fifo
}

teardown() {
    kill_bg
    local left
    left=$(find "$DIR" -mindepth 1 -type p 2>/dev/null)
    rm -rf "$DIR"
    [ -n "${BATS_TEST_COMPLETED:-}" ] || return 0 # after a failure kill_bg may have SIGKILLed a server
    if [ -n "$left" ]; then
        echo "teardown: FIFO left behind: $left" >&2
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

# wait_for_fifo PATH: waits (10 s at most) until PATH is a FIFO.
wait_for_fifo() {
    local tries=200
    until [ -p "$1" ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { fail "$1 never appeared"; return 1; }
        sleep 0.05
    done
}

# "${NOBODY[@]}" CMD...: CMD as uid and gid 65534, no supplementary groups.
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# ==== many writers, one reader ====================================================

@test "5 writers at once, 200 messages of ~3900 bytes each: every message printed intact exactly once" {
    # Each message is close to PIPE_BUF, so a write that was not atomic
    # would interleave with another writer's and show up as damage.
    pad=$(head -c 3880 /dev/zero | tr '\0' x)
    for w in 1 2 3 4 5; do
        seq -f "writer $w message %03g $pad" 200 > "$TMP/w$w.in"
    done
    bg fifo_log serve "$FIFO" -n 1000 --timeout 10000 > "$TMP/out" 2> "$TMP/err"
    server=$BG_PID
    wait_for_fifo "$FIFO"
    pids=()
    for w in 1 2 3 4 5; do
        bg bash -c 'exec fifo_log write "$0" < "$1" 2> "$2"' "$FIFO" "$TMP/w$w.in" "$TMP/w$w.err"
        pids+=("$BG_PID")
    done
    for w in 1 2 3 4 5; do
        wait_exit "${pids[w - 1]}"
        assert_equal "$EXIT" 0
        assert_equal "$(cat "$TMP/w$w.err")" ""
    done
    wait_exit "$server"
    assert_equal "$EXIT" 0
    assert_equal "$(cat "$TMP/err")" ""
    assert_equal "$(wc -l < "$TMP/out")" 1000
    # The same lines, each once...
    cmp <(sort "$TMP"/w?.in) <(sort "$TMP/out")
    # ...and each writer's in its own order.
    for w in 1 2 3 4 5; do
        cmp "$TMP/w$w.in" <(grep "^writer $w " "$TMP/out")
    done
    assert_file_not_exists "$FIFO"
}

@test "every wire format: 3 writers, messages with and without arguments" {
    for c in len32 varint cobs; do
        echo "codec $c"
        bg fifo_log serve "$FIFO" -f "$c" -n 7 --timeout 10000 > "$TMP/out.$c" 2> "$TMP/err.$c"
        server=$BG_PID
        wait_for_fifo "$FIFO"
        run --separate-stderr timeout 20 fifo_log write "$FIFO" -f "$c" "one" "" "two words"
        assert_success
        run --separate-stderr timeout 20 bash -c 'printf "three\nfour\n" | fifo_log write "$0" -f "$1"' "$FIFO" "$c"
        assert_success
        run --separate-stderr timeout 20 fifo_log write "$FIFO" --frame "$c" -- "-five"
        assert_success
        # the 7th message: a writer counts as many as it sends
        run --separate-stderr timeout 20 fifo_log write "$FIFO" -f "$c" six
        assert_success
        wait_exit "$server"
        assert_equal "$EXIT" 0
        assert_equal "$(cat "$TMP/out.$c")" $'one\n\ntwo words\nthree\nfour\n-five\nsix'
        assert_file_not_exists "$FIFO"
    done
}

@test "either side may come first: a writer started before the server makes the FIFO and waits" {
    bg fifo_log write "$FIFO" --timeout 10000 early bird > "$TMP/w.out" 2> "$TMP/w.err"
    writer=$BG_PID
    wait_for_fifo "$FIFO"
    assert_equal "$(stat -c %a "$FIFO")" 600
    run --separate-stderr timeout 20 fifo_log serve "$FIFO" -n 2 --timeout 10000
    assert_success
    assert_output $'early\nbird'
    wait_exit "$writer"
    assert_equal "$EXIT" 0
    assert_file_not_exists "$FIFO"
}

# ==== waits run out ==============================================================

@test "a writer with no reader exits 3 after --timeout, and removes the FIFO it made" {
    t0=$(now_ms)
    run --separate-stderr timeout 20 fifo_log write "$FIFO" --timeout 300 hello
    t1=$(now_ms)
    assert_failure 3
    assert_output ""
    assert_equal "$stderr" "fifo_log: $FIFO: no reader within 300 ms"
    (( t1 - t0 >= 280 && t1 - t0 < 5000 )) || fail "waited $((t1 - t0)) ms"
    assert_file_not_exists "$FIFO"
    # A FIFO that was there before is not the writer's to remove.
    mkfifo -m 600 "$FIFO"
    run --separate-stderr timeout 20 fifo_log write "$FIFO" --timeout 0 hello
    assert_failure 3
    assert_equal "$stderr" "fifo_log: $FIFO: no reader within 0 ms"
    assert [ -p "$FIFO" ]
    rm "$FIFO"
}

@test "serve exits 3 when no message comes for --timeout, 0 on SIGTERM; both remove the FIFO" {
    run --separate-stderr timeout 20 fifo_log serve "$FIFO" --timeout 300
    assert_failure 3
    assert_equal "$stderr" "fifo_log: $FIFO: no message for 300 ms (0 received)"
    assert_file_not_exists "$FIFO"
    bg fifo_log serve "$FIFO" --timeout 10000 > "$TMP/out" 2> "$TMP/err"
    server=$BG_PID
    wait_for_fifo "$FIFO"
    run --separate-stderr timeout 20 fifo_log write "$FIFO" before-term
    assert_success
    wait_for_content "$TMP/out" before-term
    kill -TERM "$server"
    wait_exit "$server"
    assert_equal "$EXIT" 0
    assert_equal "$(cat "$TMP/err")" ""
    assert_file_not_exists "$FIFO"
}

@test "the server goes on across writers coming and going: it never sees end of file" {
    bg fifo_log serve "$FIFO" -n 3 --timeout 10000 > "$TMP/out" 2> "$TMP/err"
    server=$BG_PID
    wait_for_fifo "$FIFO"
    for m in one two three; do
        run --separate-stderr timeout 20 fifo_log write "$FIFO" "$m"
        assert_success
        wait_for_content "$TMP/out" "$m" # the writer has closed; the server is still there
    done
    wait_exit "$server"
    assert_equal "$EXIT" 0
    assert_equal "$(cat "$TMP/out")" $'one\ntwo\nthree'
}

# ==== permissions and clobbering =================================================

@test "the FIFO is 0600 and the caller's under umask 000; another uid cannot open it" {
    chmod 755 "$DIR" # so only the FIFO's own mode is in the way
    bg bash -c 'umask 000; exec fifo_log serve "$0" -n 1 --timeout 10000' "$FIFO" > "$TMP/out" 2> "$TMP/err"
    server=$BG_PID
    wait_for_fifo "$FIFO"
    assert_equal "$(stat -c '%a %u %F' "$FIFO")" "600 $(id -u) fifo"
    if command -v setpriv > /dev/null && [ "$(id -u)" = 0 ]; then
        run --separate-stderr timeout 20 "${NOBODY[@]}" fifo_log write "$FIFO" --timeout 1000 intruder
        assert_failure 1
        assert_equal "$stderr" "fifo_log: $FIFO: Permission denied (a FIFO of another user, or open to more than 0600)"
    fi
    run --separate-stderr timeout 20 fifo_log write "$FIFO" owner
    assert_success
    wait_exit "$server"
    assert_equal "$EXIT" 0
    assert_equal "$(cat "$TMP/out")" owner
}

@test "a FIFO open to others (0666) is refused, not used" {
    mkfifo -m 666 "$FIFO"
    run --separate-stderr timeout 20 fifo_log serve "$FIFO" --timeout 1000
    assert_failure 1
    assert_equal "$stderr" "fifo_log: $FIFO: Permission denied (a FIFO of another user, or open to more than 0600)"
    assert_equal "$(stat -c %a "$FIFO")" 666
    rm "$FIFO"
}

@test "a regular file or a symlink at the path is refused and left unchanged" {
    printf 'precious\n' > "$FIFO"
    chmod 640 "$FIFO"
    before=$(stat -c '%a %s %Y %i' "$FIFO")
    for cmd in "serve $FIFO --timeout 1000" "write $FIFO --timeout 1000 x"; do
        echo "command: fifo_log $cmd"
        run --separate-stderr timeout 20 fifo_log $cmd
        assert_failure 1
        assert_output ""
        assert_equal "$stderr" "fifo_log: $FIFO: File exists (it is not a FIFO: left as it is)"
        assert_equal "$(stat -c '%a %s %Y %i' "$FIFO")" "$before"
        assert_equal "$(cat "$FIFO")" precious
    done
    rm "$FIFO"
    # A symlink to a FIFO elsewhere: not followed, neither is touched.
    mkfifo -m 600 "$TMP/target"
    ln -s "$TMP/target" "$FIFO"
    run --separate-stderr timeout 20 fifo_log serve "$FIFO" --timeout 1000
    assert_failure 1
    assert_equal "$stderr" "fifo_log: $FIFO: File exists (it is not a FIFO: left as it is)"
    assert [ -L "$FIFO" ]
    assert [ -p "$TMP/target" ]
    rm "$FIFO"
}

# ==== limits and usage =============================================================

@test "a message too long for one atomic write is refused before anything is written" {
    bg fifo_log serve "$FIFO" -n 1 --timeout 10000 > "$TMP/out" 2> "$TMP/err"
    server=$BG_PID
    wait_for_fifo "$FIFO"
    big=$(head -c 5000 /dev/zero | tr '\0' y)
    run --separate-stderr timeout 20 fifo_log write "$FIFO" ok "$big" never
    assert_failure 1
    assert_equal "$stderr" "fifo_log: $FIFO: message 2 (5000 bytes): too long for one atomic write of 4096 bytes"
    wait_exit "$server"
    assert_equal "$EXIT" 0
    assert_equal "$(cat "$TMP/out")" ok
}

@test "fifo_log: usage errors exit 2 with one line; --help exits 0" {
    for cmd in "fifo_log" "fifo_log bogus" "fifo_log serve" "fifo_log write" "fifo_log serve /x extra" \
        "fifo_log serve /x -n 0" "fifo_log write /x -n 1" "fifo_log serve /x -f xml" "fifo_log serve /x --bogus" \
        "fifo_log write /x --timeout -1" "fifo_log serve /x -t"; do
        echo "command: $cmd"
        run --separate-stderr $cmd < /dev/null
        assert_failure 2
        assert_output ""
        assert_equal "${#stderr_lines[@]}" 1
    done
    run --separate-stderr fifo_log --help
    assert_success
    assert_line --index 0 --regexp '^usage: fifo_log serve '
}
