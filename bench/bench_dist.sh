#!/bin/sh
# Data-parallel throughput on this machine: images/s of the Fashion MLP and CNN for
#   1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread (mpirun, --dist)
# at the same global batch (the MLP 128, the CNN 64), each from 200 timed steps
# (--max-steps), and the allreduce time of bench_dist.
#     sh bench/bench_dist.sh [build]
set -e
build=${1:-build}
mpirun="mpirun --allow-run-as-root --oversubscribe"
steps=200
ips() { # images per second from an example's "seconds per epoch"
    awk '/seconds per epoch/ { printf "%.0f", 60000 / $4 }'
}
for model in mlp:128 cnn:64; do
    name=${model%%:*}; batch=${model##*:}; half=$((batch / 2))
    exe="$build/examples/fashion_$name"
    args="--epochs 1 --max-steps $steps --quiet --checkpoint '' --plot ''"
    one=$(OMP_NUM_THREADS=1 sh -c "$exe $args --batch-size $batch" | ips)
    two=$(OMP_NUM_THREADS=2 sh -c "$exe $args --batch-size $batch" | ips)
    dist=$(OMP_NUM_THREADS=1 sh -c "$mpirun -np 2 $exe $args --batch-size $half --dist" | ips)
    # (2 ranks run steps of half the batch: the same 60000 images per epoch)
    echo "fashion_$name (global batch $batch): 1 rank x 1 thread $one img/s, 1 rank x 2 threads $two img/s, 2 ranks x 1 thread $dist img/s"
done
OMP_NUM_THREADS=1 $mpirun -np 2 "$build/bench/bench_dist"
