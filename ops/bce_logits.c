/*
 * bce_logits: binary cross-entropy on logits z (p = sigmoid z) and targets y (same
 * shape, no broadcasting), in the stable form that never exponentiates a positive number:
 *
 *     l_i = max(z_i, 0) - z_i y_i + log1p(e^-|z_i|),   out = mean(l) | sum(l) | l
 *
 *     dz_i = g_i (sigmoid(z_i) - y_i),    dy_i = -g_i z_i
 *
 * with g_i = dout_i (NONE), dout (SUM) or dout / n (MEAN, n = number of elements).
 * sigmoid is evaluated as 1 / (1 + e^-z) for z >= 0 and e^z / (1 + e^z) for z < 0, so
 * z = +-100 gives finite losses and gradients. exp and log1p are SLEEF's (1 ULP).
 * Forward is one pass that sums the losses as it goes (nb_kernel_bce_logits: no
 * temporary array, the same bits for any thread count); backward is one pass
 * (nb_kernel_bce_logits_backward).
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

typedef struct bce_logits_params {
    nb_reduction reduction;
} bce_logits_params;

static nb_status bce_logits_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const bce_logits_params *prm = nb_op_params(ctx);
    return nb_op_shape_loss(ctx, prm->reduction, ndim, shape);
}

static nb_status bce_logits_forward(nb_op_ctx *ctx, nb_tensor *out)
{
    const bce_logits_params *prm = nb_op_params(ctx);
    const nb_tensor *z = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    nb_reduction r = prm->reduction;
    double s = nb_kernel_bce_logits(r == NB_REDUCE_NONE ? out->data : NULL, z->data, y->data,
                                    z->size);
    if (r != NB_REDUCE_NONE)
        out->data[0] = (float)(r == NB_REDUCE_MEAN ? s / (double)z->size : s);
    return NB_OK;
}

static nb_status bce_logits_backward(nb_op_ctx *ctx, const nb_tensor *out,
                                     const nb_tensor *dout)
{
    (void)out;
    const bce_logits_params *prm = nb_op_params(ctx);
    const nb_tensor *z = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    nb_tensor *dz = nb_op_grad(ctx, 0), *dy = nb_op_grad(ctx, 1);
    nb_reduction r = prm->reduction;
    nb_kernel_bce_logits_backward(dz ? dz->data : NULL, dy ? dy->data : NULL, z->data, y->data,
                                  r == NB_REDUCE_NONE ? dout->data : NULL,
                                  nb_op_loss_scale(r, dout->data, z->size), z->size);
    return NB_OK;
}

static const nb_op bce_logits_op = {
    .name = "bce_logits",
    .n_inputs = 2,
    .params_size = sizeof(bce_logits_params),
    .shape = bce_logits_shape,
    .forward = bce_logits_forward,
    .backward = bce_logits_backward,
};

nb_tensor *nb_bce_logits(nb_tensor *z, nb_tensor *y, nb_reduction reduction)
{
    nb_tensor *in[2] = {z, y};
    bce_logits_params prm = {.reduction = reduction};
    return nb_op_apply(&bce_logits_op, in, 2, &prm);
}
