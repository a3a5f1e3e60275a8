/*
 * neg: y = -x                                                                 dx = -dy
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"

static nb_status neg_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] = -x[i];
    });
    return NB_OK;
}

static nb_status neg_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const float *g = dy->data;
    float *d = dx->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        d[i] -= g[i];
    });
    return NB_OK;
}

static const nb_op neg_op = {
    .name = "neg",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = neg_forward,
    .backward = neg_backward,
};

nb_tensor *nb_neg(nb_tensor *x) { return nb_op_apply(&neg_op, &x, 1, NULL); }
