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
/* The per-element loop, without branches so that it vectorises: a weight decay of 0 and
 * a decay factor of 1 leave g and p exactly as they are (for finite values). sqrtf and
 * the division are correctly rounded, so the vector code gives the same bits as scalar
 * code would, on every ISA (the project builds with -fno-math-errno, so sqrtf is an
 * instruction). `omp simd` asks for the vector loop whatever the cost model says;
 * target_clones picks AVX-512, AVX2 or baseline code when the library loads. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ADAM_LOOP __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ADAM_LOOP
#endif

typedef struct adam_consts {
    float step_size, bc2_sqrt, w1, b2, w2, eps, wd, decay;
} adam_consts;

ADAM_LOOP static void adam_loop(const adam_consts *c, float *restrict p,
                                const float *restrict g, float *restrict m,
                                float *restrict v, int64_t n)
{
    const float step_size = c->step_size, bc2_sqrt = c->bc2_sqrt, w1 = c->w1, b2 = c->b2;
    const float w2 = c->w2, eps = c->eps, wd = c->wd, decay = c->decay;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        float pi = p[i] * decay;
        float mi = m[i] + w1 * (gi - m[i]);
        float vi = b2 * v[i] + w2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

ADAM_LOOP static void adam_loop_ams(const adam_consts *c, float *restrict p,
                                    const float *restrict g, float *restrict m,
                                    float *restrict v, float *restrict vmax, int64_t n)
{
    const float step_size = c->step_size, bc2_sqrt = c->bc2_sqrt, w1 = c->w1, b2 = c->b2;
    const float w2 = c->w2, eps = c->eps, wd = c->wd, decay = c->decay;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        float pi = p[i] * decay;
        float mi = m[i] + w1 * (gi - m[i]);
        float vi = b2 * v[i] + w2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        vi = vmax[i] > vi ? vmax[i] : vi;
        vmax[i] = vi;
        p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

static void adam_rule(const nb_adam_opts *o, bool decoupled, float lr, int64_t t, float *p,
                      const float *g, float *const *s, int64_t n)
{
    const double bc1 = 1.0 - pow((double)o->beta1, (double)t);
    const double bc2 = 1.0 - pow((double)o->beta2, (double)t);
    const adam_consts c = {
        .step_size = (float)((double)lr / bc1),
        .bc2_sqrt = (float)sqrt(bc2),
        .w1 = (float)(1.0 - (double)o->beta1),
        .b2 = o->beta2,
        .w2 = (float)(1.0 - (double)o->beta2),
        .eps = o->eps,
        .wd = decoupled ? 0.0f : o->weight_decay,
        .decay = decoupled ? (float)(1.0 - (double)lr * (double)o->weight_decay) : 1.0f,
    };
    if (o->amsgrad)
        adam_loop_ams(&c, p, g, s[EXP_AVG], s[EXP_AVG_SQ], s[MAX_EXP_AVG_SQ], n);
    else
        adam_loop(&c, p, g, s[EXP_AVG], s[EXP_AVG_SQ], n);
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
