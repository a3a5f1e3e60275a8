/*
 * bench_overhead: the fixed cost of an op, on a 1-element tensor where the arithmetic
 * is nothing. Prints ns per op for
 *   - run:     nb_add with grad mode off (shape check, step allocation, forward),
 *   - record:  nb_add on an input that requires grad (adds the graph node),
 *   - backward: the backward of a 1000-op chain, per op,
 * each the best of several rounds, and the same figures relative to a malloc+free pair
 * of 64 bytes measured in the same run (a yardstick for this machine's speed).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

#define CHAIN 1000
#define ROUNDS 200

/* Best time per op over ROUNDS rounds of a CHAIN-op chain; backward too if asked. */
static double chain(nb_tensor *x, nb_tensor *one, bool backward, double *bwd_ns)
{
    double best = 1e30, best_b = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = bench_now();
        nb_tensor *y = x;
        for (int i = 0; i < CHAIN; i++)
            y = nb_add(y, one);
        double t1 = bench_now();
        if (!y) {
            fprintf(stderr, "bench_overhead: %s\n", nb_error());
            exit(1);
        }
        if (backward) {
            if (nb_backward(y) != NB_OK) {
                fprintf(stderr, "bench_overhead: %s\n", nb_error());
                exit(1);
            }
            double t2 = bench_now();
            best_b = t2 - t1 < best_b ? t2 - t1 : best_b;
        }
        best = t1 - t0 < best ? t1 - t0 : best;
        nb_step_reset();
    }
    if (bwd_ns)
        *bwd_ns = best_b / CHAIN * 1e9;
    return best / CHAIN * 1e9;
}

static double malloc_free_ns(void)
{
    bench_runs r = bench_runs_start(0, ROUNDS);
    while (bench_runs_next(&r)) {
        for (int i = 0; i < CHAIN; i++) {
            void *volatile p = malloc(64);
            free(p);
        }
    }
    return r.best / CHAIN * 1e9;
}

int main(void)
{
    nb_tensor *x = nb_tensor_scalar(1.0f), *one = nb_tensor_scalar(1.0f);
    if (!x || !one) {
        fprintf(stderr, "bench_overhead: %s\n", nb_error());
        return 1;
    }
    double ref = malloc_free_ns();
    bool prev = nb_set_grad_enabled(false);
    double run = chain(x, one, false, NULL);
    nb_set_grad_enabled(prev);
    nb_tensor_set_requires_grad(x, true);
    double bwd;
    double record = chain(x, one, true, &bwd);
    printf("per-op overhead on a 1-element tensor (best of %d x %d ops, %d threads)\n",
           ROUNDS, CHAIN, nb_num_threads());
    printf("  %-28s %8.1f ns\n", "malloc+free 64 B (yardstick)", ref);
    printf("  %-28s %8.1f ns  (%.1fx yardstick)\n", "run, grad mode off", run, run / ref);
    printf("  %-28s %8.1f ns  (%.1fx yardstick)\n", "run + record", record, record / ref);
    printf("  %-28s %8.1f ns  (%.1fx yardstick)\n", "backward, per op", bwd, bwd / ref);
    printf("  %-28s %8.1f ns  (target < 1000)\n", "record + backward", record + bwd);
    nb_tensor_free(x);
    nb_tensor_free(one);
    nb_memory_release();
    return 0;
}
