/*
 * relu: y = max(x, 0)                                              dx = dy * [x > 0]
 *
 * Like PyTorch: the gradient at exactly x = 0 is 0, and NaN passes through (relu(NaN)
 * is NaN, with gradient 0).
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"

static nb_status relu_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] = x[i] > 0.0f || isnan(x[i]) ? x[i] : 0.0f;
    });
    return NB_OK;
}

static nb_status relu_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const float *x = nb_op_input(ctx, 0)->data, *g = dy->data;
    float *d = dx->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        if (x[i] > 0.0f)
            d[i] += g[i];
    });
    return NB_OK;
}

static const nb_op relu_op = {
    .name = "relu",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = relu_forward,
    .backward = relu_backward,
};

nb_tensor *nb_relu(nb_tensor *x) { return nb_op_apply(&relu_op, &x, 1, NULL); }
