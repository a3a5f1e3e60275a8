/*
 * mse: mean squared error of predictions p and targets y (same shape, no broadcasting).
 *
 *     l_i = (p_i - y_i)^2,    out = mean(l) | sum(l) | l      (by reduction)
 *
 *     dp_i = 2 (p_i - y_i) g_i,    dy_i = -2 (p_i - y_i) g_i,
 *
 * where g_i = dout_i (NONE), dout (SUM) or dout / n (MEAN, n = number of elements).
 * The per-element losses are summed with nb_kernel_sum: the same bits for any thread
 * count.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
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
    const float *pd = p->data, *yd = y->data;
    int64_t n = p->size;

    nb_step_mark mark;
    float *l = nb_op_loss_begin(out, prm->reduction, n, &mark);
    if (!l)
        return NB_ERR_NOMEM;
    NB_PARALLEL_FOR(i, n, {
        float d = pd[i] - yd[i];
        l[i] = d * d;
    });
    nb_op_loss_end(out, prm->reduction, l, n, mark);
    return NB_OK;
}

static nb_status mse_backward(nb_op_ctx *ctx, const nb_tensor *out, const nb_tensor *dout)
{
    (void)out;
    const mse_params *prm = nb_op_params(ctx);
    const nb_tensor *p = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    nb_tensor *dp = nb_op_grad(ctx, 0), *dy = nb_op_grad(ctx, 1);
    const float *pd = p->data, *yd = y->data, *g = dout->data;
    float *dpd = dp ? dp->data : NULL, *dyd = dy ? dy->data : NULL;
    int64_t n = p->size;
    bool none = prm->reduction == NB_REDUCE_NONE;
    float scale = nb_op_loss_scale(prm->reduction, g, n);
    NB_PARALLEL_FOR(i, n, {
        float d = 2.0f * (pd[i] - yd[i]) * (none ? g[i] : scale);
        if (dpd)
            dpd[i] += d;
        if (dyd)
            dyd[i] -= d;
    });
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
