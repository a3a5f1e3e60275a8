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
 * z = +-100 gives finite losses and gradients. The losses are summed with
 * nb_kernel_sum: the same bits for any thread count.
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

typedef struct bce_logits_params {
    nb_reduction reduction;
} bce_logits_params;

static inline float stable_sigmoid(float z)
{
    if (z >= 0.0f)
        return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

static nb_status bce_logits_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const bce_logits_params *prm = nb_op_params(ctx);
    return nb_op_shape_loss(ctx, prm->reduction, ndim, shape);
}

static nb_status bce_logits_forward(nb_op_ctx *ctx, nb_tensor *out)
{
    const bce_logits_params *prm = nb_op_params(ctx);
    const nb_tensor *z = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    const float *zd = z->data, *yd = y->data;
    int64_t n = z->size;

    nb_step_mark mark;
    float *l = nb_op_loss_begin(out, prm->reduction, n, &mark);
    if (!l)
        return NB_ERR_NOMEM;
    NB_PARALLEL_FOR(i, n, {
        l[i] = fmaxf(zd[i], 0.0f) - zd[i] * yd[i] + log1pf(expf(-fabsf(zd[i])));
    });
    nb_op_loss_end(out, prm->reduction, l, n, mark);
    return NB_OK;
}

static nb_status bce_logits_backward(nb_op_ctx *ctx, const nb_tensor *out,
                                     const nb_tensor *dout)
{
    (void)out;
    const bce_logits_params *prm = nb_op_params(ctx);
    const nb_tensor *z = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    nb_tensor *dz = nb_op_grad(ctx, 0), *dy = nb_op_grad(ctx, 1);
    const float *zd = z->data, *yd = y->data, *g = dout->data;
    float *dzd = dz ? dz->data : NULL, *dyd = dy ? dy->data : NULL;
    int64_t n = z->size;
    bool none = prm->reduction == NB_REDUCE_NONE;
    float scale = nb_op_loss_scale(prm->reduction, g, n);
    NB_PARALLEL_FOR(i, n, {
        float gi = none ? g[i] : scale;
        if (dzd)
            dzd[i] += gi * (stable_sigmoid(zd[i]) - yd[i]);
        if (dyd)
            dyd[i] -= gi * zd[i];
    });
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
