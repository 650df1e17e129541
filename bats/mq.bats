#!/usr/bin/env bats
# The two kernel message queues, across processes.
# System V: sysv_dispatch sends self-checking jobs (message type = worker
# number) and a stop per worker; sysv_worker takes only its own type, checks
# each job and acknowledges. POSIX: mq_log is a priority logger (send, recv,
# stat, rm) on one named queue.
#
# No test may leave a queue behind: teardown compares `ipcs -q` with what it
# was before the test, and fails the test (after removing them) if a queue
# of this test is still there: one under this test's key, or one whose id a
# dispatcher of this test printed. (Other queues may come and go meanwhile:
# another suite's IPC_PRIVATE queues are not ours, so the listings are not
# compared line for line.) The POSIX queue name must be gone too (checked by
# opening it: /dev/mqueue need not be mounted), and /dev/mqueue, where it is
# mounted, must list what it did before.

load helper

setup() {
    require_examples sysv_dispatch sysv_worker mq_log
    TMP=$BATS_TEST_TMPDIR
    KEYFILE=$TMP/jobs.key # the System V key is ftok(KEYFILE, 'J')
    touch "$KEYFILE"
    KEY=$(ftok_key "$KEYFILE" 0x4a)
    MQ=/ipc-bats.$BATS_ROOT_PID.$BATS_TEST_NUMBER # the POSIX queue of this test
    QUEUES_BEFORE=$(sysv_queues)
    MQUEUE_BEFORE=$(mqueue_listing)
}

