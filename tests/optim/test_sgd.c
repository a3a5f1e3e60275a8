/* SGD against a double-precision reference of torch.optim.SGD's rule. */
#include "quadratic.h"

NB_TEST_SUITE(sgd);

static nb_optimizer *make_sgd(nb_params *ps, const void *opts)
{
    return nb_sgd(ps, *(const nb_sgd_opts *)opts);
}

/* torch.optim.SGD, per element, in double. */
static void sgd_rule(const void *ctx, int64_t t, double *p, double g, double s[4])
{
    const nb_sgd_opts *o = ctx;
    double lr = o->lr, mu = o->momentum, damp = o->dampening;
    g += (double)o->weight_decay * *p;
    double d = g;
    if (mu != 0) {
        s[0] = t == 1 ? g : mu * s[0] + (1 - damp) * g;
        d = o->nesterov ? g + mu * s[0] : s[0];
    }
    *p -= lr * d;
}

static const char *const with_buffer[4] = {"momentum_buffer"};

static void check(nb_sgd_opts o, int frozen)
{
    const char *const *names = o.momentum != 0 ? with_buffer : NULL;
    for (int steps = 1; steps <= 10; steps += 9)
        quad_case(make_sgd, &o, sgd_rule, &o, steps, NULL, names, frozen);
}

Test(sgd, plain) { check((nb_sgd_opts){.lr = 0.1f}, -1); }

Test(sgd, momentum) { check((nb_sgd_opts){.lr = 0.05f, .momentum = 0.9f}, -1); }

Test(sgd, momentum_with_dampening)
{
    check((nb_sgd_opts){.lr = 0.05f, .momentum = 0.8f, .dampening = 0.3f}, -1);
}

Test(sgd, nesterov) { check((nb_sgd_opts){.lr = 0.05f, .momentum = 0.9f, .nesterov = true}, -1); }

Test(sgd, weight_decay)
{
    check((nb_sgd_opts){.lr = 0.1f, .weight_decay = 0.2f}, -1);
    check((nb_sgd_opts){.lr = 0.05f, .momentum = 0.7f, .weight_decay = 0.2f, .nesterov = true},
          -1);
}

Test(sgd, frozen_parameters_and_their_state_are_untouched)
{
    /* The middle parameter frozen: two runs, the state of the frozen one stays 0. */
    check((nb_sgd_opts){.lr = 0.05f, .momentum = 0.9f}, 1);
    check((nb_sgd_opts){.lr = 0.05f, .momentum = 0.9f}, 0);
}

Test(sgd, first_step_by_hand)
{
    /* p = 2, grad = 3: b = g = 3 on the first step (not (1 - dampening) g), p = 2 - 0.1 * 3;
     * the second with grad 1: b = 0.5 * 3 + 0.75 * 1 = 2.25, p = 1.7 - 0.225. */
    nb_params *ps = nb_params_new();
    nb_tensor *w = nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(1));
    cr_assert_not_null(w);
    nb_optimizer *opt = nb_sgd(ps, (nb_sgd_opts){.lr = 0.1f, .momentum = 0.5f,
                                                 .dampening = 0.25f});
    cr_assert_not_null(opt, "%s", nb_error());
    w->data[0] = 2.0f;
    w->grad->data[0] = 3.0f;
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    cr_assert_float_eq(w->data[0], 1.7f, 1e-6);
    w->grad->data[0] = 1.0f;
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    cr_assert_float_eq(w->data[0], 1.475f, 1e-6);
    cr_assert_float_eq(nb_params_find(nb_optim_state(opt), "w.momentum_buffer")->data[0],
                       2.25f, 1e-6);
    nb_optim_free(opt);
    nb_params_free(ps);
}

Test(sgd, defaults_and_state_layout)
{
    quad q;
    quad_init(&q);
    nb_optimizer *opt = nb_sgd(q.ps, (nb_sgd_opts){0});
    cr_assert_not_null(opt, "%s", nb_error());
    cr_assert_str_eq(nb_optim_name(opt), "sgd");
    cr_assert_float_eq(nb_optim_lr(opt), 0.01f, 0);
    cr_assert(nb_params_finalized(q.ps), "the constructor finalizes the model's store");
    cr_assert_eq(nb_optim_params(opt), q.ps);
    /* No momentum: no buffers but "step". */
    nb_params *st = nb_optim_state(opt);
    cr_assert(nb_params_finalized(st));
    cr_assert_eq(nb_params_count(st), 1);
    cr_assert_str_eq(nb_params_name(st, 0), "step");
    cr_assert_eq(nb_params_kind(st, 0), NB_BUFFER);
    nb_optim_free(opt);

    opt = nb_sgd(q.ps, (nb_sgd_opts){.momentum = 0.9f});
    cr_assert_not_null(opt, "%s", nb_error());
    st = nb_optim_state(opt);
    cr_assert_eq(nb_params_count(st), 4);
    cr_assert_str_eq(nb_params_name(st, 0), "l1.kernel.momentum_buffer");
    cr_assert_str_eq(nb_params_name(st, 1), "l1.bias.momentum_buffer");
    cr_assert_str_eq(nb_params_name(st, 2), "l2.kernel.momentum_buffer");
    cr_assert_str_eq(nb_params_name(st, 3), "step");
    cr_assert_eq(nb_params_numel(st, NB_BUFFER), Q_P + 1);
    nb_optim_free(opt);
    quad_free(&q);
}

Test(sgd, invalid_options)
{
    nb_params *ps = nb_params_new();
    cr_assert_not_null(nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(2)));
    struct {
        nb_sgd_opts o;
        const char *msg;
    } bad[] = {
        {{.lr = -0.1f}, "sgd: lr must be finite and >= 0, got -0.1"},
        {{.lr = NAN}, "sgd: lr must be finite and >= 0, got nan"},
        {{.lr = INFINITY}, "sgd: lr must be finite and >= 0, got inf"},
        {{.momentum = -0.5f}, "sgd: momentum must be finite and >= 0, got -0.5"},
        {{.momentum = NAN}, "sgd: momentum must be finite and >= 0, got nan"},
        {{.momentum = 0.9f, .dampening = 1.5f}, "sgd: dampening must be in [0, 1], got 1.5"},
        {{.dampening = -1}, "sgd: dampening must be in [0, 1], got -1"},
        {{.weight_decay = -1e-3f}, "sgd: weight_decay must be finite and >= 0, got -0.001"},
        {{.weight_decay = NAN}, "sgd: weight_decay must be finite and >= 0, got nan"},
        {{.nesterov = true}, "sgd: nesterov needs momentum > 0 and dampening 0, got "
                             "momentum 0 and dampening 0"},
        {{.nesterov = true, .momentum = 0.9f, .dampening = 0.1f},
         "sgd: nesterov needs momentum > 0 and dampening 0, got momentum 0.9 and "
         "dampening 0.1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nb_error_clear();
        assert_error(nb_sgd(ps, bad[i].o), NB_ERR_ARG, bad[i].msg);
    }
    assert_error(nb_sgd(NULL, (nb_sgd_opts){0}), NB_ERR_NULL, "sgd: the parameter store is NULL");
    nb_params_free(ps);
}
