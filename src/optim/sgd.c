/*
 * src/optim/sgd.c - stochastic gradient descent with momentum (torch.optim.SGD).
 *
 * The model for writing an optimizer: an options check, an update over one run of
 * parameters, and a descriptor (nabla/optim.h).
 */
#include "check.h"
#include "nabla/optim.h"

static nb_status sgd_check(void *opts_)
{
    nb_sgd_opts *o = opts_;
    nb_status s;
    if ((s = optim_check_nonneg("sgd", "momentum", o->momentum)) != NB_OK ||
        (s = optim_check_unit("sgd", "dampening", o->dampening, true)) != NB_OK ||
        (s = optim_check_nonneg("sgd", "weight_decay", o->weight_decay)) != NB_OK)
        return s;
    if (o->nesterov && (o->momentum <= 0.0f || o->dampening != 0.0f))
        return nb_set_error(NB_ERR_ARG, "sgd: nesterov needs momentum > 0 and dampening 0, "
                            "got momentum %g and dampening %g", (double)o->momentum,
                            (double)o->dampening);
    return NB_OK;
}

static bool sgd_has_state(const void *opts_, int k)
{
    const nb_sgd_opts *o = opts_;
    return k == 0 && o->momentum != 0.0f;
}

/* Per element, with g = grad + weight_decay p (the weight decay term only when
 * weight_decay != 0, as PyTorch):
 *     momentum == 0:  p -= lr g
 *     otherwise:      b = g                                   at t = 1
 *                     b = momentum b + (1 - dampening) g      after
 *                     p -= lr (g + momentum b)  (nesterov),   p -= lr b  (otherwise)
 * This is PyTorch's rule. Keras' SGD keeps v = momentum v - lr g (from v = 0) and has no
 * dampening: the same steps while lr is constant and dampening is 0, but here a new lr
 * acts at once, in Keras only as old velocity decays. The first buffer is g itself,
 * not (1 - dampening) g (PyTorch). */
static void sgd_update(const void *opts_, float lr, int64_t t, float *p_, const float *g_,
                       float *const *s, int64_t n)
{
    const nb_sgd_opts *o = opts_;
    float *restrict p = p_;
    const float *restrict g = g_;
    const float wd = o->weight_decay, mu = o->momentum;
    const float keep = (float)(1.0 - (double)o->dampening);
    if (mu == 0.0f) {
        for (int64_t i = 0; i < n; i++) {
            float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
            p[i] -= lr * gi;
        }
        return;
    }
    float *restrict b = s[0];
    for (int64_t i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        float bi = t == 1 ? gi : mu * b[i] + keep * gi;
        b[i] = bi;
        p[i] -= lr * (o->nesterov ? gi + mu * bi : bi);
    }
}

static const nb_optim_def sgd_def = {
    .name = "sgd",
    .n_state = 1,
    .state_names = {"momentum_buffer"},
    .opts_size = sizeof(nb_sgd_opts),
    .check = sgd_check,
    .update = sgd_update,
    .default_lr = 0.01f,
    .has_state = sgd_has_state,
};

nb_optimizer *nb_sgd(nb_params *ps, nb_sgd_opts opts)
{
    return nb_optim_new(ps, &sgd_def, &opts);
}