teardown() {
    kill_bg
    local problems=() key id ours
    # Every id a dispatcher printed, in `run` output (queue_id) or in a file.
    ours=$(cat "$TMP/queue-ids" 2>/dev/null; cat "$TMP"/*.out 2>/dev/null | sed -n 's/^queue \([0-9][0-9]*\) (.*/\1/p')
    while read -r key id; do
        [ -n "$id" ] || continue
        [ "$key" = "$KEY" ] || grep -qx "$id" <<< "$ours" || continue
        problems+=("System V queue $id (key $key) left behind")
        ipcrm -q "$id" || true
    done < <(comm -13 <(echo "$QUEUES_BEFORE") <(sysv_queues))
    if ! mq_gone "$MQ"; then
        problems+=("POSIX queue $MQ left behind")
        mq_log rm "$MQ" || true
    fi
    [ "$(mqueue_listing)" = "$MQUEUE_BEFORE" ] || problems+=("/dev/mqueue changed: $(mqueue_listing)")
    if [ "${#problems[@]}" -gt 0 ]; then
        printf 'teardown: %s\n' "${problems[@]}" >&2
        return 1
    fi
}

# ftok_key PATH PROJ: glibc's ftok, as ipcs prints it: proj in the top
# byte, then the low 8 bits of the device and the low 16 of the inode.
ftok_key() {
    local dev ino
    read -r dev ino < <(stat -c '%d %i' "$1")
    printf '0x%08x\n' $((($2 & 0xff) << 24 | (dev & 0xff) << 16 | (ino & 0xffff)))
}

# "key id" of every System V queue, sorted.
sysv_queues() {
    ipcs -q | awk '$1 ~ /^0x/ { print $1, $2 }' | sort
}

# The POSIX queues, where /dev/mqueue is mounted (nothing otherwise).
mqueue_listing() {
    if mountpoint -q /dev/mqueue 2>/dev/null; then ls -A /dev/mqueue; fi
}

# mq_gone NAME: succeeds when no POSIX queue has that name (it cannot be
# opened: ENOENT). Works without /dev/mqueue.
mq_gone() {
    local err
    if err=$(mq_log stat "$1" 2>&1 >/dev/null); then return 1; fi
    [[ $err == *"No such file or directory"* ]]
}

# sysv_gone ID: succeeds when ID is a number and no System V queue has it.
sysv_gone() {
    [[ $1 =~ ^[0-9]+$ ]] || { echo "sysv_gone: no queue id ('$1')"; return 1; }
    ! ipcs -q | awk '$1 ~ /^0x/ { print $2 }' | grep -qx "$1"
}

# The queue id in sysv_dispatch's first line, "queue ID (...): ...";
# remembered for teardown.
queue_id() {
    local id
    id=$(sed -n '1s/^queue \([0-9][0-9]*\) (.*/\1/p' <<< "$1")
    echo "$id" >> "$TMP/queue-ids"
    echo "$id"
}

# jobs_of W TEXT: the job numbers worker W reported ok, in the order printed.
jobs_of() {
    grep -E "^worker $1 job [0-9]+ ok$" <<< "$2" | awk '{ print $4 }'
}

# ==== System V: sysv_dispatch and sysv_worker ================================

@test "forked workers: each of 3 gets exactly its own 10 jobs, in order, and the queue is removed" {
    run --separate-stderr timeout 20 sysv_dispatch -w 3 -n 30 --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 --regexp '^queue [0-9]+ \(private\): 30 jobs of 100 bytes for 3 forked workers$'
    for w in 1 2 3; do
        assert_equal "$(jobs_of $w "$output")" "$(seq 10)"
        assert_line "worker $w acknowledged 10 of 10 jobs"
    done
    assert_equal "$(grep -c ' job .* ok$' <<< "$output")" 30
    id=$(queue_id "$output")
    assert_line "queue $id removed"
    sysv_gone "$id"
}

@test "forked workers: 31 jobs split 11, 10, 10; -q gives one summary line per worker" {
    run --separate-stderr timeout 20 sysv_dispatch -w 3 -n 31 -q --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    assert_line "worker 1: 11 of 11 jobs ok"
    assert_line "worker 2: 10 of 10 jobs ok"
    assert_line "worker 3: 10 of 10 jobs ok"
    assert_line "worker 1 acknowledged 11 of 11 jobs"
    refute_line --regexp ' job [0-9]+ ok$'
}

@test "backpressure: 3000 jobs of 1000 bytes through a queue of kernel.msgmnb bytes" {
    # 3000 x 1016 bytes is about 190 times what the queue holds (16 KiB).
    run --separate-stderr timeout 25 sysv_dispatch -w 3 -n 3000 -s 1000 -q --timeout 10000
    assert_success
    assert_equal "$stderr" ""
    for w in 1 2 3; do
        assert_line "worker $w: 1000 of 1000 jobs ok"
        assert_line "worker $w acknowledged 1000 of 1000 jobs"
    done
}

@test "separate workers started before the dispatcher wait for the queue, take their own jobs and acknowledge" {
    for w in 1 2 3; do
        bg sysv_worker --timeout 10000 "$KEYFILE" "$w" > "$TMP/w$w.out" 2> "$TMP/w$w.err"
        worker_pid[w]=$BG_PID
    done
    run --separate-stderr timeout 20 sysv_dispatch -w 3 -n 30 --timeout 10000 "$KEYFILE"
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 --regexp "^queue [0-9]+ \\(key $KEY, $KEYFILE\\): 30 jobs of 100 bytes for 3 workers$"
    for w in 1 2 3; do
        assert_line "worker $w acknowledged 10 of 10 jobs"
        status=0
        wait "${worker_pid[w]}" || status=$?
        assert_equal "$status" 0
        assert_equal "$(jobs_of $w "$(cat "$TMP/w$w.out")")" "$(seq 10)"
        assert_equal "$(wc -l < "$TMP/w$w.out")" 10 # nothing but its own jobs
        assert_equal "$(cat "$TMP/w$w.err")" ""
    done
    sysv_gone "$(queue_id "$output")"
}

@test "separate workers started after the dispatcher: the queue holds their jobs until they come" {
    bg sysv_dispatch -w 3 -n 30 --timeout 10000 "$KEYFILE" > "$TMP/d.out" 2> "$TMP/d.err"
    dispatcher=$BG_PID
    wait_for_content "$TMP/d.out" "queue "
    for w in 3 1 2; do # one after the other, in any order: every job is already queued
        run --separate-stderr timeout 10 sysv_worker -q --timeout 10000 "$KEYFILE" "$w"
        assert_success
        assert_output "worker $w: 10 of 10 jobs ok"
        assert_equal "$stderr" ""
    done
    status=0
    wait "$dispatcher" || status=$?
    assert_equal "$status" 0
    assert_equal "$(grep -c 'acknowledged 10 of 10 jobs' "$TMP/d.out")" 3
    assert_equal "$(cat "$TMP/d.err")" ""
    sysv_gone "$(queue_id "$(cat "$TMP/d.out")")"
}

@test "a worker that never comes: the dispatcher exits 3 and removes the queue; a waiting worker wakes with EIDRM" {
    # Workers 1, 3 and 4 for a dispatch to workers 1 and 2: 2 never
    # acknowledges; 3 and 4 wait for jobs that never come, 3 blocked in
    # msgrcv (no timeout), 4 polling (a finite timeout).
    bg sysv_worker --timeout 10000 "$KEYFILE" 1 > "$TMP/w1.out" 2> "$TMP/w1.err"
    w1=$BG_PID
    bg sysv_worker "$KEYFILE" 3 > "$TMP/w3.out" 2> "$TMP/w3.err"
    w3=$BG_PID
    bg sysv_worker --timeout 10000 "$KEYFILE" 4 > "$TMP/w4.out" 2> "$TMP/w4.err"
    w4=$BG_PID
    run --separate-stderr timeout 20 sysv_dispatch -w 2 -n 6 --timeout 500 "$KEYFILE"
    assert_failure 3
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" '^sysv_dispatch: no acknowledgement from worker 2 \(1 of 2 in\): Connection timed out$'
    id=$(queue_id "$output")
    assert_line "queue $id removed"
    sysv_gone "$id"
    status=0
    wait "$w1" || status=$?
    assert_equal "$status" 0
    assert_equal "$(jobs_of 1 "$(cat "$TMP/w1.out")")" "$(seq 3)"
    status=0
    wait "$w3" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$TMP/w3.out")" ""
    assert_equal "$(cat "$TMP/w3.err")" "sysv_worker: worker 3: queue $id: Identifier removed (removed while we waited)"
    status=0
    wait "$w4" || status=$?
    assert_equal "$status" 1
    assert_equal "$(cat "$TMP/w4.err")" "sysv_worker: worker 4: queue $id: Identifier removed (removed while we waited)"
}

@test "a worker with no dispatcher: --timeout exits 3 and creates nothing" {
    t0=$(now_ms)
    run --separate-stderr timeout 10 sysv_worker --timeout 300 "$KEYFILE" 1
    t1=$(now_ms)
    assert_failure 3
    assert_output ""
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" "^sysv_worker: worker 1: no queue with key $KEY \\($KEYFILE\\): Connection timed out$"
    ((t1 - t0 >= 280)) || fail "gave up after $((t1 - t0)) ms"
}

@test "a dispatcher whose workers never come: a full queue and --timeout give exit 3" {
    # 100 jobs of 1000 bytes do not fit in 16 KiB: the dispatcher waits for
    # room that nobody makes.
    run --separate-stderr timeout 10 sysv_dispatch -w 2 -n 100 -s 1000 --timeout 300 "$KEYFILE"
    assert_failure 3
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" '^sysv_dispatch: job [0-9]+ for worker [12]: Connection timed out \(the queue stayed full for 300 ms\)$'
    sysv_gone "$(queue_id "$output")"
}

@test "a key whose queue exists already is refused, and that queue is left alone" {
    bg sysv_dispatch -w 1 -n 2 --timeout 10000 "$KEYFILE" > "$TMP/d.out" 2> "$TMP/d.err"
    first=$BG_PID
    wait_for_content "$TMP/d.out" "queue "
    run --separate-stderr timeout 10 sysv_dispatch -w 1 -n 2 --timeout 1000 "$KEYFILE"
    assert_failure 1
    assert_output ""
    assert_equal "$stderr" "sysv_dispatch: key $KEY: File exists (another run's queue, or a leftover: see ipcs -q)"
    # The first run's queue is still there and its run completes.
    run --separate-stderr timeout 10 sysv_worker -q --timeout 10000 "$KEYFILE" 1
    assert_success
    assert_output "worker 1: 2 of 2 jobs ok"
    status=0
    wait "$first" || status=$?
    assert_equal "$status" 0
}

@test "a forked worker that cannot start: its exit status is reported and the queue removed" {
    # sysv_dispatch alone in a directory, and no sysv_worker on PATH.
    mkdir "$TMP/alone"
    cp "$IPC_EXAMPLES/sysv_dispatch" "$TMP/alone/"
    run --separate-stderr env PATH=/usr/bin:/bin timeout 10 "$TMP/alone/sysv_dispatch" -w 2 -n 4
    assert_failure 1
    [[ $stderr == *"sysv_dispatch: worker 1: cannot run sysv_worker: No such file or directory"* ]]
    [[ $stderr == *"sysv_dispatch: worker 1 failed (exit status 127)"* ]]
    [[ $stderr == *"sysv_dispatch: worker 2 failed (exit status 127)"* ]]
    sysv_gone "$(queue_id "$output")"
}

@test "a forked worker that dies while the queue is full stops the dispatch at once, with no --timeout" {
    mkdir "$TMP/alone"
    cp "$IPC_EXAMPLES/sysv_dispatch" "$TMP/alone/"
    t0=$(now_ms)
    run --separate-stderr env PATH=/usr/bin:/bin timeout 10 "$TMP/alone/sysv_dispatch" -w 2 -n 100 -s 1000
    t1=$(now_ms)
    assert_failure 1
    assert_regex "$stderr" 'sysv_dispatch: worker [12] ended before its stop message \(exit status 127\)'
    ((t1 - t0 < 5000)) || fail "took $((t1 - t0)) ms"
    sysv_gone "$(queue_id "$output")"
}

@test "a job over kernel.msgmax: a clear error naming the limit, and the queue removed" {
    msgmax=$(cat /proc/sys/kernel/msgmax)
    size=$((msgmax + 1 - 16)) # 16: the job header
    ((size <= 65520)) || skip "kernel.msgmax is $msgmax: above what a worker takes"
    run --separate-stderr timeout 10 sysv_dispatch -w 1 -n 1 -s "$size" --timeout 5000
    assert_failure 1
    assert_equal "${#stderr_lines[@]}" 1
    assert_equal "$stderr" "sysv_dispatch: job 1 for worker 1 ($((msgmax + 1)) bytes): System V message over the system limit (/proc/sys/kernel/msgmax)"
    sysv_gone "$(queue_id "$output")"
}

@test "a key path that does not exist, a queue id that does not: exit 1 with the error" {
    run --separate-stderr sysv_dispatch "$TMP/nonexistent"
    assert_failure 1
    assert_output ""
    assert_equal "$stderr" "sysv_dispatch: $TMP/nonexistent: No such file or directory"
    run --separate-stderr sysv_worker --timeout 100 "$TMP/nonexistent" 1
    assert_failure 1
    assert_equal "$stderr" "sysv_worker: worker 1: $TMP/nonexistent: No such file or directory"
    run --separate-stderr sysv_worker --id 2147483646 1
    assert_failure 1
    assert_equal "$stderr" "sysv_worker: worker 1: queue 2147483646: Invalid argument"
}

@test "sysv_dispatch and sysv_worker: --help, and bad usage exits 2 with one line" {
    for p in sysv_dispatch sysv_worker; do
        run --separate-stderr "$p" --help
        assert_success
        assert_line --index 0 --regexp "^usage: $p "
        assert_equal "$stderr" ""
    done
    for cmd in "sysv_dispatch -w 0" "sysv_dispatch -w 1001" "sysv_dispatch -n abc" "sysv_dispatch -s 65521" \
        "sysv_dispatch --timeout -1" "sysv_dispatch --bogus" "sysv_dispatch -w" "sysv_dispatch $KEYFILE extra" \
        "sysv_worker" "sysv_worker $KEYFILE" "sysv_worker $KEYFILE 0" "sysv_worker $KEYFILE 1001" \
        "sysv_worker $KEYFILE x" "sysv_worker --id 5" "sysv_worker --id x 1" "sysv_worker --id 5 $KEYFILE 1" \
        "sysv_worker --timeout" "sysv_worker -x $KEYFILE 1"; do
        echo "command: $cmd"
        run --separate-stderr $cmd
        assert_failure 2
        assert_output ""
        assert_equal "${#stderr_lines[@]}" 1
    done
}

# ==== POSIX: mq_log ==========================================================

@test "mq_log: highest priority first, and in order within a priority" {
    mq_log send "$MQ" a0-1
    mq_log send "$MQ" --prio 5 b5-1
    mq_log send "$MQ" a0-2 a0-3
    mq_log send "$MQ" --prio 32767 top
    mq_log send "$MQ" -p 5 b5-2
    mq_log send "$MQ" --prio 1 c1-1
    mq_log send "$MQ" --prio 5 b5-3 b5-4
    run --separate-stderr mq_log recv "$MQ" --unlink
    assert_success
    assert_equal "$stderr" ""
    assert_output "32767 top
5 b5-1
5 b5-2
5 b5-3
5 b5-4
1 c1-1
0 a0-1
0 a0-2
0 a0-3"
    mq_gone "$MQ"
}

@test "mq_log stat: curmsgs, maxmsg and msgsize, before and after a receive" {
    mq_log send "$MQ" one two three
    run --separate-stderr mq_log stat "$MQ"
    assert_success
    assert_output $'curmsgs 3\nmaxmsg 10\nmsgsize 8192'
    run --separate-stderr mq_log recv "$MQ" -n 2
    assert_output $'0 one\n0 two'
    run mq_log stat "$MQ"
    assert_line "curmsgs 1"
    run --separate-stderr mq_log rm "$MQ"
    assert_success
    assert_output ""
    mq_gone "$MQ"
    run --separate-stderr mq_log stat "$MQ"
    assert_failure 1
    assert_equal "$stderr" "mq_log: $MQ: No such file or directory"
    run --separate-stderr mq_log rm "$MQ"
    assert_failure 1
    assert_equal "$stderr" "mq_log: $MQ: No such file or directory"
}

@test "mq_log: --maxmsg and --msgsize shape a new queue" {
    mq_log send "$MQ" --maxmsg 3 --msgsize 64 x
    run mq_log stat "$MQ"
    assert_output $'curmsgs 1\nmaxmsg 3\nmsgsize 64'
    mq_log rm "$MQ"
}

@test "mq_log recv -n waits for messages sent later, and may start before the queue exists" {
    bg mq_log recv "$MQ" -n 4 --timeout 10000 --unlink > "$TMP/out" 2> "$TMP/err"
    receiver=$BG_PID
    mq_log send "$MQ" first
    mq_log send "$MQ" --prio 3 second third
    mq_log send "$MQ" fourth
    status=0
    wait "$receiver" || status=$?
    assert_equal "$status" 0
    assert_equal "$(cat "$TMP/err")" ""
    assert_equal "$(wc -l < "$TMP/out")" 4
    # Each arrived while the receiver waited, or was queued with the others:
    # every message once; the two of priority 3 in their order.
    assert_equal "$(sort "$TMP/out")" "$(printf '0 first\n0 fourth\n3 second\n3 third\n')"
    assert_equal "$(grep '^3 ' "$TMP/out")" $'3 second\n3 third'
    mq_gone "$MQ"
}

@test "mq_log recv -f prints messages as they come until a wait runs out (exit 3)" {
    bg mq_log recv "$MQ" -f --timeout 1000 > "$TMP/out" 2> "$TMP/err"
    receiver=$BG_PID
    mq_log send "$MQ" one
    wait_for_content "$TMP/out" "0 one"
    mq_log send "$MQ" --prio 2 two
    status=0
    wait "$receiver" || status=$?
    assert_equal "$status" 3
    assert_equal "$(cat "$TMP/out")" $'0 one\n2 two'
    assert_equal "$(cat "$TMP/err")" "mq_log: $MQ: no message for 1000 ms (2 received): Connection timed out"
    mq_log rm "$MQ"
}

@test "mq_log send with no MSG: each line of stdin is one message, empty lines included" {
    run --separate-stderr bash -c 'printf "one\ntwo\n\nfour" | mq_log send "$0" --prio 4' "$MQ"
    assert_success
    run --separate-stderr mq_log recv "$MQ" --unlink
    assert_success
    assert_output $'4 one\n4 two\n4 \n4 four'
}

@test "mq_log recv on an empty queue: prints nothing, exit 0; with -n and --timeout 300, exit 3" {
    run --separate-stderr mq_log recv "$MQ"
    assert_success
    assert_output ""
    assert_equal "$stderr" ""
    t0=$(now_ms)
    run --separate-stderr timeout 10 mq_log recv "$MQ" -n 1 --timeout 300 --unlink
    t1=$(now_ms)
    assert_failure 3
    assert_output ""
    assert_equal "$stderr" "mq_log: $MQ: no message for 300 ms (0 received): Connection timed out"
    ((t1 - t0 >= 280)) || fail "gave up after $((t1 - t0)) ms"
    ((t1 - t0 < 5000)) || fail "took $((t1 - t0)) ms"
    mq_gone "$MQ" # --unlink after a timeout too
}

@test "mq_log: a full queue (10 messages) makes the 11th wait, and --timeout 200 exits 3" {
    t0=$(now_ms)
    run --separate-stderr timeout 10 mq_log send "$MQ" --timeout 200 m1 m2 m3 m4 m5 m6 m7 m8 m9 m10 m11
    t1=$(now_ms)
    assert_failure 3
    assert_equal "$stderr" "mq_log: $MQ: message 11: Connection timed out (the queue stayed full, 10 messages, for 200 ms)"
    ((t1 - t0 >= 180)) || fail "gave up after $((t1 - t0)) ms"
    ((t1 - t0 < 5000)) || fail "took $((t1 - t0)) ms"
    run mq_log stat "$MQ"
    assert_line "curmsgs 10"
    # --timeout 0 is the try form: a full queue answers at once.
    run --separate-stderr mq_log send "$MQ" --timeout 0 m11
    assert_failure 3
    assert_regex "$stderr" "^mq_log: $MQ: message 1: Resource temporarily unavailable"
    # The ten that were sent, each once, in order; nothing of the 11th.
    run --separate-stderr mq_log recv "$MQ" --unlink
    assert_success
    assert_output "$(printf '0 m%d\n' $(seq 10))"
    mq_gone "$MQ"
}

@test "mq_log: a message longer than the queue's msgsize is a clear error; the ones before it were sent" {
    run --separate-stderr mq_log send "$MQ" "$(head -c 8193 /dev/zero | tr '\0' x)"
    assert_failure 1
    assert_equal "$stderr" "mq_log: $MQ: message 1 (8193 bytes): Message too long (this queue's limit is 8192 bytes)"
    mq_log rm "$MQ"
    run --separate-stderr mq_log send "$MQ" --msgsize 16 "exactly 16 bytes" "seventeen bytes!!" never
    assert_failure 1
    assert_equal "$stderr" "mq_log: $MQ: message 2 (17 bytes): Message too long (this queue's limit is 16 bytes)"
    run --separate-stderr mq_log recv "$MQ" --unlink
    assert_success
    assert_output "0 exactly 16 bytes"
    mq_gone "$MQ"
}

@test "mq_log: kernel limits (maxmsg 11, msgsize 8193) are named, and no queue is made" {
    msg_max=$(cat /proc/sys/fs/mqueue/msg_max)
    msgsize_max=$(cat /proc/sys/fs/mqueue/msgsize_max)
    run --separate-stderr mq_log send "$MQ" --maxmsg $((msg_max + 1)) x
    if [ "$status" -eq 0 ]; then
        mq_log rm "$MQ"
        skip "the mqueue limits do not bind here (CAP_SYS_RESOURCE)"
    fi
    assert_failure 1
    assert_equal "$stderr" "mq_log: $MQ: POSIX MQ maxmsg over the system limit (/proc/sys/fs/mqueue/msg_max)"
    mq_gone "$MQ"
    run --separate-stderr mq_log send "$MQ" --msgsize $((msgsize_max + 1)) x
    assert_failure 1
    assert_equal "$stderr" "mq_log: $MQ: POSIX MQ msgsize over the system limit (/proc/sys/fs/mqueue/msgsize_max)"
    mq_gone "$MQ"
}

@test "mq_log: a bad queue name exits 2 with a clear message, before any queue is made" {
    long=/$(printf 'x%.0s' $(seq 300))
    for name in "noslash-$BATS_ROOT_PID" "/a/b" "/" "" "//x" "$long"; do
        for cmd in "send" "recv" "stat" "rm"; do
            echo "mq_log $cmd '$name'"
            if [ "$cmd" = send ]; then
                run --separate-stderr mq_log send "$name" hello
            else
                run --separate-stderr mq_log "$cmd" "$name"
            fi
            assert_failure 2
            assert_output ""
            assert_equal "${#stderr_lines[@]}" 1
            assert_regex "$stderr" "^mq_log: '.*': (Invalid argument|File name too long) \\(a queue name is '/' and a name without '/', as in /mylog\\)$"
        done
    done
    mq_gone "/noslash-$BATS_ROOT_PID"
}

@test "mq_log: a name of 256 characters after the '/' is too long (over NAME_MAX)" {
    name=/$(printf 'y%.0s' $(seq 256))
    run --separate-stderr mq_log send "$name" hello
    assert_failure 2
    assert_regex "$stderr" "File name too long"
}

@test "ipc.h: a queue name of NAME_MAX (255) characters after the '/', which mq_open takes, is accepted" {
    # The kernel refuses a name only when it is longer than NAME_MAX (255)
    # characters after the '/'. The probe shows mq_open taking 255; mq_log,
    # through ipc_mq_name_check, should take it too.
    pad=$(printf 'z%.0s' $(seq 255))
    name=/n$BATS_ROOT_PID-$BATS_TEST_NUMBER-$pad
    name=${name:0:256} # "/" and 255 characters
    cat > "$TMP/probe.c" <<'C'
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    mqd_t d = mq_open(argv[1], O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
    if (d == (mqd_t)-1) return printf("mq_open: %s\n", strerror(errno)), 1;
    printf("mq_open: ok (%zu characters after the '/')\n", strlen(argv[1]) - 1);
    mq_close(d);
    return mq_unlink(argv[1]) == 0 ? 0 : 1;
}
C
    gcc -std=c11 -D_GNU_SOURCE -Wall -Werror -o "$TMP/probe" "$TMP/probe.c" -lrt
    run "$TMP/probe" "$name"
    assert_success
    assert_output "mq_open: ok (255 characters after the '/')"
    run --separate-stderr mq_log send "$name" hello
    echo "mq_log send: status $status, stderr: $stderr"
    assert_success # ipc_mq_name_check allows only NAME_MAX - 1 characters
    run --separate-stderr mq_log recv "$name" --unlink
    assert_output "0 hello"
    mq_gone "$name"
}

@test "ipc.h: ipc_mq_send and ipc_mq_recv with timeout -1 are free of undefined behaviour (UBSan)" {
    # Every mq call turns its deadline into a CLOCK_REALTIME time first,
    # IPC_DEADLINE_NEVER (INT64_MAX) included, where realtime + (INT64_MAX -
    # monotonic) overflows int64_t; mq_send/mq_receive then ignore the value.
    cat > "$TMP/never.c" <<'C'
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"
#include <stdio.h>
int main(int argc, char **argv) {
    ipc_mq q;
    char buf[64];
    unsigned prio = 0;
    int rc = argc == 2 ? ipc_mq_open(&q, argv[1], IPC_O_CREATE | IPC_O_EXCL, 0, 1, 16) : -EINVAL;
    if (rc < 0) return printf("open: %s\n", ipc_strerror(rc)), 2;
    ipc_mq_unlink(argv[1]); /* the queue lives on until closed */
    rc = ipc_mq_send(&q, "hi", 2, 1, -1);
    printf("send(-1): %s\n", ipc_strerror(rc));
    ssize_t n = ipc_mq_recv(&q, buf, sizeof buf, &prio, -1);
    printf("recv(-1): %zd bytes, priority %u\n", n, prio);
    ipc_mq_close(&q);
    return rc == 0 && n == 2 ? 0 : 1;
}
C
    gcc -std=c11 -g -Wall -Wextra -Werror -fsanitize=undefined -fno-sanitize-recover=undefined \
        -I "$BATS_TEST_DIRNAME/.." -o "$TMP/never" "$TMP/never.c" -pthread
    run --separate-stderr timeout 10 "$TMP/never" "$MQ"
    echo "$stderr"
    assert_success
    assert_output $'send(-1): success\nrecv(-1): 2 bytes, priority 1'
    assert_equal "$stderr" ""
}

@test "mq_log: --help, and bad usage exits 2 with one line and no queue" {
    for cmd in "--help" "send --help" "recv -h"; do
        run --separate-stderr mq_log $cmd
        assert_success
        assert_line --index 0 --regexp '^usage: mq_log send NAME'
        assert_equal "$stderr" ""
    done
    for cmd in "" "bogus $MQ" "send" "send $MQ --prio 32768 m" "send $MQ --prio x m" "send $MQ -n 3 m" \
        "send $MQ --maxmsg 0 m" "send $MQ --timeout -5 m" "recv $MQ -n 0" "recv $MQ -n" "recv $MQ --prio 3" \
        "recv $MQ -n 1 -f" "recv $MQ extra" "stat $MQ extra" "stat $MQ --unlink" "rm" "rm $MQ --bogus"; do
        echo "command: mq_log $cmd"
        run --separate-stderr mq_log $cmd
        assert_failure 2
        assert_output ""
        assert_equal "${#stderr_lines[@]}" 1
    done
    mq_gone "$MQ"
}
