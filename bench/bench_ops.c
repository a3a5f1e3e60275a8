/*
 * bench_ops: milliseconds of element-wise ops and losses, forward + backward, on 2^20
 * floats (the element-wise rows of docs/performance.md), each against a same-run
 * yardstick: a memcpy of the bytes the op must at least move. An activation reads x
 * and writes y, then reads dy and y and adds into dx (read + write): 6 arrays of
 * 4 MiB; a loss reads p and y twice and adds into dp: 6 arrays too. The yardstick of
 * each row is the time of a copy of those bytes (a copy moves 2 arrays, so 3 copies).
 * The forward alone is timed as well, and the ISA of the vector kernels is printed.
 * Threads: nb_num_threads() (OMP_NUM_THREADS).
 *
 *     ./bench_ops [--quick] [--isa C|SSE2|AVX2|AVX-512]
 *
 * The four rows of issue 10's table come first. Every line "op <name> <ms> ms" is also
 * read by bench/compare_torch.py.
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

typedef enum { SIGMOID, BCE, BCE_LOGITS, MSE, RELU, TANH, CE, N_OPS } which;

static const char *names[] = {"sigmoid", "bce", "bce_logits", "mse", "relu", "tanh",
                              "cross_entropy"};

typedef struct inputs {
    nb_tensor *x, *p, *y, *seed, *logits, *labels;
} inputs;

/* The op's output (forward only). */
static nb_tensor *forward(which w, const inputs *in)
{
    switch (w) {
    case SIGMOID:
        return nb_sigmoid(in->x);
    case RELU:
        return nb_relu(in->x);
    case TANH:
        return nb_tanh(in->x);
    case BCE:
        return nb_bce(in->p, in->y, NB_REDUCE_MEAN);
    case BCE_LOGITS:
        return nb_bce_logits(in->x, in->y, NB_REDUCE_MEAN);
    case MSE:
        return nb_mse(in->x, in->y, NB_REDUCE_MEAN);
    default:
        return nb_cross_entropy(in->logits, in->labels, NB_REDUCE_MEAN);
    }
}

/* Best seconds of the forward (+ backward) of op w. Activations get the seed as dy. */
static double time_op(which w, const inputs *in, bool backward)
{
    bench_runs r = bench_runs_start(warmup, runs);
    while (bench_runs_next(&r)) {
        nb_tensor *out = forward(w, in);
        if (!out)
            die(names[w]);
        if (backward) {
            bool activation = w == SIGMOID || w == RELU || w == TANH;
            nb_status s = activation ? nb_backward_seed(out, in->seed) : nb_backward(out);
            if (s != NB_OK)
                die(names[w]);
        }
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

static nb_isa isa_named(const char *s)
{
    for (nb_isa i = NB_ISA_C; i <= NB_ISA_AVX512; i++)
        if (strcmp(s, nb_isa_name(i)) == 0)
            return i;
    fprintf(stderr, "bench_ops: unknown ISA %s (C, SSE2, AVX2 or AVX-512)\n", s);
    exit(2);
}

int main(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--quick") == 0) {
            runs = 8;
            warmup = 2;
        } else if (strcmp(argv[a], "--isa") == 0 && a + 1 < argc) {
            if (nb_kernel_set_isa(isa_named(argv[++a])) != NB_OK)
                die("--isa");
        } else {
            fprintf(stderr, "usage: bench_ops [--quick] [--isa C|SSE2|AVX2|AVX-512]\n");
            return 2;
        }
    }
    int threads = nb_num_threads();
    inputs in = {
        .x = nb_tensor_rand(NB_SHAPE(N), -3, 3, 1),
        .p = nb_tensor_rand(NB_SHAPE(N), 0.01f, 0.99f, 2),
        .y = nb_tensor_rand(NB_SHAPE(N), 0, 1, 3),
        .seed = nb_tensor_rand(NB_SHAPE(N), -1, 1, 4),
        .logits = nb_tensor_rand(NB_SHAPE(N / 16, 16), -3, 3, 5),
        .labels = nb_tensor_zeros(NB_SHAPE(N / 16)),
    };
    float *dst = aligned_alloc(64, (size_t)N * sizeof(float));
    if (!in.x || !in.p || !in.y || !in.seed || !in.logits || !in.labels || !dst ||
        nb_tensor_set_requires_grad(in.x, true) != NB_OK ||
        nb_tensor_set_requires_grad(in.p, true) != NB_OK ||
        nb_tensor_set_requires_grad(in.logits, true) != NB_OK)
        die("setup");
    for (int64_t i = 0; i < N / 16; i++)
        in.labels->data[i] = (float)(nb_rng_u64(6, (uint64_t)i) % 16);

    /* Every row moves 6 arrays of 4 MiB at least: 3 copies. */
    double copy = time_copy(dst, in.x->data), yard = 3.0 * copy;
    printf("ops: forward + backward on 2^20 floats, %d thread%s, %s kernels, best of %d "
           "runs\n", threads, threads == 1 ? "" : "s", nb_isa_name(nb_kernel_isa()), runs);
    printf("yardstick: memcpy of 6 x 4 MiB %.3f ms (a copy of 4 MiB: %.3f ms, %.1f GB/s "
           "read + write)\n", 1e3 * yard, 1e3 * copy, 8.0 * N / copy * 1e-9);
    printf("%-17s %8s %11s %10s\n", "", "fwd+bwd", "x the copy", "fwd only");
    for (int w = 0; w < N_OPS; w++) {
        double t = time_op((which)w, &in, true), f = time_op((which)w, &in, false);
        printf("op %-14s %8.3f ms  %5.2fx     %6.3f ms\n", names[w], 1e3 * t, t / yard,
               1e3 * f);
        nb_tensor_zero_grad(in.x);
        nb_tensor_zero_grad(in.p);
        nb_tensor_zero_grad(in.logits);
    }
    free(dst);
    nb_tensor *all[] = {in.x, in.p, in.y, in.seed, in.logits, in.labels};
    for (int i = 0; i < 6; i++)
        nb_tensor_free(all[i]);
    nb_memory_release();
    return 0;
}
