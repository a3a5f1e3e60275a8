/* Adam and AdamW against a double-precision reference of torch.optim.Adam / AdamW. */
#include "quadratic.h"

NB_TEST_SUITE(adam);

typedef struct adam_ctx {
    double lr, beta1, beta2, eps, weight_decay;
    bool amsgrad, decoupled;
} adam_ctx;

/* torch.optim.Adam (decoupled: AdamW), per element, in double. */
static void adam_rule(const void *ctx_, int64_t t, double *p, double g, double s[4])
{
    const adam_ctx *c = ctx_;
    if (c->decoupled)
        *p -= c->lr * c->weight_decay * *p;
    else
        g += c->weight_decay * *p;
    s[0] = c->beta1 * s[0] + (1 - c->beta1) * g;
    s[1] = c->beta2 * s[1] + (1 - c->beta2) * g * g;
    double v = s[1];
    if (c->amsgrad) {
        s[2] = fmax(s[2], s[1]);
        v = s[2];
    }
    double mhat = s[0] / (1 - pow(c->beta1, (double)t));
    double vhat = v / (1 - pow(c->beta2, (double)t));
    *p -= c->lr * mhat / (sqrt(vhat) + c->eps);
}

static nb_optimizer *make_adam(nb_params *ps, const void *o)
{
    return nb_adam(ps, *(const nb_adam_opts *)o);
}

static nb_optimizer *make_adamw(nb_params *ps, const void *o)
{
    return nb_adamw(ps, *(const nb_adam_opts *)o);
}

static const char *const adam_states[4] = {"exp_avg", "exp_avg_sq"};
static const char *const ams_states[4] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};

/* The options as the optimizer resolves them: the documented defaults for zeros. */
static adam_ctx resolve(nb_adam_opts o, bool decoupled)
{
    return (adam_ctx){
        .lr = o.lr != 0 ? o.lr : 0.001,
        .beta1 = o.beta1 != 0 ? o.beta1 : 0.9,
        .beta2 = o.beta2 != 0 ? o.beta2 : 0.999,
        .eps = o.eps != 0 ? o.eps : 1e-8,
        .weight_decay = o.weight_decay != 0 || !decoupled ? o.weight_decay : 0.01,
        .amsgrad = o.amsgrad,
        .decoupled = decoupled,
    };
}

static void check(nb_adam_opts o, bool decoupled, int frozen)
{
    adam_ctx c = resolve(o, decoupled);
    /* The float values the optimizer computes with. */
    c.lr = (float)c.lr, c.beta1 = (float)c.beta1, c.beta2 = (float)c.beta2;
    c.eps = (float)c.eps, c.weight_decay = (float)c.weight_decay;
    for (int steps = 1; steps <= 10; steps += 9)
        quad_case(decoupled ? make_adamw : make_adam, &o, adam_rule, &c, steps, NULL,
                  o.amsgrad ? ams_states : adam_states, frozen);
}

Test(adam, defaults) { check((nb_adam_opts){0}, false, -1); }

Test(adam, rate_and_betas) { check((nb_adam_opts){.lr = 0.05f, .beta1 = 0.8f, .beta2 = 0.9f}, false, -1); }

Test(adam, eps_is_added_outside_the_root)
{
    /* A large eps makes its placement visible in the first steps. */
    check((nb_adam_opts){.lr = 0.05f, .eps = 0.5f}, false, -1);
}

Test(adam, weight_decay_in_the_gradient) { check((nb_adam_opts){.lr = 0.05f, .weight_decay = 0.3f}, false, -1); }

Test(adam, amsgrad)
{
    /* beta2 small: v follows g^2 down as the gradient shrinks, so vmax matters. */
    nb_adam_opts o = {.lr = 0.05f, .beta2 = 0.5f, .amsgrad = true};
    check(o, false, -1);
    adam_ctx with = resolve(o, false), without = with;
    without.amsgrad = false;
    quad q;
    quad_init(&q);
    quad_ref a, b;
    quad_reference(&q, adam_rule, &with, 10, NULL, &a);
    quad_reference(&q, adam_rule, &without, 10, NULL, &b);
    double diff = 0;
    for (int i = 0; i < Q_P; i++)
        diff = fmax(diff, fabs(a.p[i] - b.p[i]));
    cr_assert_gt(diff, 1e-3, "amsgrad should change this run (%g)", diff);
    quad_free(&q);
}

Test(adam, frozen) { check((nb_adam_opts){.lr = 0.05f, .amsgrad = true}, false, 1); }

Test(adamw, defaults_decay_0_01) { check((nb_adam_opts){.lr = 0.05f}, true, -1); }

Test(adamw, decoupled_weight_decay)
{
    check((nb_adam_opts){.lr = 0.05f, .weight_decay = 0.5f}, true, -1);
    check((nb_adam_opts){.lr = 0.05f, .weight_decay = 0.5f, .amsgrad = true, .beta2 = 0.5f},
          true, 2);
}

/* Hand-set gradients, the same for every optimizer, independent of the parameters. */
static void set_grads(nb_params *ps, int step)
{
    float *g = nb_params_grads(ps);
    for (int64_t i = 0; i < nb_params_numel(ps, NB_PARAM); i++)
        g[i] = (float)sin(0.9 * (double)i + (double)step) * (1.0f + (float)(i % 3));
}

