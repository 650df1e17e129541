#!/usr/bin/env bats
# ipc stat: the live IPC objects, seen while a background process holds them.
# ipc_hold creates a private System V queue with 5 messages of 100 bytes, a
# POSIX shm object and a POSIX queue (both NAME), a listening Unix socket at
# SOCK, a pipe and a memfd, prints them with their fds and waits until its
# stdin (a FIFO the test holds open on fd 4) ends; then it removes them all.
# Whatever it leaves (a failed test kills it with SIGKILL) teardown removes:
# the queue by the id it printed, the two names, the socket file.

load helper

setup() {
    require_examples ipc ipc_hold sysv_worker mq_log
    TMP=$BATS_TEST_TMPDIR
    NAME=/ipc-mon.$BATS_ROOT_PID.$BATS_TEST_NUMBER
    SOCK=$TMP/hold.sock
    ME=$(id -un)
}

teardown() {
    exec 4>&- # ipc_hold's stdin
    kill_bg
    local qid
    for qid in $(cat "$TMP/qids" 2>/dev/null); do
        if sysv_ids | grep -qx "$qid"; then ipcrm -q "$qid" || true; fi
    done
    rm -f "/dev/shm/${NAME#/}" "$SOCK"
    if ! mq_gone "$NAME"; then mq_log rm "$NAME" || true; fi
}

# The ids of every System V queue, as ipcs -q lists them.
sysv_ids() {
    ipcs -q | awk '$1 ~ /^0x/ { print $2 }'
}

# mq_gone NAME: no POSIX queue of that name (works without /dev/mqueue).
mq_gone() {
    local err
    if err=$(mq_log stat "$1" 2>&1 >/dev/null); then return 1; fi
    [[ $err == *"No such file or directory"* ]]
}

# start_holder [ARGS...]: runs ipc_hold ARGS NAME SOCK in the background with
# its stdin on a FIFO held open here (fd 4); waits for "ready"; sets
# HOLD_PID, QID and the fds SHM_FD, MQ_FD, SOCK_FD, PIPE_R, PIPE_W, MEMFD.
start_holder() {
    mkfifo "$TMP/in"
    bg bash -c 'exec ipc_hold "${@:5}" "$0" "$1" < "$2" > "$3" 2> "$4"' \
        "$NAME" "$SOCK" "$TMP/in" "$TMP/hold.out" "$TMP/hold.err" "$@"
    HOLD_PID=$BG_PID
    exec 4<> "$TMP/in" # read-write: never blocks; closing it is ipc_hold's EOF
    wait_for_content "$TMP/hold.out" ready
    QID=$(awk '$1 == "sysv-msg" { print $2 }' "$TMP/hold.out")
    echo "$QID" >> "$TMP/qids"
    read -r SHM_FD MQ_FD SOCK_FD MEMFD < <(awk '$1 ~ /^posix-shm|^posix-mq|^unix|^memfd/ { printf "%s ", $NF } END { print "" }' "$TMP/hold.out")
    read -r PIPE_R PIPE_W < <(awk '$1 == "pipe" { print $3, $4 }' "$TMP/hold.out")
}

# wait_exit PID [SECONDS]: waits (bounded, default 10 s) for a background
# child to end, then reaps it; its exit status in EXIT_STATUS.
wait_exit() {
    local pid=$1 tries=$((${2:-10} * 20)) state
    while state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { fail "process $pid still running"; return 1; }
        sleep 0.05
    done
    EXIT_STATUS=0
    wait "$pid" || EXIT_STATUS=$?
}

# section TITLE: the lines of one section of the table in $output, from its
# title to the blank line after it.
section() {
    awk -v t="$1" '$0 == t { on = 1 } on && $0 == "" { exit } on' <<< "$output"
}

# The only stderr ipc stat may print on success: the skipped count.
assert_quiet_stderr() {
    [ -z "$stderr" ] || assert_regex "$stderr" '^\([0-9]+ entries could not be read\)$'
}

