/*
 * pow: y = x^p  (p a float parameter)                          dx = dy * p * x^(p-1)
 *
 * Follows powf and PyTorch:
 *   - a negative x with a non-integer p gives NaN, and a NaN gradient;
 *   - p = 0 gives ones (even for x = 0 or NaN) and a zero gradient;
 *   - at x = 0 with 0 < p < 1 the gradient is +inf, and with p < 0 the value is inf.
 * SLEEF's powf (nb_kernel_pow, nb_kernel_pow_backward): within 1 ULP.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

struct pow_params {
    float p;
};

static nb_status pow_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const struct pow_params *pp = nb_op_params(ctx);
    nb_kernel_pow(y->data, nb_op_input(ctx, 0)->data, pp->p, y->size);
    return NB_OK;
}

static nb_status pow_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    const struct pow_params *pp = nb_op_params(ctx);
    float p = pp->p;
    if (p == 0.0f) /* y is constant: no gradient, as in PyTorch */
        return NB_OK;
    nb_kernel_pow_backward(nb_op_grad(ctx, 0)->data, nb_op_input(ctx, 0)->data, dy->data, p,
                           y->size);
    return NB_OK;
}

static const nb_op pow_op = {
    .name = "pow",
    .n_inputs = 1,
    .params_size = sizeof(struct pow_params),
    .shape = nb_op_shape_same,
    .forward = pow_forward,
    .backward = pow_backward,
};

nb_tensor *nb_pow(nb_tensor *x, float p)
{
    struct pow_params pp = {p};
    return nb_op_apply(&pow_op, &x, 1, &pp);
}
