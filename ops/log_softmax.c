/*
 * log_softmax along axis a: with x viewed as [O, L, I] around a, each lane x[o,:,i] maps to
 *     y_l = x_l - m - log sum_k e^(x_k - m),   m = max_k x_k            (m keeps e^ finite)
 *     dx_l += dy_l - e^(y_l) sum_k dy_k
 *
 * Sums in double; exp is SLEEF's (1 ULP). Each lane is one thread's, computed by the
 * vector kernels nb_kernel_log_softmax_lane{,_backward} (nb_kernel_lanes walks the lanes).
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static nb_status log_softmax_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_axis_params *p = nb_op_params(ctx);
    nb_kernel_lanes(y, p->axis, nb_kernel_log_softmax_lane, y->data, nb_op_input(ctx, 0)->data,
                    NULL);
    return NB_OK;
}

static nb_status log_softmax_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    const nb_axis_params *p = nb_op_params(ctx);
    nb_kernel_lanes(y, p->axis, nb_kernel_log_softmax_lane_backward, nb_op_grad(ctx, 0)->data,
                    y->data, dy->data);
    return NB_OK;
}

static const nb_op log_softmax_op = {
    .name = "log_softmax",
    .n_inputs = 1,
    .params_size = sizeof(nb_axis_params),
    .shape = nb_op_shape_axis,
    .forward = log_softmax_forward,
    .backward = log_softmax_backward,
};

nb_tensor *nb_log_softmax(nb_tensor *x, int axis)
{
    nb_axis_params p = {.axis = axis};
    return nb_op_apply(&log_softmax_op, &x, 1, &p);
}
