/*
 * bench/bench.h - timing shared by the benchmarks: a monotonic clock and a best-of-N
 * loop with untimed warm-up runs. Include it first (it asks for POSIX clock_gettime).
 *
 *     bench_runs r = bench_runs_start(WARMUP, RUNS);
 *     while (bench_runs_next(&r))
 *         work();                     <- timed; step memory is released between runs
 *     double seconds = r.best;
 */
#ifndef NABLA_BENCH_H
#define NABLA_BENCH_H

#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <time.h>

#include "nabla.h"

/* Seconds on a monotonic clock. */
static inline double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct bench_runs {
    int warmup, runs;
    int run;      /* the run under way, from 0 (warm-up runs first) */
    double t0;
    double best;  /* least seconds of one timed run; INFINITY until one has finished */
} bench_runs;

static inline bench_runs bench_runs_start(int warmup, int runs)
{
    bench_runs r = {warmup, runs, -1, 0.0, INFINITY};
    return r;
}

/* Ends the run under way (if any): its time counts after the warm-up, then its step
 * memory is released (nb_step_reset), untimed. Starts the next run and returns true,
 * or returns false once warmup + runs runs are done. */
static inline bool bench_runs_next(bench_runs *r)
{
    if (r->run >= 0) {
        double t = bench_now() - r->t0;
        if (r->run >= r->warmup && t < r->best)
            r->best = t;
        nb_step_reset();
    }
    if (++r->run >= r->warmup + r->runs)
        return false;
    r->t0 = bench_now();
    return true;
}

/* ---- the machine's FMA peak, measured in the same run ---- */

#if defined(__x86_64__)
#include <immintrin.h>

/* n iterations of 12 independent 16-wide FMA chains: 384 flops per iteration. */
__attribute__((target("avx512f"), noinline))
static float bench_fma_loop_avx512(int64_t n)
{
    __m512 a[12], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++)
        a[i] = _mm512_set1_ps((float)i);
    for (int64_t k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            a[i] = _mm512_fmadd_ps(a[i], m, c);
    }
    __m512 s = a[0];
    for (int i = 1; i < 12; i++)
        s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

/* The same with 8-wide AVX2 FMAs: 192 flops per iteration. */
__attribute__((target("avx2,fma"), noinline))
static float bench_fma_loop_avx2(int64_t n)
{
    __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++)
        a[i] = _mm256_set1_ps((float)i);
    for (int64_t k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            a[i] = _mm256_fmadd_ps(a[i], m, c);
    }
    float out[8], r = 0;
    __m256 s = a[0];
    for (int i = 1; i < 12; i++)
        s = _mm256_add_ps(s, a[i]);
    _mm256_storeu_ps(out, s);
    for (int i = 0; i < 8; i++)
        r += out[i];
    return r;
}
#endif

/* The float32 FMA peak of this machine in GFLOP/s with `threads` threads (best of 40
 * runs of a few ms), with the widest FMA it has (AVX-512, else AVX2; 0 if neither). The
 * name of the ISA used goes to *isa if not NULL. */
static inline double bench_fma_peak(int threads, const char **isa)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f");
    if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        if (isa)
            *isa = "none";
        return 0.0;
    }
    if (isa)
        *isa = avx512 ? "AVX-512" : "AVX2";
    const int64_t n = 1 << 20;   /* ~2-4 ms per run: short runs dodge other processes */
    double flops = (double)n * (avx512 ? 384.0 : 192.0) * threads, best = INFINITY;
    volatile float sink = 0;
    for (int rep = 0; rep < 40; rep++) {
        double t0 = bench_now();
#pragma omp parallel num_threads(threads)
        {
            float r = avx512 ? bench_fma_loop_avx512(n) : bench_fma_loop_avx2(n);
#pragma omp atomic
            sink += r;
        }
        double t = bench_now() - t0;
        if (t < best)
            best = t;
    }
    (void)sink;
    return flops / best * 1e-9;
#else
    (void)threads;
    if (isa)
        *isa = "none";
    return 0.0;
#endif
}

#endif /* NABLA_BENCH_H */
