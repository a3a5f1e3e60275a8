/*
 * log: y = ln x                                                             dx = dy / x
 *
 * Like logf and PyTorch: log 0 = -inf (gradient +-inf there), log of a negative is NaN.
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"

static nb_status log_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] = logf(x[i]);
    });
    return NB_OK;
}

static nb_status log_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const float *x = nb_op_input(ctx, 0)->data, *g = dy->data;
    float *d = dx->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        d[i] += g[i] / x[i];
    });
    return NB_OK;
}

static const nb_op log_op = {
    .name = "log",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = log_forward,
    .backward = log_backward,
};

nb_tensor *nb_log(nb_tensor *x) { return nb_op_apply(&log_op, &x, 1, NULL); }
