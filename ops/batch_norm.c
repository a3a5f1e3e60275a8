/*
 * batch_norm over channel c of x [N, C, H, W] (or [N, C], H = W = 1), M = N H W:
 *     xhat = (x - mean_c) inv_std_c,   inv_std_c = 1 / sqrt(var_c + eps)
 *     y    = gamma_c xhat + beta_c
 * Training: mean_c, var_c are the batch's (biased var, over N, H, W), and in place
 *     running_mean = (1 - momentum) running_mean + momentum mean
 *     running_var  = (1 - momentum) running_var  + momentum var M / (M - 1)
 * Not training: mean_c, var_c are running_mean, running_var.
 *
 * Backward, sums over the M values of channel c:
 *     dgamma_c += sum(dy xhat),   dbeta_c += sum(dy)
 *     training:  dx += gamma_c inv_std_c / M (M dy - sum(dy) - xhat sum(dy xhat))
 *     otherwise: dx += dy gamma_c inv_std_c
 * running_mean and running_var get no gradient.
 *
 * The running statistics are updated by every training forward, also with grad mode
 * off (as PyTorch). Deterministic: each channel is summed sequentially in double, and
 * threads split the channels. Saved for backward: mean_c and inv_std_c.
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"

typedef struct batch_norm_params {
    float momentum;
    float eps;
    bool training;
} batch_norm_params;

/* x's shape as N, C and HW (the spatial size, 1 for [N, C]). */
static void batch_norm_dims(const nb_tensor *x, int64_t *N, int64_t *C, int64_t *HW)
{
    *N = x->shape[0];
    *C = x->shape[1];
    *HW = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
}

static nb_status batch_norm_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    static const char *names[5] = {"x", "gamma", "beta", "running_mean", "running_var"};
    const batch_norm_params *p = nb_op_params(ctx);
    const nb_tensor *x = nb_op_input(ctx, 0);
    char sx[128], s[128];
    nb_tensor_shape_str(x, sx, sizeof sx);
    if (x->ndim != 2 && x->ndim != 4)
        return nb_op_error(ctx, NB_ERR_SHAPE, "x must be [N,C] or [N,C,H,W], got %s", sx);
    int64_t N, C, HW;
    batch_norm_dims(x, &N, &C, &HW);
    for (int i = 1; i < 5; i++) {
        const nb_tensor *t = nb_op_input(ctx, i);
        if (t->ndim != 1 || t->shape[0] != C)
            return nb_op_error(ctx, NB_ERR_SHAPE, "%s has shape %s but x %s has %lld channels",
                               names[i], nb_tensor_shape_str(t, s, sizeof s), sx,
                               (long long)C);
    }
    if (!(p->eps > 0))
        return nb_op_error(ctx, NB_ERR_ARG, "eps must be > 0, got %g", (double)p->eps);
    if (!(p->momentum >= 0 && p->momentum <= 1))
        return nb_op_error(ctx, NB_ERR_ARG, "momentum must be in [0, 1], got %g",
                           (double)p->momentum);
    if (p->training && N * HW == 1)
        return nb_op_error(ctx, NB_ERR_SHAPE,
                           "expected more than 1 value per channel when training, got x %s",
                           sx);
    return nb_op_shape_same(ctx, ndim, shape);
}

