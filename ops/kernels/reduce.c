/*
 * ops/kernels/reduce.c - deterministic sums, and the helpers of reductions and ops
 * along an axis (sum, mean, softmax, log_softmax).
 */
#include "nabla/op.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

#define SUM_BLOCKS_MAX 256
#define SUM_BLOCK_MIN 4096

/* Columns of I outputs summed together by nb_kernel_sum_axis, so each task reads
 * contiguous rows of x. */
#define SUM_COLS 64

/* Adjacent lanes handed to one task by nb_kernel_lanes. */
#define LANE_BLOCK 64

/* Sum of x[0..n) (of x^2 if `squares`) in double with 8 interleaved accumulators,
 * folded in a fixed order. */
static double sum_block(const float *x, int64_t n, bool squares)
{
    double acc[8] = {0};
    int64_t i = 0;
    if (squares) {
        for (; i + 8 <= n; i += 8)
            for (int k = 0; k < 8; k++)
                acc[k] += (double)x[i + k] * x[i + k];
        for (; i < n; i++)
            acc[i & 7] += (double)x[i] * x[i];
    } else {
        for (; i + 8 <= n; i += 8)
            for (int k = 0; k < 8; k++)
                acc[k] += x[i + k];
        for (; i < n; i++)
            acc[i & 7] += x[i];
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static double blocked_sum(const float *x, int64_t n, bool squares)
{
    if (n <= SUM_BLOCK_MIN)
        return n > 0 ? sum_block(x, n, squares) : 0.0;
    /* The blocking depends on n only, so the result does not depend on threads. */
    int64_t nb = (n + SUM_BLOCK_MIN - 1) / SUM_BLOCK_MIN;
    if (nb > SUM_BLOCKS_MAX)
        nb = SUM_BLOCKS_MAX;
    int64_t len = (n + nb - 1) / nb;
    double part[SUM_BLOCKS_MAX];
    NB_PARALLEL_FOR_IF(n >= NB_PAR_MIN, b, nb, {
        int64_t lo = b * len, hi = lo + len < n ? lo + len : n;
        part[b] = lo < hi ? sum_block(x + lo, hi - lo, squares) : 0.0;
    });
    double s = 0.0;
    for (int64_t b = 0; b < nb; b++)
        s += part[b];
    return s;
}

double nb_kernel_sum(const float *x, int64_t n) { return blocked_sum(x, n, false); }

double nb_kernel_sum_squares(const float *x, int64_t n) { return blocked_sum(x, n, true); }

/* Input 0's `axis` as an index in [0, ndim) in *out, or NB_ERR_ARG. */
static nb_status check_axis(nb_op_ctx *ctx, int axis, int *out)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    *out = axis < 0 ? axis + x->ndim : axis;
    if (*out < 0 || *out >= x->ndim) {
        char s[128];
        return nb_op_error(ctx, NB_ERR_ARG, "axis %d is out of range for shape %s", axis,
                           nb_tensor_shape_str(x, s, sizeof s));
    }
    return NB_OK;
}

/* t's shape as [O, L, I] around `axis` (in [-ndim, ndim)). */
static void axis_split(const nb_tensor *t, int axis, int64_t *O, int64_t *L, int64_t *I)
{
    if (axis < 0)
        axis += t->ndim;
    *O = 1;
    *I = 1;
    for (int d = 0; d < axis; d++)
        *O *= t->shape[d];
    for (int d = axis + 1; d < t->ndim; d++)
        *I *= t->shape[d];
    *L = t->shape[axis];
}

nb_status nb_op_shape_reduce(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS])
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const nb_reduce_params *p = nb_op_params(ctx);
    if (p->all) {
        *ndim = 0;
        return NB_OK;
    }
    int axis;
    nb_status s = check_axis(ctx, p->axis, &axis);
    if (s != NB_OK)
        return s;
    int n = 0;
    for (int d = 0; d < x->ndim; d++)
        if (d != axis)
            shape[n++] = x->shape[d];
        else if (p->keepdim)
            shape[n++] = 1;
    *ndim = n;
    return NB_OK;
}