# aligned: stdin is a section (title, header, rows); every right-aligned
# column's cells end where its header ends, every left-aligned one starts
# where its header starts (cells are single words here).
aligned() {
    python3 -c '
import re, sys
lines = sys.stdin.read().splitlines()[1:]
head = [(m.start(), m.end()) for m in re.finditer(r"\S+", lines[0])]
for l in lines[1:]:
    cells = [(m.start(), m.end()) for m in re.finditer(r"\S+", l)]
    assert len(cells) == len(head), (l, lines[0])
    for (hs, he), (cs, ce) in zip(head, cells):
        assert hs == cs or he == ce, "misaligned: %r under %r" % (l, lines[0])
print("aligned", len(lines) - 1, "rows")
'
}

# json_check PY: parses every line of $output as JSON (objs: those with a
# "kind"; meta: the others) and runs the Python statements PY on them.
json_check() {
    python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin]
objs = [o for o in lines if "kind" in o]
meta = [o for o in lines if "kind" not in o]
assert list(lines[-1]) == ["skipped"] and isinstance(lines[-1]["skipped"], int), lines[-1]
exec(sys.argv[1])
' "$1" <<< "$output"
}

@test "ipc stat: the table lists the holder's queue, shm object and socket with their attributes, aligned" {
    start_holder -n 5
    run --separate-stderr ipc stat
    assert_success
    assert_quiet_stderr
    echo "$output"
    capacity=$(($(cat /proc/sys/kernel/msgmnb) / 1024)).0K
    # System V: key, id, owner, perms, used-bytes, messages, capacity, lspid, lrpid, holders
    assert_line --regexp "^0x00000000 +$QID +$ME +600 +500 +5 +$capacity +$HOLD_PID +0 +-\$"
    assert_line --regexp "^$NAME +$ME +0600 +16.0K +- +$HOLD_PID\$" # RING: - (not a ring)
    assert_line --regexp "^$SOCK +stream +unconnected +yes +[0-9]+ +$HOLD_PID\$"
    for t in "System V message queues" "System V shared memory segments" "System V semaphore arrays" \
        "POSIX shared memory" "Unix sockets"; do
        assert_line "$t"
    done
    section "System V message queues" | aligned
    section "POSIX shared memory" | aligned
    section "System V message queues" | grep -q "^KEY  *ID  *OWNER  *PERMS  *USED-BYTES  *MESSAGES  *CAPACITY  *LSPID  *LRPID  *HOLDERS\$"
}

