/*
 * bench_matmul: GFLOP/s of nb_kernel_gemm against OpenBLAS's cblas_sgemm on square
 * C = A B (no transposes, alpha 1, beta 0) at N = 256, 512, 1024, measured in the same
 * run with the same thread count (nb_num_threads(), i.e. OMP_NUM_THREADS). Each figure
 * is the best of several timed runs after a warm-up. Exits 1 if the two results
 * disagree beyond float rounding.
 */
#include "bench.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nabla.h"
#include "nabla/kernels.h"

static void fill(float *x, int64_t n, uint64_t seed)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = 2.0f * nb_rng_uniform(seed, (uint64_t)i) - 1.0f;
}

/* Best wall time of `reps` runs of C = A B (N x N) by nabla or OpenBLAS, after one
 * warm-up run. */
static double time_gemm(bool blas, int64_t N, const float *A, const float *B, float *C,
                        int reps)
{
    bench_runs r = bench_runs_start(1, reps);
    while (bench_runs_next(&r)) {
        if (blas) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)N, (int)N,
                        1.0f, A, (int)N, B, (int)N, 0.0f, C, (int)N);
        } else if (nb_kernel_gemm(false, false, N, N, N, 1.0f, A, N, B, N, 0.0f, C, N) != NB_OK) {
            fprintf(stderr, "bench_matmul: nb_kernel_gemm failed: %s\n", nb_error());
            exit(1);
        }
    }
    return r.best;
}

int main(void)
{
    static const int64_t sizes[] = {256, 512, 1024};
    int threads = nb_num_threads();
    openblas_set_num_threads(threads);
    const char *isa;
    double peak = bench_fma_peak(threads, &isa);
    printf("matmul: C = A B, float32, %d thread%s, best of N runs\n", threads,
           threads == 1 ? "" : "s");
    printf("FMA peak (%s, same run): %.1f GFLOP/s\n", isa, peak);
    const char *core = openblas_get_corename();
    printf("OpenBLAS core: %s%s\n", core,
           strcmp(core, "SkylakeX") ? " (not its AVX-512 kernel: run with "
                                      "OPENBLAS_CORETYPE=SkylakeX)" : "");
    printf("%6s %14s %14s %8s %8s %12s\n", "N", "nabla GFLOP/s", "OpenBLAS", "ratio",
           "of peak", "max rel err");

    int failed = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t N = sizes[s];
        size_t bytes = (size_t)(N * N) * sizeof(float);
        float *A = aligned_alloc(64, bytes), *B = aligned_alloc(64, bytes);
        float *C = aligned_alloc(64, bytes), *D = aligned_alloc(64, bytes);
        if (!A || !B || !C || !D) {
            fprintf(stderr, "bench_matmul: out of memory\n");
            return 1;
        }
        fill(A, N * N, 1);
        fill(B, N * N, 2);
        double flops = 2.0 * (double)N * (double)N * (double)N;
        int reps = (int)(2e10 / flops) + 3;   /* about 20 GFLOP of work, at least 3 runs */

        /* Each library's runs back to back, so one's idle threads do not slow the other. */
        double t_nb = time_gemm(false, N, A, B, C, reps);
        double t_blas = time_gemm(true, N, A, B, D, reps);

        /* max |C - D| relative to max |D|; NaN anywhere counts as a mismatch. */
        double max_diff = 0.0, max_ref = 0.0;
        for (int64_t i = 0; i < N * N; i++) {
            double d = fabs((double)C[i] - (double)D[i]);
            if (isnan(d))
                d = INFINITY;
            if (d > max_diff)
                max_diff = d;
            if (fabs((double)D[i]) > max_ref)
                max_ref = fabs((double)D[i]);
        }
        double max_err = max_diff / (max_ref > 0.0 ? max_ref : 1.0);
        double g_nb = flops / t_nb * 1e-9, g_blas = flops / t_blas * 1e-9;
        printf("%6lld %14.1f %14.1f %8.2f %7.0f%% %12.2e\n", (long long)N, g_nb, g_blas,
               g_nb / g_blas, peak > 0 ? 100.0 * g_nb / peak : 0.0, max_err);
        if (!(max_err <= 1e-5)) {
            fprintf(stderr, "bench_matmul: N=%lld: nabla and OpenBLAS disagree (%.3g)\n",
                    (long long)N, max_err);
            failed = 1;
        }
        free(A);
        free(B);
        free(C);
        free(D);
    }
    nb_memory_release();
    return failed;
}
