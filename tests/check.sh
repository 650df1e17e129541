#!/usr/bin/env bash
# ipc.h alone compiles warning-free: gcc and clang, -std=c99 and -std=c11,
# included in two translation units of one program (one holds the
# implementation), with IPC_STATIC, with IPC_TEST_HOOKS, and declarations
# from C++.
set -eu
out=build/check
mkdir -p "$out"
warn="-Wall -Wextra -Wpedantic -Werror"
n=0
for cc in gcc clang; do
    for std in c99 c11; do
        for extra in "" "-DIPC_TEST_HOOKS"; do
            $cc -std=$std $warn $extra -I. -o "$out/two-tu" tests/check_impl.c tests/check_user.c
            "$out/two-tu"
            n=$((n + 1))
        done
        $cc -std=$std $warn -DIPC_STATIC -DCHECK_STATIC -I. -o "$out/static" tests/check_impl.c
        "$out/static"
        n=$((n + 1))
    done
done
for cxx in g++ clang++; do
    $cxx -std=c++11 $warn -I. -c -x c++ tests/check_user.c -o "$out/cxx.o"
    n=$((n + 1))
done
echo "check: $n builds clean"

# The README's example is a fragment: its #define/#include lines go on top,
# the rest becomes main's body. It must compile and run.
awk '/^```c$/ {on=1; next} on && /^```$/ {exit} on' README.md > "$out/readme.body"
{
    grep -E '^#(define|include)' "$out/readme.body"
    printf '#include <stdio.h>\n#include <unistd.h>\nint main(void) {\n'
    grep -vE '^#(define|include)' "$out/readme.body"
    printf 'return n == IPC_EOF ? 0 : 1;\n}\n'
} > "$out/readme.c"
gcc -std=c11 $warn -Wno-unused-result -I. -o "$out/readme" "$out/readme.c"
timeout 10 "$out/readme" > /dev/null
echo "check: README example compiles and runs"