@test "ipc stat --json: every line parses, the holder's objects have exact numbers, System V agrees with ipcs -q" {
    start_holder -n 5 -s 1572864
    msgmnb=$(cat /proc/sys/kernel/msgmnb)
    run --separate-stderr ipc stat --json
    assert_success
    assert_equal "$stderr" ""
    json_check "
q = [o for o in objs if o['kind'] == 'sysv-msg' and o['id'] == $QID]
assert len(q) == 1, q
q = q[0]
assert (q['key'], q['count'], q['bytes'], q['capacity'], q['mode'], q['pid'], q['owner']) == \
    (0, 5, 500, $msgmnb, 0o600, [$HOLD_PID, 0], '$ME'), q
assert q['holders'] == [] and q['nholders'] == 0, q
s = [o for o in objs if o['kind'] == 'posix-shm' and o['name'] == '$NAME']
assert len(s) == 1 and s[0]['bytes'] == 1572864 and s[0]['holders'] == [$HOLD_PID], s
u = [o for o in objs if o['kind'] == 'unix' and o['name'] == '$SOCK']
assert len(u) == 1 and u[0]['listening'] == 1 and u[0]['sock_type'] == 1 and u[0]['holders'] == [$HOLD_PID], u
assert all(isinstance(o[f], int) for o in objs for f in ('key', 'id', 'uid', 'mode', 'bytes', 'count', 'inode', 'fd'))
"
    run ipc stat
    assert_line --regexp "^$NAME +$ME +0600 +1.5M +- +$HOLD_PID\$" # human in the table
    # The System V queues, as "0xKEY ID", the same in ipc stat --json and in
    # ipcs -q (retried while another suite's queues come and go).
    for try in 1 2 3 4 5; do
        before=$(ipcs -q | awk '$1 ~ /^0x/ { print $1, $2 }' | sort)
        mine=$(ipc stat --json --kind sysv-msg | python3 -c '
import json, sys
for o in map(json.loads, sys.stdin):
    if o.get("kind") == "sysv-msg": print("0x%08x %d" % (o["key"], o["id"]))' | sort)
        after=$(ipcs -q | awk '$1 ~ /^0x/ { print $1, $2 }' | sort)
        [ "$before" = "$after" ] && break
    done
    assert_equal "$mine" "$before"
    grep -qx "0x00000000 $QID" <<< "$mine"
}

@test "ipc stat --json: names with quotes, backslashes, tabs and a stray byte are escaped" {
    NAME=/ipc-mon.$BATS_ROOT_PID.q\"b\\s$'\t'x$'\xff'
    SOCK=$TMP/s\"o\\ck$'\t'
    start_holder
    run --separate-stderr ipc stat --json --kind posix-shm,unix
    assert_success
    [[ $output == *'"name":"/ipc-mon.'$BATS_ROOT_PID'.q\"b\\s\u0009x\u00ff"'* ]]
    [[ $output == *'"name":"'$TMP'/s\"o\\ck\u0009"'* ]]
    json_check "
names = [o['name'] for o in objs]
assert '/ipc-mon.$BATS_ROOT_PID.q\"b\\\\s\tx\u00ff' in names, names
"
    # The table keeps each row on one line: control characters become '?'.
    run ipc stat --kind posix-shm --name "ipc-mon.$BATS_ROOT_PID.q"
    assert_line --regexp "^/ipc-mon\\.$BATS_ROOT_PID\\.q\"b\\\\s\\?x"
}

@test "ipc stat --pid: the holder's pipe, FIFO, socket, queue, shm (open and mapped) and memfd, with fd numbers" {
    start_holder
    run --separate-stderr ipc stat --pid "$HOLD_PID"
    assert_success
    assert_quiet_stderr
    echo "$output"
    assert_line --index 0 "Process $HOLD_PID (ipc_hold)"
    assert_line --regexp "^ *0 fifo +$TMP/in "
    assert_line --regexp "^ *$SHM_FD posix-shm +$NAME +[0-9]+ +$ME +0600 +16.0K +-\$" # named as the shm scan names it
    assert_line --regexp "^ *$MQ_FD posix-mq +$NAME "
    assert_line --regexp "^ *$SOCK_FD socket +socket:\\[[0-9]+\\] .* unix stream unconnected listening $SOCK\$"
    assert_line --regexp "^ *$PIPE_R pipe +pipe:\\[[0-9]+\\] "
    assert_line --regexp "^ *$PIPE_W pipe +pipe:\\[[0-9]+\\] "
    assert_line --regexp "^ *$MEMFD memfd +/memfd:${NAME#/} \\(deleted\\) "
    assert_line --regexp "^map posix-shm +$NAME "
    # Both ends of the one pipe: one inode.
    r=$(awk -v fd="$PIPE_R" '$1 == fd { print $3 }' <<< "$output")
    w=$(awk -v fd="$PIPE_W" '$1 == fd { print $3 }' <<< "$output")
    assert_equal "$r" "$w"
    run --separate-stderr ipc stat --pid "$HOLD_PID" --json
    assert_success
    json_check "
fds = {o['fd']: o['kind'] for o in objs}
assert all(o['holder'] == $HOLD_PID for o in objs)
assert fds[$SHM_FD] == 'posix-shm' and fds[$MQ_FD] == 'posix-mq' and fds[$SOCK_FD] == 'socket', fds
assert fds[$PIPE_R] == fds[$PIPE_W] == 'pipe' and fds[$MEMFD] == 'memfd' and fds[0] == 'fifo', fds
assert [o['path'] for o in objs if o['fd'] == $SOCK_FD] == ['$SOCK']
assert [o for o in objs if o['fd'] == -1 and o['kind'] == 'posix-shm']
"
    # --kind narrows a process's objects too.
    run --separate-stderr ipc stat --pid "$HOLD_PID" --kind pipe --json
    assert_success
    # (only pipes; its own two among them: a pipe inherited from whoever
    # started the test may be there too)
    json_check "assert {o['kind'] for o in objs} == {'pipe'} and {$PIPE_R, $PIPE_W} <= {o['fd'] for o in objs}, objs"
}

@test "ipc stat --pid of a process that does not exist: exit 1, one line" {
    run --separate-stderr ipc stat --pid 2147483646
    assert_failure 1
    assert_output ""
    assert_equal "$stderr" "ipc stat: process 2147483646: No such process"
}

@test "ipc stat: a worker blocked in msgrcv on the queue is its holder" {
    start_holder
    bg sysv_worker --id "$QID" 9 4>&- # type 9: none queued, so it blocks
    worker=$BG_PID
    for i in $(seq 100); do
        run --separate-stderr ipc stat --kind sysv-msg --json
        grep -q "\"id\":$QID,.*\"holders\":\\[$worker\\]" <<< "$output" && break
        sleep 0.05
    done
    json_check "assert [o['holders'] for o in objs if o['id'] == $QID] == [[$worker]], objs"
    run ipc stat --kind sysv-msg
    assert_line --regexp "^0x00000000 +$QID .* $HOLD_PID +0 +$worker\$"
}

@test "ipc stat --kind and --name filter; the groups sysv and posix" {
    start_holder
    run --separate-stderr ipc stat --kind sysv-msg
    assert_success
    assert_line --index 0 "System V message queues"
    refute_line "POSIX shared memory"
    refute_line "Unix sockets"
    refute_line "System V shared memory segments"
    run --separate-stderr ipc stat --kind posix-shm --name "$NAME"
    assert_success
    assert_equal "${#lines[@]}" 3 # title, header, our row
    assert_line --index 2 --regexp "^$NAME "
    run --separate-stderr ipc stat --kind unix,posix-shm --name "$SOCK" --json
    assert_success
    json_check "assert [(o['kind'], o['name']) for o in objs] == [('unix', '$SOCK')], objs"
    run --separate-stderr ipc stat --kind sysv
    assert_equal "$(grep -c '^System V' <<< "$output")" 3
    refute_line "Unix sockets"
    run --separate-stderr ipc stat --kind posix
    assert_line "POSIX shared memory"
    refute_line "System V message queues"
    refute_line "Unix sockets"
    run --separate-stderr ipc stat --kind posix-shm --name "no-such-name-$BATS_ROOT_PID"
    assert_success
    assert_output $'POSIX shared memory\n  (none)'
    # System V objects have no name: --name matches the key as ipcs prints it.
    run --separate-stderr ipc stat --kind sysv-msg --name 0x00000000 --json
    json_check "assert $QID in [o['id'] for o in objs]"
    # The process kinds come from a walk of every process.
    run --separate-stderr ipc stat --kind memfd --name "${NAME#/}" --json
    assert_success
    json_check "assert [(o['holder'], o['fd']) for o in objs] == [($HOLD_PID, $MEMFD)], objs"
}

@test "ipc stat: POSIX queues 'not mounted' without /dev/mqueue, else the same names as ls /dev/mqueue" {
    start_holder
    mounts_before=$(cat /proc/mounts)
    run --separate-stderr ipc stat --kind posix-mq
    assert_success
    if awk '$2 == "/dev/mqueue" && $3 == "mqueue" { found = 1 } END { exit !found }' /proc/mounts; then
        assert_line "POSIX message queues"
        assert_line --regexp "^$NAME +$ME +0600 +[0-9.]+[KM]? +2 +[0-9]+ +$HOLD_PID\$"
        run --separate-stderr ipc stat --kind posix-mq --json
        mine=$(python3 -c 'import json,sys; [print(o["name"]) for o in map(json.loads, sys.stdin) if o.get("kind") == "posix-mq"]' <<< "$output" | sort)
        assert_equal "$mine" "$(ls -A /dev/mqueue | sed 's|^|/|' | sort)"
    else
        assert_output "POSIX message queues: /dev/mqueue not mounted"
        run --separate-stderr ipc stat --kind posix-mq --json
        assert_success
        assert_output $'{"unavailable":"posix-mq","reason":"/dev/mqueue not mounted"}\n{"skipped":0}'
        run ipc stat
        assert_line "POSIX message queues: /dev/mqueue not mounted"
        # ...yet the queue is there, and the process scan finds it by its file system.
        run ipc stat --pid "$HOLD_PID" --kind posix-mq
        assert_line --regexp "^ *$MQ_FD posix-mq +$NAME "
    fi
    assert_equal "$(cat /proc/mounts)" "$mounts_before" # nothing mounted
}

@test "ipc stat: after the holder exits and cleans up, nothing of it is left" {
    start_holder
    run ipc stat
    assert_line --regexp "^$NAME "
    exec 4>&- # EOF on its stdin: it removes everything and exits 0
    wait_exit "$HOLD_PID"
    assert_equal "$EXIT_STATUS" 0
    assert_equal "$(cat "$TMP/hold.err")" ""
    run --separate-stderr ipc stat
    assert_success
    refute_output --partial "$NAME"
    refute_output --partial "$SOCK"
    refute_line --regexp "^0x[0-9a-f]{8} +$QID "
    run --separate-stderr ipc stat --json
    assert_success
    refute_output --partial "\"id\":$QID,"
    refute_output --partial "$NAME"
    refute_output --partial "$SOCK"
    ! sysv_ids | grep -qx "$QID"
    [ ! -e "/dev/shm/${NAME#/}" ]
    mq_gone "$NAME"
    run --separate-stderr ipc stat --pid "$HOLD_PID"
    assert_failure 1
}

@test "ipc stat: SIGTERM makes the holder clean up too" {
    start_holder
    kill -TERM "$HOLD_PID"
    wait_exit "$HOLD_PID"
    assert_equal "$EXIT_STATUS" 0
    run --separate-stderr ipc stat --json
    refute_output --partial "$NAME"
    ! sysv_ids | grep -qx "$QID"
}

@test "ipc: --help exits 0; a bad kind, subcommand or option exits 2 with one line" {
    for cmd in "--help" "-h" "stat --help" "stat -h" "stat --json --help"; do
        run --separate-stderr ipc $cmd
        assert_success
        assert_line --index 0 --regexp '^usage: ipc stat '
        assert_output --partial "JSON Lines"
        assert_output --partial "Only the stat subcommand"
        assert_equal "$stderr" ""
    done
    for cmd in "" "send /x hi" "bogus" "stat --kind bogus" "stat --kind sysv,bogus" "stat --kind" \
        "stat --kind ''" "stat --pid abc" "stat --pid 0" "stat --pid -3" "stat extra" "stat --bogus" "stat -z"; do
        echo "command: ipc $cmd"
        eval "run --separate-stderr ipc $cmd"
        assert_failure 2
        assert_output ""
        assert_equal "${#stderr_lines[@]}" 1
    done
    run --separate-stderr ipc stat --kind bogus
    assert_equal "$stderr" "ipc stat: unknown kind 'bogus' (sysv-msg, sysv-shm, sysv-sem, posix-mq, posix-shm, unix, pipe, fifo, socket, memfd, sysv, posix)"
}

@test "ipc stat: a ring made by ipc.h is recognised in /dev/shm, with its records queued and capacity" {
    require_examples ring_stream
    run --separate-stderr timeout 20 ring_stream produce "$NAME" -n 7 -s 100 --cap 64K --timeout 5000
    assert_success
    run --separate-stderr ipc stat --kind posix-shm --name "$NAME"
    assert_success
    assert_line --regexp "^$NAME +$ME +0600 +68.0K +7/64.0K +-\$"
    run --separate-stderr ipc stat --json --kind posix-shm --name "$NAME"
    assert_success
    assert_line --index 0 --regexp "\"name\":\"$NAME\".*\"count\":7,\"capacity\":65536,.*\"ring\":1"
    printf 'plain' > "/dev/shm/${NAME#/}.plain"
    run --separate-stderr ipc stat --json --kind posix-shm --name "$NAME.plain"
    rm -f "/dev/shm/${NAME#/}.plain"
    assert_line --index 0 --regexp '"ring":0'
    ring_stream rm "$NAME"
}