void nb_op_reduce_split(const nb_op_ctx *ctx, int64_t *O, int64_t *L, int64_t *I)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const nb_reduce_params *p = nb_op_params(ctx);
    if (p->all) {
        *O = 1;
        *L = x->size;
        *I = 1;
    } else {
        axis_split(x, p->axis, O, L, I);
    }
}

void nb_kernel_sum_axis(float *y, const float *x, int64_t O, int64_t L, int64_t I,
                        double div)
{
    const int64_t n = O * L * I;
    if (O == 1 && I == 1) {
        /* One output: nb_kernel_sum splits it across threads itself. */
        y[0] = (float)(nb_kernel_sum(x, L) / div);
        return;
    }
    if (I == 1) {
        NB_PARALLEL_FOR_IF(n >= NB_PAR_MIN, o, O, {
            y[o] = (float)(nb_kernel_sum(x + o * L, L) / div);
        });
        return;
    }
    /* Tasks are SUM_COLS-wide column blocks of one o. */
    int64_t n_blocks = (I + SUM_COLS - 1) / SUM_COLS;
    NB_PARALLEL_FOR_IF(n >= NB_PAR_MIN, t, O * n_blocks, {
        int64_t o = t / n_blocks, i0 = t % n_blocks * SUM_COLS;
        int64_t w = I - i0 < SUM_COLS ? I - i0 : SUM_COLS;
        double acc[SUM_COLS] = {0};
        for (int64_t l = 0; l < L; l++) {
            const float *row = x + (o * L + l) * I + i0;
            for (int64_t i = 0; i < w; i++)
                acc[i] += row[i];
        }
        for (int64_t i = 0; i < w; i++)
            y[o * I + i0 + i] = (float)(acc[i] / div);
    });
}

void nb_kernel_sum_axis_backward(float *dx, const float *dy, int64_t O, int64_t L,
                                 int64_t I, float scale)
{
    const int64_t n = O * L * I;
    if (O == 1 && I == 1) {
        float g0 = dy[0] * scale;
        NB_PARALLEL_FOR(k, n, {
            dx[k] += g0;
        });
        return;
    }
    /* Row (o, l) of dx gets row o of dy. */
    NB_PARALLEL_FOR_IF(n >= NB_PAR_MIN, r, O * L, {
        float *d = dx + r * I;
        const float *g = dy + r / L * I;
        for (int64_t i = 0; i < I; i++)
            d[i] += g[i] * scale;
    });
}

nb_status nb_op_shape_axis(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS])
{
    const nb_axis_params *p = nb_op_params(ctx);
    int axis;
    nb_status s = check_axis(ctx, p->axis, &axis);
    return s != NB_OK ? s : nb_op_shape_same(ctx, ndim, shape);
}

void nb_kernel_lanes(const nb_tensor *t, int axis, nb_lane_run run, float *out,
                     const float *a, const float *b)
{
    if (t->size == 0) /* outer or inner may still be huge: [2^14, 0, 2^14] */
        return;
    int64_t O, L, I;
    axis_split(t, axis, &O, &L, &I);
    if (I == 1) {
        /* Lane o is the contiguous row o. */
        NB_PARALLEL_FOR_IF(t->size >= NB_PAR_MIN, o, O, {
            int64_t base = o * L;
            run(out + base, a ? a + base : NULL, b ? b + base : NULL, L, 1);
        });
        return;
    }
    /* Tasks are LANE_BLOCK adjacent lanes of one o: one division per task, not per lane. */
    int64_t n_blocks = (I + LANE_BLOCK - 1) / LANE_BLOCK;
    NB_PARALLEL_FOR_IF(t->size >= NB_PAR_MIN, task, O * n_blocks, {
        int64_t o = task / n_blocks, i0 = task % n_blocks * LANE_BLOCK;
        int64_t i1 = I - i0 < LANE_BLOCK ? I : i0 + LANE_BLOCK;
        for (int64_t i = i0; i < i1; i++) {
            int64_t base = o * L * I + i;
            run(out + base, a ? a + base : NULL, b ? b + base : NULL, L, I);
        }
    });
}
