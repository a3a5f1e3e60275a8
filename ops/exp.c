/*
 * exp: y = e^x                                                              dx = dy * y
 *
 * Overflows to +inf above x ~ 88.7 and underflows to 0 below ~ -103, like expf.
 * SLEEF's expf (nb_kernel_exp): within 1 ULP.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static nb_status exp_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    nb_kernel_exp(y->data, nb_op_input(ctx, 0)->data, y->size);
    return NB_OK;
}

static nb_status exp_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_kernel_exp_backward(nb_op_grad(ctx, 0)->data, y->data, dy->data, y->size);
    return NB_OK;
}

static const nb_op exp_op = {
    .name = "exp",
    .n_inputs = 1,
    .shape = nb_op_shape_same,
    .forward = exp_forward,
    .backward = exp_backward,
};

nb_tensor *nb_exp(nb_tensor *x) { return nb_op_apply(&exp_op, &x, 1, NULL); }
