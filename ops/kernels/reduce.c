/*
 * ops/kernels/reduce.c - deterministic sums.
 */
#include "nabla/op.h"

#define SUM_BLOCKS_MAX 256
#define SUM_BLOCK_MIN 4096

/* Sum of x[0..n) in double with 8 interleaved accumulators, folded in a fixed order. */
static double sum_block(const float *x, int64_t n)
{
    double acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += x[i + k];
    for (; i < n; i++)
        acc[i & 7] += x[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double nb_kernel_sum(const float *x, int64_t n)
{
    if (n <= SUM_BLOCK_MIN)
        return sum_block(x, n);
    /* The blocking depends on n only, so the result does not depend on threads. */
    int64_t nb = (n + SUM_BLOCK_MIN - 1) / SUM_BLOCK_MIN;
    if (nb > SUM_BLOCKS_MAX)
        nb = SUM_BLOCKS_MAX;
    int64_t len = (n + nb - 1) / nb;
    double part[SUM_BLOCKS_MAX];
    NB_PARALLEL_FOR_IF(n >= NB_PAR_MIN, b, nb, {
        int64_t lo = b * len, hi = lo + len < n ? lo + len : n;
        part[b] = lo < hi ? sum_block(x + lo, hi - lo) : 0.0;
    });
    double s = 0.0;
    for (int64_t b = 0; b < nb; b++)
        s += part[b];
    return s;
}
