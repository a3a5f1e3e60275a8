/*
 * add_scalar: y = x + s  (s a float parameter)                                dx = dy
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

struct add_scalar_params {
    float s;
};

static nb_status add_scalar_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const struct add_scalar_params *p = nb_op_params(ctx);
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data, s = p->s;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] = x[i] + s;
    });
    return NB_OK;
}

static nb_status add_scalar_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    nb_kernel_unbroadcast_add(nb_op_grad(ctx, 0), dy);
    return NB_OK;
}

static const nb_op add_scalar_op = {
    .name = "add_scalar",
    .n_inputs = 1,
    .params_size = sizeof(struct add_scalar_params),
    .shape = nb_op_shape_same,
    .forward = add_scalar_forward,
    .backward = add_scalar_backward,
};

nb_tensor *nb_add_scalar(nb_tensor *x, float s)
{
    struct add_scalar_params p = {s};
    return nb_op_apply(&add_scalar_op, &x, 1, &p);
}
