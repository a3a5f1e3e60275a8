/*
 * mse: mean squared error of predictions p and targets y (same shape, no broadcasting).
 *
 *     l_i = (p_i - y_i)^2,    out = mean(l) | sum(l) | l      (by reduction)
 *
 *     dp_i = 2 (p_i - y_i) g_i,    dy_i = -2 (p_i - y_i) g_i,
 *
 * where g_i = dout_i (NONE), dout (SUM) or dout / n (MEAN, n = number of elements).
 * One pass each way (nb_kernel_mse, nb_kernel_mse_backward); forward sums the losses in
 * double as it goes, with no temporary array: the same bits for any thread count.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

typedef struct mse_params {
    nb_reduction reduction;
} mse_params;

static nb_status mse_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const mse_params *prm = nb_op_params(ctx);
    return nb_op_shape_loss(ctx, prm->reduction, ndim, shape);
}

static nb_status mse_forward(nb_op_ctx *ctx, nb_tensor *out)
{
    const mse_params *prm = nb_op_params(ctx);
    const nb_tensor *p = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    nb_reduction r = prm->reduction;
    double s = nb_kernel_mse(r == NB_REDUCE_NONE ? out->data : NULL, p->data, y->data, p->size);
    if (r != NB_REDUCE_NONE)
        out->data[0] = (float)(r == NB_REDUCE_MEAN ? s / (double)p->size : s);
    return NB_OK;
}

static nb_status mse_backward(nb_op_ctx *ctx, const nb_tensor *out, const nb_tensor *dout)
{
    (void)out;
    const mse_params *prm = nb_op_params(ctx);
    const nb_tensor *p = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    nb_tensor *dp = nb_op_grad(ctx, 0), *dy = nb_op_grad(ctx, 1);
    nb_reduction r = prm->reduction;
    nb_kernel_mse_backward(dp ? dp->data : NULL, dy ? dy->data : NULL, p->data, y->data,
                           r == NB_REDUCE_NONE ? dout->data : NULL,
                           nb_op_loss_scale(r, dout->data, p->size), p->size);
    return NB_OK;
}

static const nb_op mse_op = {
    .name = "mse",
    .n_inputs = 2,
    .params_size = sizeof(mse_params),
    .shape = mse_shape,
    .forward = mse_forward,
    .backward = mse_backward,
};

nb_tensor *nb_mse(nb_tensor *p, nb_tensor *y, nb_reduction reduction)
{
    nb_tensor *in[2] = {p, y};
    mse_params prm = {.reduction = reduction};
    return nb_op_apply(&mse_op, in, 2, &prm);
}
