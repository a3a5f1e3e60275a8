/*
 * sqrt: y = sqrt x                                                        dx = dy / (2 y)
 *
 * Like sqrtf and PyTorch: sqrt(-x) is NaN; at x = 0 the gradient is +inf (dy / 0).
 * Correctly rounded (the vector sqrt instruction, nb_kernel_sqrt).
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static nb_status sqrt_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    nb_kernel_sqrt(y->data, nb_op_input(ctx, 0)->data, y->size);
    return NB_OK;
}

static nb_status sqrt_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_kernel_sqrt_backward(nb_op_grad(ctx, 0)->data, y->data, dy->data, y->size);
    return NB_OK;
}

static const nb_op sqrt_op = {
    .name = "sqrt",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = sqrt_forward,
    .backward = sqrt_backward,
};

nb_tensor *nb_sqrt(nb_tensor *x) { return nb_op_apply(&sqrt_op, &x, 1, NULL); }
