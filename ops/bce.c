/*
 * bce: binary cross-entropy of probabilities p and targets y (same shape, no
 * broadcasting), with each log clamped at -100 as in PyTorch:
 *
 *     L(x) = max(ln x, -100)
 *     l_i = -(y_i L(p_i) + (1 - y_i) L(1 - p_i)),   out = mean(l) | sum(l) | l
 *
 *     dp_i = g_i (-y_i L'(p_i) + (1 - y_i) L'(1 - p_i))
 *     dy_i = g_i (L(1 - p_i) - L(p_i))
 *
 * with g_i = dout_i (NONE), dout (SUM) or dout / n (MEAN, n = number of elements), and
 *
 *     L'(x) = 1 / max(x, 1e-12)   where ln x > -100,
 *             0                   where the clamp holds (x <= e^-100, x = 0 included).
 *
 * L' is the derivative of the clamped log, except that 1/x is capped at 1e12 (PyTorch's
 * BCE epsilon) for 0 < x < 1e-12, so the gradient is finite for every p in [0, 1]:
 *     p = 0: dp = g (1 - y),  dy = 100 g;     p = 1: dp = -g y,  dy = -100 g.
 * Where no log is clamped and p (1 - p) >= 1e-12, dp is computed in the equal form
 * g (p - y) / (p (1 - p)), which does not cancel when p is close to a soft target y;
 * this is PyTorch's formula there. (PyTorch's g (p - y) / max(p (1 - p), 1e-12) used
 * everywhere gives 0 or about +-1e12 at p = 0 or 1 instead of the derivative of the
 * clamped expression.)
 * L(1 - p) is computed as log1p(-p). p outside [0, 1], or NaN, gives a NaN loss and
 * NaN gradients (the clamp is only for p in [0, 1]). The logs are SLEEF's (1 ULP).
 * Forward is one pass that sums the losses as it goes (nb_kernel_bce: no temporary
 * array, the same bits for any thread count); backward is one pass, and computes the
 * logs only for dy and for elements within 1e-12 of 0 or 1 (nb_kernel_bce_backward).
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

typedef struct bce_params {
    nb_reduction reduction;
} bce_params;

static nb_status bce_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const bce_params *prm = nb_op_params(ctx);
    return nb_op_shape_loss(ctx, prm->reduction, ndim, shape);
}

static nb_status bce_forward(nb_op_ctx *ctx, nb_tensor *out)
{
    const bce_params *prm = nb_op_params(ctx);
    const nb_tensor *p = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    nb_reduction r = prm->reduction;
    double s = nb_kernel_bce(r == NB_REDUCE_NONE ? out->data : NULL, p->data, y->data, p->size);
    if (r != NB_REDUCE_NONE)
        out->data[0] = (float)(r == NB_REDUCE_MEAN ? s / (double)p->size : s);
    return NB_OK;
}

static nb_status bce_backward(nb_op_ctx *ctx, const nb_tensor *out, const nb_tensor *dout)
{
    (void)out;
    const bce_params *prm = nb_op_params(ctx);
    const nb_tensor *p = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    nb_tensor *dp = nb_op_grad(ctx, 0), *dy = nb_op_grad(ctx, 1);
    nb_reduction r = prm->reduction;
    nb_kernel_bce_backward(dp ? dp->data : NULL, dy ? dy->data : NULL, p->data, y->data,
                           r == NB_REDUCE_NONE ? dout->data : NULL,
                           nb_op_loss_scale(r, dout->data, p->size), p->size);
    return NB_OK;
}

static const nb_op bce_op = {
    .name = "bce",
    .n_inputs = 2,
    .params_size = sizeof(bce_params),
    .shape = bce_shape,
    .forward = bce_forward,
    .backward = bce_backward,
};

nb_tensor *nb_bce(nb_tensor *p, nb_tensor *y, nb_reduction reduction)
{
    nb_tensor *in[2] = {p, y};
    bce_params prm = {.reduction = reduction};
    return nb_op_apply(&bce_op, in, 2, &prm);
}
