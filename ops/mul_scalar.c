/*
 * mul_scalar: y = x * s  (s a float parameter)                            dx = dy * s
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"

struct mul_scalar_params {
    float s;
};

static nb_status mul_scalar_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const struct mul_scalar_params *p = nb_op_params(ctx);
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data, s = p->s;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] = x[i] * s;
    });
    return NB_OK;
}

static nb_status mul_scalar_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    const struct mul_scalar_params *p = nb_op_params(ctx);
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const float *g = dy->data;
    float *d = dx->data, s = p->s;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        d[i] += g[i] * s;
    });
    return NB_OK;
}

static const nb_op mul_scalar_op = {
    .name = "mul_scalar",
    .n_inputs = 1,
    .params_size = sizeof(struct mul_scalar_params),
    .shape = nb_op_shape_same,
    .forward = mul_scalar_forward,
    .backward = mul_scalar_backward,
};

nb_tensor *nb_mul_scalar(nb_tensor *x, float s)
{
    struct mul_scalar_params p = {s};
    return nb_op_apply(&mul_scalar_op, &x, 1, &p);
}
