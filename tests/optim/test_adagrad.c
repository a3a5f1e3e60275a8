/* Adagrad against a double-precision reference of torch.optim.Adagrad. */
#include "quadratic.h"

NB_TEST_SUITE(adagrad);

typedef struct ada_ctx {
    double lr, lr_decay, weight_decay, eps;
} ada_ctx;

/* torch.optim.Adagrad, per element, in double: s[0] = sum. */
static void ada_rule(const void *ctx, int64_t t, double *p, double g, double s[4])
{
    const ada_ctx *c = ctx;
    g += c->weight_decay * *p;
    s[0] += g * g;
    double clr = c->lr / (1 + (double)(t - 1) * c->lr_decay);
    *p -= clr * g / (sqrt(s[0]) + c->eps);
}

static nb_optimizer *make(nb_params *ps, const void *o)
{
    return nb_adagrad(ps, *(const nb_adagrad_opts *)o);
}

static const char *const names[4] = {"sum"};

static void check(nb_adagrad_opts o, int frozen)
{
    ada_ctx c = {
        .lr = (float)(o.lr != 0 ? o.lr : 0.01f),
        .lr_decay = o.lr_decay,
        .weight_decay = o.weight_decay,
        .eps = (float)(o.eps != 0 ? o.eps : 1e-10f),
    };
    const double init[4] = {o.initial_accumulator};
    for (int steps = 1; steps <= 10; steps += 9)
        quad_case(make, &o, ada_rule, &c, steps, init, names, frozen);
}

Test(adagrad, defaults) { check((nb_adagrad_opts){0}, -1); }

Test(adagrad, rate_and_eps) { check((nb_adagrad_opts){.lr = 0.3f, .eps = 0.2f}, -1); }

Test(adagrad, lr_decay) { check((nb_adagrad_opts){.lr = 0.3f, .lr_decay = 0.5f}, -1); }

Test(adagrad, initial_accumulator)
{
    check((nb_adagrad_opts){.lr = 0.3f, .initial_accumulator = 0.1f}, -1);
    check((nb_adagrad_opts){.lr = 0.3f, .initial_accumulator = 4.0f, .lr_decay = 0.1f}, 0);
}

Test(adagrad, weight_decay) { check((nb_adagrad_opts){.lr = 0.3f, .weight_decay = 0.4f}, -1); }

Test(adagrad, initial_accumulator_fills_the_state_at_creation)
{
    quad q;
    quad_init(&q);
    quad_freeze(&q, 1, true);
    nb_optimizer *opt = nb_adagrad(q.ps, (nb_adagrad_opts){.initial_accumulator = 0.25f});
    cr_assert_not_null(opt, "%s", nb_error());
    cr_assert_str_eq(nb_optim_name(opt), "adagrad");
    nb_params *st = nb_optim_state(opt);
    cr_assert_eq(nb_params_count(st), 4);
    /* Frozen parameters have state too (they may be unfrozen later). */
    nb_tensor *s = nb_params_find(st, "l1.bias.sum");
    cr_assert_not_null(s);
    for (int64_t i = 0; i < s->size; i++)
        cr_assert_eq(s->data[i], 0.25f);
    cr_assert_eq(nb_params_find(st, "step")->data[0], 0.0f);
    nb_optim_free(opt);
    quad_free(&q);
}

Test(adagrad, invalid_options)
{
    nb_params *ps = nb_params_new();
    cr_assert_not_null(nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(2)));
    struct {
        nb_adagrad_opts o;
        const char *msg;
    } bad[] = {
        {{.lr = -1}, "adagrad: lr must be finite and >= 0, got -1"},
        {{.lr_decay = -1}, "adagrad: lr_decay must be finite and >= 0, got -1"},
        {{.lr_decay = NAN}, "adagrad: lr_decay must be finite and >= 0, got nan"},
        {{.weight_decay = -2}, "adagrad: weight_decay must be finite and >= 0, got -2"},
        {{.initial_accumulator = -0.1f},
         "adagrad: initial_accumulator must be finite and >= 0, got -0.1"},
        {{.initial_accumulator = INFINITY},
         "adagrad: initial_accumulator must be finite and >= 0, got inf"},
        {{.eps = -1e-10f}, "adagrad: eps must be finite and > 0, got -1e-10"},
        {{.eps = NAN}, "adagrad: eps must be finite and > 0, got nan"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_error(nb_adagrad(ps, bad[i].o), NB_ERR_ARG, bad[i].msg);
    assert_error(nb_adagrad(NULL, (nb_adagrad_opts){0}), NB_ERR_NULL,
                 "adagrad: the parameter store is NULL");
    nb_params_free(ps);
}
