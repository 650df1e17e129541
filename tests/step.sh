#!/usr/bin/env bash
# Runs one test step and records how many of its tests passed and failed,
# so `make test` can end with a single "N passed, N failed" line.
#   tests/step.sh KIND NAME CMD...
# KIND says how to count: criterion (its Synthesis line), tap (bats --formatter
# tap), counts (a line "N passed, N failed" from the command), single (the
# exit status is one test). A step that dies before printing its counts is
# one failure. Output goes to the terminal and to build/logs/NAME.log.
set -u
kind=$1 name=$2
shift 2
mkdir -p build/logs build/results
log=build/logs/$name.log
echo "== $name: $*"
"$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=0 failed=0 skipped=0
case $kind in
criterion)
    line=$(grep -a 'Synthesis: Tested:' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        tested=$(sed -E 's/.*Tested: ([0-9]+).*/\1/' <<<"$line")
        passed=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
        failed=$((tested - passed))
    fi ;;
tap)
    passed=$(grep -aEc '^ok [0-9]+' "$log" || true)
    skipped=$(grep -aEc '^ok [0-9]+ .*# [Ss][Kk][Ii][Pp]' "$log" || true)
    passed=$((passed - skipped))
    failed=$(grep -aEc '^not ok [0-9]+' "$log" || true) ;;
counts)
    line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        passed=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
        failed=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
    fi ;;
single)
    if [ "$rc" -eq 0 ]; then passed=1; else failed=1; fi ;;
esac
# A non-zero exit with no failure counted (a crash, a missing binary) is one.
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed $failed $skipped" > "build/results/$name"
echo "== $name: passed $passed, failed $failed, skipped $skipped"
exit 0
