/*
 * log: y = ln x                                                             dx = dy / x
 *
 * Like logf and PyTorch: log 0 = -inf (gradient +-inf there), log of a negative is NaN.
 * SLEEF's logf (nb_kernel_log): within 1 ULP.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static nb_status log_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    nb_kernel_log(y->data, nb_op_input(ctx, 0)->data, y->size);
    return NB_OK;
}

static nb_status log_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_kernel_log_backward(nb_op_grad(ctx, 0)->data, nb_op_input(ctx, 0)->data, dy->data,
                          y->size);
    return NB_OK;
}

static const nb_op log_op = {
    .name = "log",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = log_forward,
    .backward = log_backward,
};

nb_tensor *nb_log(nb_tensor *x) { return nb_op_apply(&log_op, &x, 1, NULL); }
