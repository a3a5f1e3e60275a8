/*
 * exp: y = e^x                                                              dx = dy * y
 *
 * Overflows to +inf above x ~ 88.7 and underflows to 0 below ~ -103, like expf.
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"

static nb_status exp_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] = expf(x[i]);
    });
    return NB_OK;
}

static nb_status exp_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const float *yd = y->data, *g = dy->data;
    float *d = dx->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        d[i] += g[i] * yd[i];
    });
    return NB_OK;
}

static const nb_op exp_op = {
    .name = "exp",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = exp_forward,
    .backward = exp_backward,
};

nb_tensor *nb_exp(nb_tensor *x) { return nb_op_apply(&exp_op, &x, 1, NULL); }
