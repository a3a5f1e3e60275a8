/*
 * bench_conv: milliseconds and GFLOP/s of nb_conv2d, forward and forward + backward,
 * on two layers of a small CNN (batch 64, 3x3 kernels, padding 1, bias):
 *   (a) 1 -> 32 channels, 28x28; the input is the data, so it needs no gradient
 *   (b) 32 -> 64 channels, 14x14; a hidden layer, so the input gets one too
 * FLOPs counted: forward 2 N C_out H_out W_out C_in kH kW (the multiply-adds of the
 * GEMM; the bias and im2col are not counted); forward + backward adds the same again
 * for dw and, when the input needs a gradient, again for dx (3x for (b), 2x for (a)).
 * As a same-run reference, the single nb_kernel_gemm of the forward's size
 * (M = C_out, K = C_in kH kW, N = batch H_out W_out) is timed too, and conv's speed is
 * printed as a fraction of it. Threads: nb_num_threads() (OMP_NUM_THREADS). Each
 * figure is the best of several runs after a warm-up.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

#include "nabla/kernels.h"

enum { WARMUP = 3, RUNS = 15 };

typedef struct layer {
    const char *name;
    int64_t N, C_in, C_out, H, W, k;
    bool input_grad;
} layer;

static void die(const char *what)
{
    fprintf(stderr, "bench_conv: %s: %s\n", what, nb_error());
    exit(1);
}

/* Best seconds of RUNS runs: forward only (backward false) or forward + backward. */
static double time_conv(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_tensor *seed,
                        const nb_conv2d_opts *o, bool backward)
{
    bench_runs r = bench_runs_start(WARMUP, RUNS);
    while (bench_runs_next(&r)) {
        nb_tensor *y = nb_conv2d(x, w, b, o);
        if (!y)
            die("conv2d");
        if (backward && nb_backward_seed(y, seed) != NB_OK)
            die("backward");
    }
    return r.best;
}

/* Best seconds of C [M,N] = A [M,K] B [K,N]. */
static double time_gemm(int64_t M, int64_t N, int64_t K)
{
    float *A = aligned_alloc(64, (size_t)(M * K) * sizeof(float));
    float *B = aligned_alloc(64, (size_t)(K * N) * sizeof(float));
    float *C = aligned_alloc(64, (size_t)(M * N) * sizeof(float));
    if (!A || !B || !C) {
        fprintf(stderr, "bench_conv: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < M * K; i++)
        A[i] = nb_rng_uniform(1, (uint64_t)i) - 0.5f;
    for (int64_t i = 0; i < K * N; i++)
        B[i] = nb_rng_uniform(2, (uint64_t)i) - 0.5f;
    bench_runs r = bench_runs_start(WARMUP, RUNS);
    while (bench_runs_next(&r))
        if (nb_kernel_gemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N) != NB_OK)
            die("gemm");
    free(A);
    free(B);
    free(C);
    return r.best;
}

static void bench_layer(const layer *l)
{
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(l->N, l->C_in, l->H, l->W), -1, 1, 1);
    nb_tensor *w = nb_tensor_rand(NB_SHAPE(l->C_out, l->C_in, l->k, l->k), -0.1f, 0.1f, 2);
    nb_tensor *b = nb_tensor_rand(NB_SHAPE(l->C_out), -0.1f, 0.1f, 3);
    nb_tensor *seed = nb_tensor_rand(NB_SHAPE(l->N, l->C_out, l->H, l->W), -1, 1, 4);
    if (!x || !w || !b || !seed || nb_tensor_set_requires_grad(w, true) != NB_OK ||
        nb_tensor_set_requires_grad(b, true) != NB_OK ||
        (l->input_grad && nb_tensor_set_requires_grad(x, true) != NB_OK))
        die("setup");
    nb_conv2d_opts o = nb_conv2d_default();
    o.pad_top = o.pad_bottom = o.pad_left = o.pad_right = (int)(l->k / 2);

    const int64_t M = l->C_out, K = l->C_in * l->k * l->k, N = l->N * l->H * l->W;
    const double flops = 2.0 * (double)M * (double)K * (double)N;
    const int passes = l->input_grad ? 3 : 2;
    double t_gemm = time_gemm(M, N, K);
    double t_fwd = time_conv(x, w, b, seed, &o, false);
    double t_fb = time_conv(x, w, b, seed, &o, true);

    printf("(%s) batch %lld, %lld->%lld channels, %lldx%lld, %lldx%lld kernel, pad %lld%s\n",
           l->name, (long long)l->N, (long long)l->C_in, (long long)l->C_out,
           (long long)l->H, (long long)l->W, (long long)l->k, (long long)l->k,
           (long long)(l->k / 2), l->input_grad ? "" : ", input needs no grad");
    printf("  %-24s %8.3f ms %8.1f GFLOP/s  (%.0f MFLOP)\n", "gemm reference", 1e3 * t_gemm,
           flops / t_gemm * 1e-9, flops * 1e-6);
    printf("  %-24s %8.3f ms %8.1f GFLOP/s  %.2f of gemm\n", "forward", 1e3 * t_fwd,
           flops / t_fwd * 1e-9, t_gemm / t_fwd);
    char what[40];
    snprintf(what, sizeof what, "forward+backward (%dx)", passes);
    printf("  %-24s %8.3f ms %8.1f GFLOP/s  %.2f of gemm\n", what, 1e3 * t_fb,
           passes * flops / t_fb * 1e-9, passes * t_gemm / t_fb);

    nb_tensor_free(x);
    nb_tensor_free(w);
    nb_tensor_free(b);
    nb_tensor_free(seed);
}

int main(void)
{
    static const layer layers[] = {
        {"a", 64, 1, 32, 28, 28, 3, false},
        {"b", 64, 32, 64, 14, 14, 3, true},
    };
    int threads = nb_num_threads();
    printf("conv2d: float32, %d thread%s, best of %d runs after %d warm-up\n", threads,
           threads == 1 ? "" : "s", RUNS, WARMUP);
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        bench_layer(&layers[i]);
    nb_memory_release();
    return 0;
}
