/*
 * mean: y = (1/N) sum_i x_i (0-D), N = size of x                      dx_i += dy / N
 *       along axis a, x viewed as [O, L, I]:
 *       y[o,i] = (1/L) sum_l x[o,l,i]                            dx[o,l,i] += dy[o,i] / L
 *
 * The mean of no elements is NaN (0/0), as in NumPy. Deterministic: the full sum goes
 * through nb_kernel_sum; along an axis each output is summed in order l = 0, 1, ... in
 * double, one thread per output (nb_kernel_sum_axis), then divided in double.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static nb_status mean_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    int64_t O, L, I;
    nb_op_reduce_split(ctx, &O, &L, &I);
    nb_kernel_sum_axis(y->data, nb_op_input(ctx, 0)->data, O, L, I, (double)L);
    return NB_OK;
}

static nb_status mean_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    const nb_reduce_params *p = nb_op_params(ctx);
    float *dx = nb_op_grad(ctx, 0)->data;
    int64_t O, L, I;
    nb_op_reduce_split(ctx, &O, &L, &I);
    if (p->all) {
        /* dy / N divided in double, as the forward divides. */
        float g0 = (float)(dy->data[0] / (double)L);
        nb_kernel_sum_axis_backward(dx, &g0, O, L, I, 1.0f);
    } else {
        nb_kernel_sum_axis_backward(dx, dy->data, O, L, I, (float)(1.0 / (double)L));
    }
    return NB_OK;
}

static const nb_op mean_op = {
    .name = "mean",
    .n_inputs = 1,
    .params_size = sizeof(nb_reduce_params),
    .shape = nb_op_shape_reduce,
    .forward = mean_forward,
    .backward = mean_backward,
};

/* The same op along one axis, named as the user calls it in messages. */
static const nb_op mean_axis_op = {
    .name = "mean_axis",
    .n_inputs = 1,
    .params_size = sizeof(nb_reduce_params),
    .shape = nb_op_shape_reduce,
    .forward = mean_forward,
    .backward = mean_backward,
};

nb_tensor *nb_mean(nb_tensor *x)
{
    nb_reduce_params p = {.all = true};
    return nb_op_apply(&mean_op, &x, 1, &p);
}

nb_tensor *nb_mean_axis(nb_tensor *x, int axis, bool keepdim)
{
    nb_reduce_params p = {.axis = axis, .keepdim = keepdim};
    return nb_op_apply(&mean_axis_op, &x, 1, &p);
}
