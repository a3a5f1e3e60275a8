#!/bin/sh
# Runs dist_fail on 2 ranks: both must exit non-zero, both must print rank 1's error,
# and all of it within a few seconds (no rank waits for the failed one).
mpirun="$1"; prog="$2"
start=$(date +%s)
out=$(OMP_NUM_THREADS=1 timeout 60 "$mpirun" --allow-run-as-root --oversubscribe -np 2 "$prog" 2>&1)
rc=$?
elapsed=$(( $(date +%s) - start ))
echo "$out"
echo "exit status $rc after ${elapsed}s"
[ "$rc" -ne 0 ] || { echo "FAIL: the job exited 0"; exit 1; }
[ "$rc" -ne 124 ] || { echo "FAIL: the job hung"; exit 1; }
for r in 0 1; do
    echo "$out" | grep -q "rank $r stopped: rank 1: data: /nonexistent/part-1.csv: cannot open" ||
        { echo "FAIL: rank $r did not report rank 1's error"; exit 1; }
done
[ "$elapsed" -le 10 ] || { echo "FAIL: took ${elapsed}s"; exit 1; }
echo "both ranks stopped with rank 1's error"
