# Loaded first by every .bats file (`load helper`): the bats libraries, a
# time limit for every test, where the example programs are, and helpers for
# peers that run in the background.
#
# The programs come from $IPC_BUILD/examples (`make bats` sets IPC_BUILD to
# the absolute path of build/); without it, from this repository's build/,
# so `bats bats/` works after `make`.

bats_require_minimum_version 1.5.0 # run --separate-stderr, --keep-empty-lines
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file

# No test may hang: bats stops one that runs longer than this (seconds).
: "${BATS_TEST_TIMEOUT:=30}"

IPC_BUILD=${IPC_BUILD:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/build}
IPC_EXAMPLES=$IPC_BUILD/examples
PATH=$IPC_EXAMPLES:$PATH
export PATH

# Fails the test unless every named example program is built.
require_examples() {
    local p
    for p in "$@"; do
        [ -x "$IPC_EXAMPLES/$p" ] || { fail "$IPC_EXAMPLES/$p is missing: run make first"; return 1; }
    done
}

# Background peers. bg CMD... runs CMD in the background with fd 3 closed
# (bats waits for whatever holds fd 3) and remembers its pid in BG_PID and
# in the list that kill_bg empties. Redirections written after `bg ...` are
# opened by the test itself before CMD starts (and opening a FIFO blocks):
# put them inside, as in bg bash -c 'exec CMD < "$0"' "$FIFO".
BG_PIDS=()
bg() {
    "$@" 3>&- &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# Kills every peer bg started and reaps it; for teardown.
kill_bg() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    BG_PIDS=()
}

# wait_for_content FILE TEXT [SECONDS]: waits until FILE contains TEXT;
# fails the test after SECONDS (default 10).
wait_for_content() {
    local file=$1 text=$2 tries=$((${3:-10} * 20))
    while ! grep -qF -- "$text" "$file" 2>/dev/null; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { fail "'$text' never appeared in $file"; return 1; }
        sleep 0.05
    done
}

# Milliseconds on a monotonic-enough clock, for coarse duration checks.
now_ms() {
    local ns
    ns=$(date +%s%N)
    echo $((ns / 1000000))
}
