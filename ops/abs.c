/*
 * abs: y = |x|                                                      dx = dy * sign(x)
 *
 * Like PyTorch: the gradient at exactly x = 0 (either sign of zero) is 0, and NaN
 * passes through (|NaN| is NaN, with gradient 0).
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"

static nb_status abs_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] = fabsf(x[i]);
    });
    return NB_OK;
}

static nb_status abs_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const float *x = nb_op_input(ctx, 0)->data, *g = dy->data;
    float *d = dx->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        if (x[i] > 0.0f)
            d[i] += g[i];
        else if (x[i] < 0.0f)
            d[i] -= g[i];
    });
    return NB_OK;
}

static const nb_op abs_op = {
    .name = "abs",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = abs_forward,
    .backward = abs_backward,
};

nb_tensor *nb_abs(nb_tensor *x) { return nb_op_apply(&abs_op, &x, 1, NULL); }
