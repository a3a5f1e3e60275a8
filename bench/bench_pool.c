/*
 * bench_pool: milliseconds and GB/s of nb_max_pool2d, 2x2 window, stride 2, on
 * x [64, 32, 28, 28] (a CNN's first pooling layer at batch 64):
 *   - forward:            grad mode off (no arg-max saved),
 *   - forward + backward: x requires grad; backward from a fixed random dy.
 * Bytes counted (float and int32 are 4 bytes; X = x's elements, Y = y's = X / 4):
 *   forward             4 (X + Y)              read x, write y
 *   forward + backward  4 (3 X + 4 Y)          also write the arg-max (Y); backward reads
 *                                              dy and the arg-max, and reads and writes dx
 *                                              (every cache line of it is touched)
 * The engine's own traffic in backward (e.g. storing dy as y's gradient) is not counted.
 * As a same-run reference, a plain memcpy of x's bytes is timed (2 x 4X bytes moved), and
 * each pooling figure is printed as a ratio of its time to the memcpy's. Each figure is
 * the best of several runs after a warm-up, for 1 thread and for nb_num_threads()
 * (OMP_NUM_THREADS) if that is more; memcpy is one thread.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WARMUP = 3, RUNS = 20 };

static void die(const char *what)
{
    fprintf(stderr, "bench_pool: %s: %s\n", what, nb_error());
    exit(1);
}

/* Best seconds of RUNS runs: forward only (backward false) or forward + backward. */
static double time_pool(nb_tensor *x, const nb_tensor *seed, const nb_pool2d_opts *o,
                        bool backward)
{
    bench_runs r = bench_runs_start(WARMUP, RUNS);
    while (bench_runs_next(&r)) {
        nb_tensor *y = nb_max_pool2d(x, o);
        if (!y)
            die("max_pool2d");
        if (backward && nb_backward_seed(y, seed) != NB_OK)
            die("backward");
    }
    return r.best;
}

/* Best seconds of a memcpy of `bytes`. */
static double time_memcpy(const float *src, size_t bytes)
{
    float *dst = malloc(bytes);
    if (!dst) {
        fprintf(stderr, "bench_pool: out of memory\n");
        exit(1);
    }
    bench_runs r = bench_runs_start(WARMUP, RUNS);
    while (bench_runs_next(&r)) {
        memcpy(dst, src, bytes);
        /* Keep the copy observable so it is not optimised away. */
        volatile float sink = dst[(size_t)r.run % (bytes / sizeof(float))];
        (void)sink;
    }
    free(dst);
    return r.best;
}

static void report(const char *what, int threads, double s, double bytes, double ref_s)
{
    printf("max_pool2d 2x2/2 %-18s threads %d: %8.3f ms %7.2f GB/s  (%.2fx memcpy time)\n",
           what, threads, s * 1e3, bytes / s * 1e-9, s / ref_s);
}

int main(void)
{
    const int64_t N = 64, C = 32, H = 28, W = 28;
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(N, C, H, W), -1, 1, 1);
    nb_tensor *seed = nb_tensor_rand(NB_SHAPE(N, C, H / 2, W / 2), -1, 1, 2);
    if (!x || !seed)
        die("tensors");
    nb_pool2d_opts o = nb_pool2d_default(2, 2);
    double X = (double)x->size, Y = (double)seed->size;

    double mem_s = time_memcpy(x->data, (size_t)x->size * sizeof(float));
    printf("memcpy of x [%lld,%lld,%lld,%lld] (%.1f MB), 1 thread: %8.3f ms %7.2f GB/s "
           "(read + write)\n", (long long)N, (long long)C, (long long)H, (long long)W,
           4 * X * 1e-6, mem_s * 1e3, 2 * 4 * X / mem_s * 1e-9);

    const int counts[2] = {1, nb_num_threads()};
    for (int t = 0; t < 2; t++) {
        int threads = counts[t];
        if (t == 1 && threads == 1)
            break;
        nb_set_num_threads(threads);
        if (nb_tensor_set_requires_grad(x, false) != NB_OK)
            die("requires_grad");
        double fwd = time_pool(x, seed, &o, false);
        report("forward", threads, fwd, 4 * (X + Y), mem_s);
        if (nb_tensor_set_requires_grad(x, true) != NB_OK)
            die("requires_grad");
        double both = time_pool(x, seed, &o, true);
        report("forward+backward", threads, both, 4 * (3 * X + 4 * Y), mem_s);
    }
    nb_tensor_free(x);
    nb_tensor_free(seed);
    nb_memory_release();
    return 0;
}