Test(adamw, differs_from_adam_exactly_by_the_decoupled_decay)
{
    /* With the same gradients, AdamW's moments are Adam's without weight decay, bit for
     * bit, and each step is that Adam step applied to p (1 - lr wd); Adam's own weight
     * decay goes into the moments instead. */
    const float lr = 0.05f, wd = 0.2f;
    quad qa, qw, ql;
    quad_init(&qa);
    quad_init(&qw);
    quad_init(&ql);
    nb_optimizer *adam = nb_adam(qa.ps, (nb_adam_opts){.lr = lr});
    nb_optimizer *adamw = nb_adamw(qw.ps, (nb_adam_opts){.lr = lr, .weight_decay = wd});
    nb_optimizer *adam_l2 = nb_adam(ql.ps, (nb_adam_opts){.lr = lr, .weight_decay = wd});
    cr_assert(adam && adamw && adam_l2, "%s", nb_error());
    float *pa = nb_params_values(qa.ps), *pw = nb_params_values(qw.ps);
    for (int step = 0; step < 10; step++) {
        float before_a[Q_P], before_w[Q_P];
        memcpy(before_a, pa, sizeof before_a);
        memcpy(before_w, pw, sizeof before_w);
        set_grads(qa.ps, step);
        set_grads(qw.ps, step);
        set_grads(ql.ps, step);
        cr_assert_eq(nb_optim_step(adam), NB_OK);
        cr_assert_eq(nb_optim_step(adamw), NB_OK);
        cr_assert_eq(nb_optim_step(adam_l2), NB_OK);
        for (int i = 0; i < Q_P; i++) {
            double update = (double)before_a[i] - pa[i];
            double want = (double)before_w[i] * (1.0 - (double)lr * wd) - update;
            cr_assert(fabs(pw[i] - want) < 1e-6, "step %d [%d]: adamw %.9g, want %.9g", step,
                      i, pw[i], want);
        }
    }
    nb_params *sa = nb_optim_state(adam), *sw = nb_optim_state(adamw);
    nb_params *sl = nb_optim_state(adam_l2);
    int64_t n = nb_params_numel(sa, NB_BUFFER);
    cr_assert_eq(n, nb_params_numel(sw, NB_BUFFER));
    cr_assert_eq(memcmp(nb_params_values(sa), nb_params_values(sw), (size_t)n * sizeof(float)),
                 0, "AdamW's moments should be Adam's without weight decay");
    cr_assert_neq(memcmp(nb_params_values(sa), nb_params_values(sl), (size_t)n * sizeof(float)),
                  0, "Adam's weight decay goes into the moments");
    nb_optim_free(adam);
    nb_optim_free(adamw);
    nb_optim_free(adam_l2);
    quad_free(&qa);
    quad_free(&qw);
    quad_free(&ql);
}

Test(adam, state_names_and_defaults)
{
    quad q;
    quad_init(&q);
    nb_optimizer *opt = nb_adam(q.ps, (nb_adam_opts){0});
    cr_assert_not_null(opt, "%s", nb_error());
    cr_assert_str_eq(nb_optim_name(opt), "adam");
    cr_assert_float_eq(nb_optim_lr(opt), 0.001f, 0);
    nb_params *st = nb_optim_state(opt);
    const char *want[] = {"l1.kernel.exp_avg", "l1.bias.exp_avg", "l2.kernel.exp_avg",
                          "l1.kernel.exp_avg_sq", "l1.bias.exp_avg_sq", "l2.kernel.exp_avg_sq",
                          "step"};
    cr_assert_eq(nb_params_count(st), 7, "no max_exp_avg_sq without amsgrad");
    for (int i = 0; i < 7; i++)
        cr_assert_str_eq(nb_params_name(st, i), want[i]);
    nb_optim_free(opt);
    opt = nb_adamw(q.ps, (nb_adam_opts){.amsgrad = true});
    cr_assert_not_null(opt, "%s", nb_error());
    cr_assert_str_eq(nb_optim_name(opt), "adamw");
    st = nb_optim_state(opt);
    cr_assert_eq(nb_params_count(st), 10);
    cr_assert_str_eq(nb_params_name(st, 6), "l1.kernel.max_exp_avg_sq");
    nb_optim_free(opt);
    quad_free(&q);
}

Test(adam, invalid_options)
{
    nb_params *ps = nb_params_new();
    cr_assert_not_null(nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(2)));
    struct {
        nb_adam_opts o;
        const char *msg;
    } bad[] = {
        {{.lr = -1}, "lr must be finite and >= 0, got -1"},
        {{.lr = NAN}, "lr must be finite and >= 0, got nan"},
        {{.beta1 = 1}, "beta1 must be in [0, 1), got 1"},
        {{.beta1 = -0.1f}, "beta1 must be in [0, 1), got -0.1"},
        {{.beta1 = NAN}, "beta1 must be in [0, 1), got nan"},
        {{.beta2 = 1.5f}, "beta2 must be in [0, 1), got 1.5"},
        {{.beta2 = NAN}, "beta2 must be in [0, 1), got nan"},
        {{.eps = -1e-8f}, "eps must be finite and > 0, got -1e-08"},
        {{.eps = INFINITY}, "eps must be finite and > 0, got inf"},
        {{.weight_decay = -0.01f}, "weight_decay must be finite and >= 0, got -0.01"},
        {{.weight_decay = NAN}, "weight_decay must be finite and >= 0, got nan"},
    };
    char msg[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(msg, sizeof msg, "adam: %s", bad[i].msg);
        assert_error(nb_adam(ps, bad[i].o), NB_ERR_ARG, msg);
        snprintf(msg, sizeof msg, "adamw: %s", bad[i].msg);
        assert_error(nb_adamw(ps, bad[i].o), NB_ERR_ARG, msg);
    }
    assert_error(nb_adam(NULL, (nb_adam_opts){0}), NB_ERR_NULL, "adam: the parameter store is NULL");
    assert_error(nb_adamw(NULL, (nb_adam_opts){0}), NB_ERR_NULL, "adamw: the parameter store is NULL");
    nb_params_free(ps);
}
