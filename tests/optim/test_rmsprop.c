/* RMSprop against a double-precision reference of torch.optim.RMSprop. */
#include "quadratic.h"

NB_TEST_SUITE(rmsprop);

typedef struct rms_ctx {
    double lr, alpha, eps, weight_decay, momentum;
    bool centered;
} rms_ctx;

/* torch.optim.RMSprop, per element, in double: s = {square_avg, grad_avg, momentum_buffer}. */
static void rms_rule(const void *ctx, int64_t t, double *p, double g, double s[4])
{
    (void)t;
    const rms_ctx *c = ctx;
    g += c->weight_decay * *p;
    s[0] = c->alpha * s[0] + (1 - c->alpha) * g * g;
    double d;
    if (c->centered) {
        s[1] = c->alpha * s[1] + (1 - c->alpha) * g;
        d = sqrt(s[0] - s[1] * s[1]) + c->eps;
    } else {
        d = sqrt(s[0]) + c->eps;
    }
    if (c->momentum > 0) {
        s[2] = c->momentum * s[2] + g / d;
        *p -= c->lr * s[2];
    } else {
        *p -= c->lr * g / d;
    }
}

static nb_optimizer *make(nb_params *ps, const void *o)
{
    return nb_rmsprop(ps, *(const nb_rmsprop_opts *)o);
}

static void check(nb_rmsprop_opts o, int frozen)
{
    rms_ctx c = {
        .lr = (float)(o.lr != 0 ? o.lr : 0.01f),
        .alpha = (float)(o.alpha != 0 ? o.alpha : 0.99f),
        .eps = (float)(o.eps != 0 ? o.eps : 1e-8f),
        .weight_decay = o.weight_decay,
        .momentum = o.momentum,
        .centered = o.centered,
    };
    const char *names[4] = {"square_avg", o.centered ? "grad_avg" : NULL,
                            o.momentum != 0 ? "momentum_buffer" : NULL};
    for (int steps = 1; steps <= 10; steps += 9)
        quad_case(make, &o, rms_rule, &c, steps, NULL, names, frozen);
}

Test(rmsprop, defaults) { check((nb_rmsprop_opts){0}, -1); }

Test(rmsprop, alpha_and_eps_outside_the_root)
{
    check((nb_rmsprop_opts){.lr = 0.02f, .alpha = 0.9f, .eps = 0.3f}, -1);
}

Test(rmsprop, centered) { check((nb_rmsprop_opts){.lr = 0.02f, .alpha = 0.8f, .centered = true}, -1); }

Test(rmsprop, momentum) { check((nb_rmsprop_opts){.lr = 0.01f, .momentum = 0.9f}, -1); }

Test(rmsprop, centered_with_momentum_and_weight_decay)
{
    check((nb_rmsprop_opts){.lr = 0.01f, .alpha = 0.9f, .momentum = 0.5f, .centered = true,
                            .weight_decay = 0.1f}, -1);
}

Test(rmsprop, frozen) { check((nb_rmsprop_opts){.lr = 0.01f, .momentum = 0.5f, .centered = true}, 2); }

Test(rmsprop, state_kept_only_for_the_options_used)
{
    quad q;
    quad_init(&q);
    struct {
        nb_rmsprop_opts o;
        int64_t count;
        const char *last;
    } cases[] = {
        {{0}, 4, "l2.kernel.square_avg"},
        {{.centered = true}, 7, "l2.kernel.grad_avg"},
        {{.momentum = 0.9f}, 7, "l2.kernel.momentum_buffer"},
        {{.momentum = 0.9f, .centered = true}, 10, "l2.kernel.momentum_buffer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nb_optimizer *opt = nb_rmsprop(q.ps, cases[i].o);
        cr_assert_not_null(opt, "%s", nb_error());
        nb_params *st = nb_optim_state(opt);
        cr_assert_eq(nb_params_count(st), cases[i].count);
        cr_assert_str_eq(nb_params_name(st, cases[i].count - 2), cases[i].last);
        cr_assert_str_eq(nb_optim_name(opt), "rmsprop");
        cr_assert_float_eq(nb_optim_lr(opt), 0.01f, 0);
        nb_optim_free(opt);
    }
    quad_free(&q);
}

Test(rmsprop, centered_constant_gradient_does_not_make_nan)
{
    /* A constant gradient makes v - a^2 a rounding error away from 0: PyTorch can take
     * the root of a tiny negative there; nabla clamps it at 0. */
    nb_params *ps = nb_params_new();
    nb_tensor *w = nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(64));
    cr_assert_not_null(w);
    nb_optimizer *opt = nb_rmsprop(ps, (nb_rmsprop_opts){.lr = 1e-3f, .alpha = 0.5f,
                                                         .centered = true});
    cr_assert_not_null(opt, "%s", nb_error());
    for (int s = 0; s < 200; s++) {
        for (int i = 0; i < 64; i++)
            w->grad->data[i] = 0.1f + 0.37f * (float)i;
        cr_assert_eq(nb_optim_step(opt), NB_OK);
    }
    for (int i = 0; i < 64; i++)
        cr_assert(isfinite(w->data[i]), "w[%d] = %g", i, w->data[i]);
    nb_optim_free(opt);
    nb_params_free(ps);
}

Test(rmsprop, invalid_options)
{
    nb_params *ps = nb_params_new();
    cr_assert_not_null(nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(2)));
    struct {
        nb_rmsprop_opts o;
        const char *msg;
    } bad[] = {
        {{.lr = -1}, "rmsprop: lr must be finite and >= 0, got -1"},
        {{.alpha = 1}, "rmsprop: alpha must be in [0, 1), got 1"},
        {{.alpha = NAN}, "rmsprop: alpha must be in [0, 1), got nan"},
        {{.eps = -1}, "rmsprop: eps must be finite and > 0, got -1"},
        {{.eps = NAN}, "rmsprop: eps must be finite and > 0, got nan"},
        {{.weight_decay = -1}, "rmsprop: weight_decay must be finite and >= 0, got -1"},
        {{.momentum = -0.9f}, "rmsprop: momentum must be finite and >= 0, got -0.9"},
        {{.momentum = INFINITY}, "rmsprop: momentum must be finite and >= 0, got inf"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_error(nb_rmsprop(ps, bad[i].o), NB_ERR_ARG, bad[i].msg);
    assert_error(nb_rmsprop(NULL, (nb_rmsprop_opts){0}), NB_ERR_NULL,
                 "rmsprop: the parameter store is NULL");
    nb_params_free(ps);
}
