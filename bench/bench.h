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

#endif /* NABLA_BENCH_H */