static nb_status batch_norm_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const batch_norm_params *p = nb_op_params(ctx);
    const nb_tensor *x = nb_op_input(ctx, 0);
    const float *xd = x->data, *gamma = nb_op_input(ctx, 1)->data;
    const float *beta = nb_op_input(ctx, 2)->data;
    float *running_mean = nb_op_input(ctx, 3)->data, *running_var = nb_op_input(ctx, 4)->data;
    float *yd = y->data;
    int64_t N, C, HW;
    batch_norm_dims(x, &N, &C, &HW);
    int64_t M = N * HW;
    float *saved = NULL;   /* mean[C], then inv_std[C] */
    if (nb_op_needs_grad(ctx) && !(saved = nb_op_save(ctx, 2 * (size_t)C * sizeof(float))))
        return NB_ERR_NOMEM;

    NB_PARALLEL_FOR_IF(x->size >= NB_PAR_MIN, c, C, {
        double mean, var;
        if (p->training) {
            double s = 0, q = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < HW; k++)
                    s += xd[(n * C + c) * HW + k];
            mean = M ? s / (double)M : 0.0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < HW; k++) {
                    double d = xd[(n * C + c) * HW + k] - mean;
                    q += d * d;
                }
            var = M ? q / (double)M : 0.0;
            if (M > 1) {
                double m = p->momentum, unbiased = q / (double)(M - 1);
                running_mean[c] = (float)((1 - m) * running_mean[c] + m * mean);
                running_var[c] = (float)((1 - m) * running_var[c] + m * unbiased);
            }
        } else {
            mean = running_mean[c];
            var = running_var[c];
        }
        float mean_c = (float)mean, inv_std = (float)(1.0 / sqrt(var + (double)p->eps));
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < HW; k++) {
                int64_t i = (n * C + c) * HW + k;
                yd[i] = gamma[c] * ((xd[i] - mean_c) * inv_std) + beta[c];
            }
        if (saved) {
            saved[c] = mean_c;
            saved[C + c] = inv_std;
        }
    });
    return NB_OK;
}

static nb_status batch_norm_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    const batch_norm_params *p = nb_op_params(ctx);
    const nb_tensor *x = nb_op_input(ctx, 0);
    const float *xd = x->data, *gamma = nb_op_input(ctx, 1)->data, *g = dy->data;
    const float *saved = nb_op_saved(ctx);
    nb_tensor *dx = nb_op_grad(ctx, 0), *dgamma = nb_op_grad(ctx, 1), *dbeta = nb_op_grad(ctx, 2);
    int64_t N, C, HW;
    batch_norm_dims(x, &N, &C, &HW);
    int64_t M = N * HW;

    NB_PARALLEL_FOR_IF(x->size >= NB_PAR_MIN, c, C, {
        float mean = saved[c], inv_std = saved[C + c];
        double sum_dy = 0, sum_dy_xhat = 0;
        if (p->training || dgamma || dbeta)
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < HW; k++) {
                    int64_t i = (n * C + c) * HW + k;
                    float xhat = (xd[i] - mean) * inv_std;
                    sum_dy += g[i];
                    sum_dy_xhat += (double)g[i] * xhat;
                }
        if (dgamma)
            dgamma->data[c] += (float)sum_dy_xhat;
        if (dbeta)
            dbeta->data[c] += (float)sum_dy;
        if (!dx)
            continue;
        float *d = dx->data;
        if (p->training) {
            double scale = (double)gamma[c] * inv_std / (double)M;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < HW; k++) {
                    int64_t i = (n * C + c) * HW + k;
                    double xhat = (xd[i] - mean) * inv_std;
                    d[i] += (float)(scale * ((double)M * g[i] - sum_dy - xhat * sum_dy_xhat));
                }
        } else {
            float scale = gamma[c] * inv_std;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < HW; k++) {
                    int64_t i = (n * C + c) * HW + k;
                    d[i] += g[i] * scale;
                }
        }
    });
    return NB_OK;
}

static const nb_op batch_norm_op = {
    .name = "batch_norm",
    .n_inputs = 5,
    .inputs = {[3] = NB_INPUT_STATE, [4] = NB_INPUT_STATE},
    .input_names = {"x", "gamma", "beta", "running_mean", "running_var"},
    .params_size = sizeof(batch_norm_params),
    .shape = batch_norm_shape,
    .forward = batch_norm_forward,
    .backward = batch_norm_backward,
};

nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *gamma, nb_tensor *beta,
                         nb_tensor *running_mean, nb_tensor *running_var, float momentum,
                         float eps, bool training)
{
    nb_tensor *in[5] = {x, gamma, beta, running_mean, running_var};
    batch_norm_params params = {.momentum = momentum, .eps = eps, .training = training};
    return nb_op_apply(&batch_norm_op, in, 5, &params);
}
