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

typedef struct mse_params {
    nb_reduction reduction;
} mse_params;

static nb_status mse_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const mse_params *prm = nb_op_params(ctx);
    const nb_tensor *p = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    int r = (int)prm->reduction;
    if (r < NB_REDUCE_MEAN || r > NB_REDUCE_NONE)
        return nb_op_error(ctx, NB_ERR_ARG, "invalid reduction %d (expected NB_REDUCE_MEAN, "
                                            "NB_REDUCE_SUM or NB_REDUCE_NONE)", r);
    if (!nb_tensor_same_shape(p, y)) {
        char sp[128], sy[128];
        return nb_op_error(ctx, NB_ERR_SHAPE, "shapes differ: %s and %s",
                           nb_tensor_shape_str(p, sp, sizeof sp),
                           nb_tensor_shape_str(y, sy, sizeof sy));
    }
    if (r == NB_REDUCE_NONE)
        return nb_op_same_shape(ctx, 0, ndim, shape);
    *ndim = 0;
    return NB_OK;
}

static nb_status mse_forward(nb_op_ctx *ctx, nb_tensor *out)
{
    const mse_params *prm = nb_op_params(ctx);
    const nb_tensor *p = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    const float *pd = p->data, *yd = y->data;
    int64_t n = p->size;
    bool none = prm->reduction == NB_REDUCE_NONE;

    nb_step_mark mark = nb_step_mark_get();
    float *l = none ? out->data : nb_step_alloc((size_t)n * sizeof(float));
    if (!l)
        return NB_ERR_NOMEM;
    NB_PARALLEL_FOR(i, n, {
        float d = pd[i] - yd[i];
        l[i] = d * d;
    });
    if (!none) {
        double s = nb_kernel_sum(l, n);
        out->data[0] = (float)(prm->reduction == NB_REDUCE_MEAN ? s / (double)n : s);
        nb_step_rewind(mark);
    }
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
    float scale = 0.0f; /* dout for SUM, dout / n for MEAN */
    if (!none)
        scale = prm->reduction == NB_REDUCE_SUM ? g[0] : (float)(g[0] / (double)n);
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
