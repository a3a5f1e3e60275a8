/*
 * src/optim/adagrad.c - Adagrad (torch.optim.Adagrad).
 */
#include <math.h>

#include "check.h"
#include "nabla/optim.h"

static nb_status adagrad_check(void *opts)
{
    nb_adagrad_opts *o = opts;
    if (o->eps == 0.0f)
        o->eps = 1e-10f;
    nb_status s;
    if ((s = optim_check_nonneg("adagrad", "lr_decay", o->lr_decay)) != NB_OK ||
        (s = optim_check_nonneg("adagrad", "weight_decay", o->weight_decay)) != NB_OK ||
        (s = optim_check_nonneg("adagrad", "initial_accumulator", o->initial_accumulator)) !=
            NB_OK ||
        (s = optim_check_pos("adagrad", "eps", o->eps)) != NB_OK)
        return s;
    return NB_OK;
}

static float adagrad_init_state(const void *opts, int k)
{
    (void)k;
    return ((const nb_adagrad_opts *)opts)->initial_accumulator;
}

/* At step t, per element, with g = grad + weight_decay p and s = sum (starting at
 * initial_accumulator):
 *     s += g^2
 *     p -= lr / (1 + (t - 1) lr_decay) g / (sqrt(s) + eps)
 * the decayed rate computed in double. PyTorch's rule: eps outside the root; Keras
 * adds its epsilon (1e-7) inside, sqrt(s + eps), starts s at 0.1 and has no lr_decay. */
static void adagrad_update(const void *opts, float lr, int64_t t, float *p_, const float *g_,
                           float *const *s, int64_t n)
{
    const nb_adagrad_opts *o = opts;
    float *restrict p = p_, *restrict sum = s[0];
    const float *restrict g = g_;
    const float clr = (float)((double)lr / (1.0 + (double)(t - 1) * (double)o->lr_decay));
    const float wd = o->weight_decay, eps = o->eps;
    for (int64_t i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        float si = sum[i] + gi * gi;
        sum[i] = si;
        p[i] -= clr * (gi / (sqrtf(si) + eps));
    }
}

static const nb_optim_def adagrad_def = {
    .name = "adagrad",
    .n_state = 1,
    .state_names = {"sum"},
    .opts_size = sizeof(nb_adagrad_opts),
    .check = adagrad_check,
    .update = adagrad_update,
    .init_state = adagrad_init_state,
    .default_lr = 0.01f,
};

nb_optimizer *nb_adagrad(nb_params *ps, nb_adagrad_opts opts)
{
    return nb_optim_new(ps, &adagrad_def, &opts);
}
