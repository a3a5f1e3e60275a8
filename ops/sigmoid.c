/*
 * sigmoid: y = 1 / (1 + e^-x)                                   dx = dy * y * (1 - y)
 *
 * Evaluated as 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, with SLEEF's exp
 * (nb_kernel_sigmoid): within 3 ULP (2.4 measured), never overflowing.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static nb_status sigmoid_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    nb_kernel_sigmoid(y->data, nb_op_input(ctx, 0)->data, y->size);
    return NB_OK;
}

static nb_status sigmoid_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_kernel_sigmoid_backward(nb_op_grad(ctx, 0)->data, y->data, dy->data, y->size);
    return NB_OK;
}

static const nb_op sigmoid_op = {
    .name = "sigmoid",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
};

nb_tensor *nb_sigmoid(nb_tensor *x) { return nb_op_apply(&sigmoid_op, &x, 1, NULL); }
