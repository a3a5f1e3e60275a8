/*
 * bench_ops: milliseconds of element-wise ops and losses, forward + backward, on 2^20
 * floats (the table of docs/performance.md), each against a same-run yardstick: a
 * memcpy of the bytes the op must at least move (forward reads x and writes y, backward
 * reads dy and y and writes dx: about 5 arrays of 4 MiB for an activation, 5 for a
 * loss). Threads: nb_num_threads() (OMP_NUM_THREADS).
 *
 *     ./bench_ops [--quick]
 *
 * Every line "op <name> <ms> ms" is also read by bench/compare_torch.py.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nabla/kernels.h"

enum { N = 1 << 20 };

static int runs = 30, warmup = 5;

static void die(const char *what)
{
    fprintf(stderr, "bench_ops: %s: %s\n", what, nb_error());
    exit(1);
}

typedef enum { SIGMOID, RELU, TANH, BCE, BCE_LOGITS, MSE, CE } which;

static const char *names[] = {"sigmoid", "relu", "tanh", "bce", "bce_logits", "mse",
                              "cross_entropy"};

/* Best seconds of forward + backward of op w on x (requires grad) and target y. */
static double time_op(which w, nb_tensor *x, nb_tensor *p, nb_tensor *y, nb_tensor *seed,
                      nb_tensor *logits, nb_tensor *labels)
{
    bench_runs r = bench_runs_start(warmup, runs);
    while (bench_runs_next(&r)) {
        nb_status s = NB_OK;
        switch (w) {
        case SIGMOID:
            s = nb_backward_seed(nb_sigmoid(x), seed);
            break;
        case RELU:
            s = nb_backward_seed(nb_relu(x), seed);
            break;
        case TANH:
            s = nb_backward_seed(nb_tanh(x), seed);
            break;
        case BCE:
            s = nb_backward(nb_bce(p, y, NB_REDUCE_MEAN));
            break;
        case BCE_LOGITS:
            s = nb_backward(nb_bce_logits(x, y, NB_REDUCE_MEAN));
            break;
        case MSE:
            s = nb_backward(nb_mse(x, y, NB_REDUCE_MEAN));
            break;
        case CE:
            s = nb_backward(nb_cross_entropy(logits, labels, NB_REDUCE_MEAN));
            break;
        }
        if (s != NB_OK)
            die(names[w]);
    }
    return r.best;
}

/* Best seconds of a memcpy of N floats (it moves 2 arrays: one read, one written),
 * split across the threads like an op. */
static double time_copy(float *dst, const float *src)
{
    bench_runs r = bench_runs_start(warmup, runs);
    while (bench_runs_next(&r)) {
        int64_t chunks = 64, len = N / chunks;
        NB_PARALLEL_FOR_IF(nb_threads_available(), c, chunks, {
            memcpy(dst + c * len, src + c * len, (size_t)len * sizeof(float));
        });
    }
    return r.best;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
        runs = 8;
        warmup = 2;
    }
    int threads = nb_num_threads();
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(N), -3, 3, 1);
    nb_tensor *p = nb_tensor_rand(NB_SHAPE(N), 0.01f, 0.99f, 2);
    nb_tensor *y = nb_tensor_rand(NB_SHAPE(N), 0, 1, 3);
    nb_tensor *seed = nb_tensor_rand(NB_SHAPE(N), -1, 1, 4);
    nb_tensor *logits = nb_tensor_rand(NB_SHAPE(N / 16, 16), -3, 3, 5);
    nb_tensor *labels = nb_tensor_zeros(NB_SHAPE(N / 16));
    float *dst = aligned_alloc(64, (size_t)N * sizeof(float));
    if (!x || !p || !y || !seed || !logits || !labels || !dst ||
        nb_tensor_set_requires_grad(x, true) != NB_OK ||
        nb_tensor_set_requires_grad(p, true) != NB_OK ||
        nb_tensor_set_requires_grad(logits, true) != NB_OK)
        die("setup");
    for (int64_t i = 0; i < N / 16; i++)
        labels->data[i] = (float)(nb_rng_u64(6, (uint64_t)i) % 16);

    /* A copy moves 2 arrays; an activation's forward + backward at least 5 (x, y; dy, y,
     * dx), so the yardstick is 5/2 of a copy. */
    double yard = time_copy(dst, x->data) * 5.0 / 2.0;
    printf("ops: forward + backward on 2^20 floats, %d thread%s, best of %d runs\n", threads,
           threads == 1 ? "" : "s", runs);
    printf("yardstick: memcpy of 5 x 4 MiB %.3f ms (%.1f GB/s)\n", 1e3 * yard,
           5.0 * 4.0 * N / yard * 1e-9);
    for (int w = SIGMOID; w <= CE; w++) {
        double t = time_op((which)w, x, p, y, seed, logits, labels);
        printf("op %-14s %8.3f ms  %5.2fx the copy\n", names[w], 1e3 * t, t / yard);
        nb_tensor_zero_grad(x);
    }
    free(dst);
    nb_tensor *all[] = {x, p, y, seed, logits, labels};
    for (int i = 0; i < 6; i++)
        nb_tensor_free(all[i]);
    nb_memory_release();
    return 0;
}
