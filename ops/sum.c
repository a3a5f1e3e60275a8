/*
 * sum: y = sum_i x_i (0-D)                                               dx_i += dy
 *      along axis a, x viewed as [O, L, I]:
 *      y[o,i] = sum_l x[o,l,i]                                      dx[o,l,i] += dy[o,i]
 *
 * Deterministic: the full sum goes through nb_kernel_sum; along an axis each output is
 * summed in order l = 0, 1, ... in double, one thread per output (nb_kernel_sum_axis).
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static nb_status sum_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    int64_t O, L, I;
    nb_op_reduce_split(ctx, &O, &L, &I);
    nb_kernel_sum_axis(y->data, nb_op_input(ctx, 0)->data, O, L, I, 1.0);
    return NB_OK;
}

static nb_status sum_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    int64_t O, L, I;
    nb_op_reduce_split(ctx, &O, &L, &I);
    nb_kernel_sum_axis_backward(nb_op_grad(ctx, 0)->data, dy->data, O, L, I, 1.0f);
    return NB_OK;
}

static const nb_op sum_op = {
    .name = "sum",
    .n_inputs = 1,
    .params_size = sizeof(nb_reduce_params),
    .shape = nb_op_shape_reduce,
    .forward = sum_forward,
    .backward = sum_backward,
};

/* The same op along one axis, named as the user calls it in messages. */
static const nb_op sum_axis_op = {
    .name = "sum_axis",
    .n_inputs = 1,
    .params_size = sizeof(nb_reduce_params),
    .shape = nb_op_shape_reduce,
    .forward = sum_forward,
    .backward = sum_backward,
};

nb_tensor *nb_sum(nb_tensor *x)
{
    nb_reduce_params p = {.all = true};
    return nb_op_apply(&sum_op, &x, 1, &p);
}

nb_tensor *nb_sum_axis(nb_tensor *x, int axis, bool keepdim)
{
    nb_reduce_params p = {.axis = axis, .keepdim = keepdim};
    return nb_op_apply(&sum_axis_op, &x, 1, &p);
}
