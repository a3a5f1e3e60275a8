/*
 * src/optim/adam.c - Adam and AdamW (torch.optim.Adam, torch.optim.AdamW): one update
 * rule, two descriptors.
 */
#include <math.h>

#include "check.h"
#include "nabla/optim.h"

enum { EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ };

static nb_status check_common(const char *name, nb_adam_opts *o)
{
    if (o->beta1 == 0.0f)
        o->beta1 = 0.9f;
    if (o->beta2 == 0.0f)
        o->beta2 = 0.999f;
    if (o->eps == 0.0f)
        o->eps = 1e-8f;
    nb_status s;
    if ((s = optim_check_unit(name, "beta1", o->beta1, false)) != NB_OK ||
        (s = optim_check_unit(name, "beta2", o->beta2, false)) != NB_OK ||
        (s = optim_check_pos(name, "eps", o->eps)) != NB_OK ||
        (s = optim_check_nonneg(name, "weight_decay", o->weight_decay)) != NB_OK)
        return s;
    return NB_OK;
}

static nb_status adam_check(void *opts) { return check_common("adam", opts); }

static nb_status adamw_check(void *opts)
{
    nb_adam_opts *o = opts;
    if (o->weight_decay == 0.0f)
        o->weight_decay = 0.01f;
    return check_common("adamw", o);
}

static bool adam_has_state(const void *opts, int k)
{
    const nb_adam_opts *o = opts;
    return k != MAX_EXP_AVG_SQ || o->amsgrad;
}

/* At step t, per element, with m = exp_avg, v = exp_avg_sq:
 *     g = grad + weight_decay p            (Adam: L2 in the gradient)
 *     p = p (1 - lr weight_decay)           (AdamW instead: decoupled decay, g = grad)
 *     m = m + (1 - beta1) (g - m)           (= beta1 m + (1 - beta1) g, as torch's lerp)
 *     v = beta2 v + (1 - beta2) g^2
 *     vmax = max(vmax, v), v = vmax         (amsgrad)
 *     p -= lr / (1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * The bias corrections are computed in double, the rest in float, as PyTorch does. eps
 * is added outside the square root of the bias-corrected v (PyTorch and the Adam
 * paper); Keras adds its epsilon (default 1e-7) to the uncorrected sqrt(v), which is
 * this rule with eps / sqrt(1 - beta2^t): a larger eps in the first steps. */
static void adam_rule(const nb_adam_opts *o, bool decoupled, float lr, int64_t t, float *p_,
                      const float *g_, float *const *s, int64_t n)
{
    float *restrict p = p_, *restrict m = s[EXP_AVG], *restrict v = s[EXP_AVG_SQ];
    float *restrict vmax = s[MAX_EXP_AVG_SQ];
    const float *restrict g = g_;
    const double bc1 = 1.0 - pow((double)o->beta1, (double)t);
    const double bc2 = 1.0 - pow((double)o->beta2, (double)t);
    const float step_size = (float)((double)lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float w1 = (float)(1.0 - (double)o->beta1), b2 = o->beta2;
    const float w2 = (float)(1.0 - (double)o->beta2), eps = o->eps;
    const float wd = decoupled ? 0.0f : o->weight_decay;
    const float decay = (float)(1.0 - (double)lr * (double)o->weight_decay);
    const bool ams = o->amsgrad;
    for (int64_t i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        float pi = decoupled ? p[i] * decay : p[i];
        float mi = m[i] + w1 * (gi - m[i]);
        float vi = b2 * v[i] + w2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        if (ams) {
            vi = vmax[i] > vi ? vmax[i] : vi;
            vmax[i] = vi;
        }
        p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

static void adam_update(const void *opts, float lr, int64_t t, float *p, const float *g,
                        float *const *s, int64_t n)
{
    adam_rule(opts, false, lr, t, p, g, s, n);
}

static void adamw_update(const void *opts, float lr, int64_t t, float *p, const float *g,
                         float *const *s, int64_t n)
{
    adam_rule(opts, true, lr, t, p, g, s, n);
}

static const nb_optim_def adam_def = {
    .name = "adam",
    .n_state = 3,
    .state_names = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    .opts_size = sizeof(nb_adam_opts),
    .check = adam_check,
    .update = adam_update,
    .default_lr = 0.001f,
    .has_state = adam_has_state,
};

static const nb_optim_def adamw_def = {
    .name = "adamw",
    .n_state = 3,
    .state_names = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    .opts_size = sizeof(nb_adam_opts),
    .check = adamw_check,
    .update = adamw_update,
    .default_lr = 0.001f,
    .has_state = adam_has_state,
};

nb_optimizer *nb_adam(nb_params *ps, nb_adam_opts opts)
{
    return nb_optim_new(ps, &adam_def, &opts);
}

nb_optimizer *nb_adamw(nb_params *ps, nb_adam_opts opts)
{
    return nb_optim_new(ps, &adamw_def, &opts);
}
