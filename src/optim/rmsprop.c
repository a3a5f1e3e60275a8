/*
 * src/optim/rmsprop.c - RMSprop, plain or centered, with momentum (torch.optim.RMSprop).
 */
#include <math.h>

#include "check.h"
#include "nabla/optim.h"

enum { SQUARE_AVG, GRAD_AVG, MOMENTUM_BUFFER };

static nb_status rmsprop_check(void *opts)
{
    nb_rmsprop_opts *o = opts;
    if (o->alpha == 0.0f)
        o->alpha = 0.99f;
    if (o->eps == 0.0f)
        o->eps = 1e-8f;
    nb_status s;
    if ((s = optim_check_unit("rmsprop", "alpha", o->alpha, false)) != NB_OK ||
        (s = optim_check_pos("rmsprop", "eps", o->eps)) != NB_OK ||
        (s = optim_check_nonneg("rmsprop", "weight_decay", o->weight_decay)) != NB_OK ||
        (s = optim_check_nonneg("rmsprop", "momentum", o->momentum)) != NB_OK)
        return s;
    return NB_OK;
}

static bool rmsprop_has_state(const void *opts, int k)
{
    const nb_rmsprop_opts *o = opts;
    return k == SQUARE_AVG || (k == GRAD_AVG && o->centered) ||
           (k == MOMENTUM_BUFFER && o->momentum != 0.0f);
}

/* Per element, with g = grad + weight_decay p, v = square_avg, a = grad_avg,
 * b = momentum_buffer:
 *     v = alpha v + (1 - alpha) g^2
 *     centered:  a = a + (1 - alpha) (g - a),  d = sqrt(max(v - a^2, 0)) + eps
 *     otherwise: d = sqrt(v) + eps
 *     momentum > 0:  b = momentum b + g / d,  p -= lr b
 *     otherwise:     p -= lr g / d
 * PyTorch's rule: eps outside the root. Keras adds its epsilon (default 1e-7) inside,
 * d = sqrt(v + eps) or sqrt(v - a^2 + eps), and its momentum buffer holds lr
 * (b = momentum b + lr g / d, p -= b). The max(., 0) only guards against rounding,
 * where PyTorch would take the root of a tiny negative and make a NaN. */
static void rmsprop_update(const void *opts, float lr, int64_t t, float *p_, const float *g_,
                           float *const *s, int64_t n)
{
    (void)t;
    const nb_rmsprop_opts *o = opts;
    float *restrict p = p_, *restrict v = s[SQUARE_AVG], *restrict a = s[GRAD_AVG];
    float *restrict b = s[MOMENTUM_BUFFER];
    const float *restrict g = g_;
    const float alpha = o->alpha, w = (float)(1.0 - (double)o->alpha), eps = o->eps;
    const float wd = o->weight_decay, mu = o->momentum;
    for (int64_t i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        float vi = alpha * v[i] + w * (gi * gi);
        v[i] = vi;
        float d;
        if (o->centered) {
            float ai = a[i] + w * (gi - a[i]);
            a[i] = ai;
            float var = vi - ai * ai;
            d = sqrtf(var > 0.0f ? var : 0.0f) + eps;
        } else {
            d = sqrtf(vi) + eps;
        }
        if (mu != 0.0f) {
            float bi = mu * b[i] + gi / d;
            b[i] = bi;
            p[i] -= lr * bi;
        } else {
            p[i] -= lr * (gi / d);
        }
    }
}

static const nb_optim_def rmsprop_def = {
    .name = "rmsprop",
    .n_state = 3,
    .state_names = {"square_avg", "grad_avg", "momentum_buffer"},
    .opts_size = sizeof(nb_rmsprop_opts),
    .check = rmsprop_check,
    .update = rmsprop_update,
    .default_lr = 0.01f,
    .has_state = rmsprop_has_state,
};

nb_optimizer *nb_rmsprop(nb_params *ps, nb_rmsprop_opts opts)
{
    return nb_optim_new(ps, &rmsprop_def, &opts);
}
