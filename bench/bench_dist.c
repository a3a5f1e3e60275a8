/*
 * bench_dist: the time of one gradient allreduce (nb_dist_average_grads) of the Fashion
 * MLP's and CNN's gradient arenas, under
 *     mpirun -np 2 ./bench_dist
 * best and median of 200 calls, with the bandwidth it amounts to. Rank 0 prints.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

#include "nabla/dist.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    nb_dist *d = nb_dist_init(&argc, &argv);
    if (!d) {
        fprintf(stderr, "bench_dist: %s\n", nb_error());
        return 1;
    }
    static const struct { const char *name; int64_t params; } models[] = {
        {"Fashion MLP 784-256-128-10", 235146},
        {"Fashion CNN (examples/fashion_cnn.c)", 421642},
    };
    if (nb_dist_is_root(d))
        printf("allreduce of the gradient arena, %d ranks (one MPI_Allreduce + the 1/N scale)\n",
               nb_dist_size(d));
    for (int k = 0; k < 2; k++) {
        nb_params *ps = nb_params_new();
        nb_tensor *g = nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(models[k].params));
        if (!g || nb_params_finalize(ps) != NB_OK) {
            fprintf(stderr, "bench_dist: %s\n", nb_error());
            return 1;
        }
        enum { REPS = 200 };
        double t[REPS];
        for (int r = 0; r < REPS + 10; r++) {
            MPI_Barrier(nb_dist_comm(d));
            double t0 = bench_now();
            if (nb_dist_average_grads(d, ps) != NB_OK) {
                fprintf(stderr, "bench_dist: %s\n", nb_error());
                return 1;
            }
            if (r >= 10)
                t[r - 10] = bench_now() - t0;
        }
        qsort(t, REPS, sizeof t[0], cmp);
        double bytes = 4.0 * (double)models[k].params;
        if (nb_dist_is_root(d))
            printf("  %-38s %8.2f MB  best %7.3f ms  median %7.3f ms  (%.2f GB/s)\n",
                   models[k].name, bytes * 1e-6, 1e3 * t[0], 1e3 * t[REPS / 2],
                   bytes / t[REPS / 2] * 1e-9);
        nb_params_free(ps);
    }
    nb_dist_free(d);
    nb_memory_release();
    return 0;
}
