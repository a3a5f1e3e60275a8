/*
 * relu: y = max(x, 0)                                              dx = dy * [x > 0]
 *
 * Like PyTorch: the gradient at exactly x = 0 is 0, and NaN passes through (relu(NaN)
 * is NaN, with gradient 0). Branch-free vector code (nb_kernel_relu).
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static nb_status relu_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    nb_kernel_relu(y->data, nb_op_input(ctx, 0)->data, y->size);
    return NB_OK;
}

static nb_status relu_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_kernel_relu_backward(nb_op_grad(ctx, 0)->data, nb_op_input(ctx, 0)->data, dy->data,
                           y->size);
    return NB_OK;
}

static const nb_op relu_op = {
    .name = "relu",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = relu_forward,
    .backward = relu_backward,
};

nb_tensor *nb_relu(nb_tensor *x) { return nb_op_apply(&relu_op, &x, 1, NULL); }
