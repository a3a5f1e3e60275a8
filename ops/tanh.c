/*
 * tanh: y = tanh x                                                    dx = dy * (1 - y^2)
 *
 * SLEEF's tanhf (nb_kernel_tanh): within 1 ULP.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static nb_status tanh_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    nb_kernel_tanh(y->data, nb_op_input(ctx, 0)->data, y->size);
    return NB_OK;
}

static nb_status tanh_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_kernel_tanh_backward(nb_op_grad(ctx, 0)->data, y->data, dy->data, y->size);
    return NB_OK;
}

static const nb_op tanh_op = {
    .name = "tanh",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = tanh_forward,
    .backward = tanh_backward,
};

nb_tensor *nb_tanh(nb_tensor *x) { return nb_op_apply(&tanh_op, &x, 1, NULL); }
