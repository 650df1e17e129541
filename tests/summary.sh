#!/usr/bin/env bash
# Adds up build/results/* (written by tests/step.sh) into the closing line
# "N passed, N failed"; exits 1 when anything failed or nothing ran.
set -u
p=0 f=0 s=0
for r in build/results/*; do
    [ -f "$r" ] || continue
    read -r a b c < "$r"
    p=$((p + a)) f=$((f + b)) s=$((s + c))
    [ "$b" -gt 0 ] && echo "FAILED: $(basename "$r") ($b)"
done
line="$p passed, $f failed"
[ "$s" -gt 0 ] && line="$line, $s skipped"
echo "$line" | tee build/summary.txt
[ "$f" -eq 0 ] && [ "$p" -gt 0 ]
