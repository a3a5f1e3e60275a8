/*
 * sqrt: y = sqrt x                                                        dx = dy / (2 y)
 *
 * Like sqrtf and PyTorch: sqrt(-x) is NaN; at x = 0 the gradient is +inf (dy / 0).
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"

static nb_status sqrt_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] = sqrtf(x[i]);
    });
    return NB_OK;
}

static nb_status sqrt_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const float *yd = y->data, *g = dy->data;
    float *d = dx->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        d[i] += g[i] / (2.0f * yd[i]);
    });
    return NB_OK;
}

static const nb_op sqrt_op = {
    .name = "sqrt",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = sqrt_forward,
    .backward = sqrt_backward,
};

nb_tensor *nb_sqrt(nb_tensor *x) { return nb_op_apply(&sqrt_op, &x, 1, NULL); }
