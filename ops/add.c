/*
 * add: y = a + b, broadcasting.         da = sum_broadcast(dy), db = sum_broadcast(dy)
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static void add_run(float *y, const float *a, int64_t sa, const float *b, int64_t sb,
                    int64_t n, const void *ud)
{
    (void)ud;
    for (int64_t k = 0; k < n; k++)
        y[k] = a[k * sa] + b[k * sb];
}

static nb_status add_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    return nb_op_shape_broadcast(ctx, 0, 1, ndim, shape);
}

static nb_status add_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    nb_kernel_broadcast(y, nb_op_input(ctx, 0), nb_op_input(ctx, 1), add_run, NULL);
    return NB_OK;
}

static nb_status add_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    for (int i = 0; i < 2; i++) {
        nb_tensor *dx = nb_op_grad(ctx, i);
        if (dx)
            nb_kernel_unbroadcast_add(dx, dy);
    }
    return NB_OK;
}

static const nb_op add_op = {
    .name = "add",
    .n_inputs = 2,
    .shape = add_shape,
    .forward = add_forward,
    .backward = add_backward,
};

nb_tensor *nb_add(nb_tensor *a, nb_tensor *b)
{
    nb_tensor *in[2] = {a, b};
    return nb_op_apply(&add_op, in, 2, NULL);
}
