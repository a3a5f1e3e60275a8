/*
 * tanh: y = tanh x                                                    dx = dy * (1 - y^2)
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"

static nb_status tanh_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] = tanhf(x[i]);
    });
    return NB_OK;
}

static nb_status tanh_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const float *yd = y->data, *g = dy->data;
    float *d = dx->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        d[i] += g[i] * (1.0f - yd[i] * yd[i]);
    });
    return NB_OK;
}

static const nb_op tanh_op = {
    .name = "tanh",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = tanh_forward,
    .backward = tanh_backward,
};

nb_tensor *nb_tanh(nb_tensor *x) { return nb_op_apply(&tanh_op, &x, 1, NULL); }
