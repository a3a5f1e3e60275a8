/* Learning-rate schedules against values computed by hand. */
#include "../common.h"

NB_TEST_SUITE(schedule);

typedef struct fixture {
    nb_params *ps;
    nb_tensor *w;
    nb_optimizer *opt;
} fixture;

static fixture make(float lr)
{
    fixture f;
    f.ps = nb_params_new();
    f.w = nb_params_add(f.ps, "w", NB_PARAM, NB_SHAPE(1));
    f.opt = nb_sgd(f.ps, (nb_sgd_opts){.lr = lr});
    cr_assert(f.w && f.opt, "%s", nb_error());
    return f;
}

static void done(fixture *f)
{
    nb_optim_free(f->opt);
    nb_params_free(f->ps);
}

/* Applies s at t = 0 .. n-1 (metric[t] for plateau) and compares with want. */
static void expect(nb_lr_schedule *s, fixture *f, const double *metric, const double *want,
                   int n)
{
    for (int t = 0; t < n; t++) {
        float lr = nb_lr_schedule_apply(s, f->opt, t, metric ? metric[t] : 0.0);
        cr_assert(fabs(lr - want[t]) <= 1e-6 * fabs(want[t]) + 1e-9,
                  "t = %d: rate %.9g, want %.9g (%s)", t, lr, want[t], nb_error());
        cr_assert_eq(nb_optim_lr(f->opt), lr, "the rate is set on the optimizer");
    }
}

Test(schedule, constant)
{
    fixture f = make(0.3f);
    nb_lr_schedule s = {.kind = NB_LR_CONSTANT};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_optim_set_lr(f.opt, 0.7f), NB_OK);
    const double want[] = {0.3, 0.3, 0.3};
    expect(&s, &f, NULL, want, 3);
    done(&f);
}

Test(schedule, step_decay)
{
    fixture f = make(0.1f);
    nb_lr_schedule s = {.kind = NB_LR_STEP, .step_size = 3, .gamma = 0.5f};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK, "%s", nb_error());
    const double want[] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025};
    expect(&s, &f, NULL, want, 8);
    /* gamma defaults to 0.1 */
    nb_optim_set_lr(f.opt, 0.1f);
    nb_lr_schedule d = {.kind = NB_LR_STEP, .step_size = 2};
    cr_assert_eq(nb_lr_schedule_start(&d, f.opt), NB_OK, "%s", nb_error());
    cr_assert_float_eq(d.gamma, 0.1f, 0);
    const double want_d[] = {0.1, 0.1, 0.01, 0.01, 0.001};
    expect(&d, &f, NULL, want_d, 5);
    done(&f);
}

Test(schedule, exponential)
{
    fixture f = make(0.2f);
    nb_lr_schedule s = {.kind = NB_LR_EXPONENTIAL, .gamma = 0.9f, .per_step = true};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK, "%s", nb_error());
    const double want[] = {0.2, 0.18, 0.162, 0.1458, 0.13122};
    expect(&s, &f, NULL, want, 5);
    done(&f);
}

Test(schedule, cosine_with_warmup)
{
    fixture f = make(1.0f);
    nb_lr_schedule s = {.kind = NB_LR_COSINE, .warmup = 2, .total = 6, .min_lr = 0.1f};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK, "%s", nb_error());
    /* warm-up 0, 1/2; then 0.1 + 0.9 (1 + cos(pi k / 4)) / 2 for k = 0 .. 3; then 0.1 */
    const double want[] = {0.0, 0.5, 1.0, 0.86819805, 0.55, 0.23180195, 0.1, 0.1};
    expect(&s, &f, NULL, want, 8);
    cr_assert_float_eq(nb_lr_schedule_apply(&s, f.opt, 1000, 0), 0.1f, 1e-9);
    done(&f);
}

Test(schedule, cosine_without_warmup_per_step)
{
    fixture f = make(0.5f);
    nb_lr_schedule s = {.kind = NB_LR_COSINE, .total = 4, .per_step = true};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK, "%s", nb_error());
    const double want[] = {0.5, 0.42677670, 0.25, 0.07322330, 0.0, 0.0};
    expect(&s, &f, NULL, want, 6);
    /* The rate depends on t alone: asking again, or out of order, gives the same. */
    cr_assert_float_eq(nb_lr_schedule_apply(&s, f.opt, 2, 0), 0.25f, 1e-9);
    cr_assert_float_eq(nb_lr_schedule_apply(&s, f.opt, 1, 0), 0.42677670f, 1e-7);
    done(&f);
}

Test(schedule, plateau_reduces_after_patience_and_ignores_small_improvements)
{
    fixture f = make(1.0f);
    nb_lr_schedule s = {.kind = NB_LR_PLATEAU, .factor = 0.5f, .patience = 2};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK, "%s", nb_error());
    cr_assert_float_eq(s.threshold, 1e-4f, 0);
    /* metric[t] is the value of epoch t - 1 (metric[0] is ignored). 9.00005 and 8.99995
     * are within the threshold of the best, 9: no improvement. */
    const double metric[] = {0, 10, 9, 9.00005, 8.99995, 9.5, 9.5, 1, 2, 3};
    const double want[] = {1, 1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125};
    expect(&s, &f, metric, want, 10);
    /* t = 0 starts over from the base rate. */
    float lr = nb_lr_schedule_apply(&s, f.opt, 0, 0);
    cr_assert_eq(lr, 1.0f);
    cr_assert_eq(s.bad_, 0);
    done(&f);
}

Test(schedule, plateau_default_patience_is_10)
{
    fixture f = make(1.0f);
    nb_lr_schedule s = {.kind = NB_LR_PLATEAU};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK, "%s", nb_error());
    cr_assert_eq(s.patience, 10);
    cr_assert_float_eq(s.factor, 0.1f, 0);
    nb_lr_schedule_apply(&s, f.opt, 0, 0);
    /* (The macros evaluate their arguments more than once: apply outside them.) */
    for (int t = 1; t <= 10; t++) {
        float lr = nb_lr_schedule_apply(&s, f.opt, t, 5.0);
        cr_assert_eq(lr, 1.0f, "t = %d", t);
    }
    /* Epochs 1 .. 10 did not improve on epoch 0's 5. */
    float lr = nb_lr_schedule_apply(&s, f.opt, 11, 5.0);
    cr_assert_eq(lr, 0.1f);
    done(&f);
}

Test(schedule, plateau_cooldown)
{
    fixture f = make(1.0f);
    nb_lr_schedule s = {.kind = NB_LR_PLATEAU, .patience = 1, .cooldown = 2};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK, "%s", nb_error());
    /* Keras: after a reduction the next cooldown epochs count no bad epochs; the epoch
     * that ends the cooldown counts again. */
    const double metric[] = {0, 5, 5, 5, 5, 5, 5, 5};
    const double want[] = {1, 1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001};
    expect(&s, &f, metric, want, 8);
    done(&f);
}

Test(schedule, plateau_min_lr)
{
    fixture f = make(1.0f);
    nb_lr_schedule s = {.kind = NB_LR_PLATEAU, .patience = 1, .min_lr = 0.05f};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK, "%s", nb_error());
    const double metric[] = {0, 5, 5, 5, 5, 5};
    const double want[] = {1, 1, 0.1, 0.05, 0.05, 0.05};
    expect(&s, &f, metric, want, 6);
    done(&f);
}

Test(schedule, plateau_maximize_and_nan)
{
    fixture f = make(1.0f);
    nb_lr_schedule s = {.kind = NB_LR_PLATEAU, .patience = 1, .factor = 0.5f,
                        .maximize = true, .threshold = 0.01f};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK, "%s", nb_error());
    /* Accuracy rising is good; 0.605 is within the threshold of 0.6; NaN is no better. */
    const double metric[] = {0, 0.5, 0.6, 0.605, 0.7, 0.65, NAN, 0.9};
    const double want[] = {1, 1, 1, 0.5, 0.5, 0.25, 0.125, 0.125};
    expect(&s, &f, metric, want, 8);
    done(&f);
}

Test(schedule, the_optimizer_steps_with_the_scheduled_rate)
{
    fixture f = make(0.4f);
    nb_lr_schedule s = {.kind = NB_LR_STEP, .step_size = 1, .gamma = 0.5f};
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK);
    double w = 0;
    for (int epoch = 0; epoch < 4; epoch++) {
        nb_lr_schedule_apply(&s, f.opt, epoch, 0);
        f.w->grad->data[0] = 1.0f;
        cr_assert_eq(nb_optim_step(f.opt), NB_OK);
        w -= 0.4 * pow(0.5, epoch);
    }
    cr_assert_float_eq(f.w->data[0], w, 1e-7);   /* -0.4 - 0.2 - 0.1 - 0.05 */
    done(&f);
}

Test(schedule, errors)
{
    fixture f = make(0.5f);
    struct {
        nb_lr_schedule s;
        const char *msg;
    } bad[] = {
        {{.kind = NB_LR_STEP}, "lr_schedule: step: step_size must be >= 1, got 0"},
        {{.kind = NB_LR_STEP, .step_size = 2, .gamma = -0.5f},
         "lr_schedule: step: gamma must be finite and > 0, got -0.5"},
        {{.kind = NB_LR_EXPONENTIAL}, "lr_schedule: exponential: gamma must be finite and > 0, got 0"},
        {{.kind = NB_LR_EXPONENTIAL, .gamma = NAN},
         "lr_schedule: exponential: gamma must be finite and > 0, got nan"},
        {{.kind = NB_LR_COSINE, .total = 5, .warmup = -1},
         "lr_schedule: cosine: warmup must be >= 0, got -1"},
        {{.kind = NB_LR_COSINE}, "lr_schedule: cosine: total must be > warmup, got total 0 and warmup 0"},
        {{.kind = NB_LR_COSINE, .total = 3, .warmup = 3},
         "lr_schedule: cosine: total must be > warmup, got total 3 and warmup 3"},
        {{.kind = NB_LR_COSINE, .total = 3, .min_lr = 0.6f},
         "lr_schedule: cosine: min_lr must be in [0, base rate 0.5], got 0.6"},
        {{.kind = NB_LR_COSINE, .total = 3, .min_lr = NAN},
         "lr_schedule: cosine: min_lr must be in [0, base rate 0.5], got nan"},
        {{.kind = NB_LR_PLATEAU, .per_step = true},
         "lr_schedule: plateau: per_step is not allowed"},
        {{.kind = NB_LR_PLATEAU, .factor = 1}, "lr_schedule: plateau: factor must be in (0, 1), got 1"},
        {{.kind = NB_LR_PLATEAU, .factor = -0.5f},
         "lr_schedule: plateau: factor must be in (0, 1), got -0.5"},
        {{.kind = NB_LR_PLATEAU, .factor = NAN}, "lr_schedule: plateau: factor must be in (0, 1), got nan"},
        {{.kind = NB_LR_PLATEAU, .patience = -3}, "lr_schedule: plateau: patience must be >= 1, got -3"},
        {{.kind = NB_LR_PLATEAU, .threshold = -1},
         "lr_schedule: plateau: threshold must be finite and >= 0, got -1"},
        {{.kind = NB_LR_PLATEAU, .cooldown = -1}, "lr_schedule: plateau: cooldown must be >= 0, got -1"},
        {{.kind = NB_LR_PLATEAU, .min_lr = -1},
         "lr_schedule: plateau: min_lr must be finite and >= 0, got -1"},
        {{.kind = (nb_lr_kind)42}, "lr_schedule: kind 42 is not an nb_lr_kind"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(nb_lr_schedule_start(&bad[i].s, f.opt), NB_ERR_ARG, "case %zu", i);
        cr_assert(strstr(nb_error(), bad[i].msg), "case %zu: \"%s\" lacks \"%s\"", i,
                  nb_error(), bad[i].msg);
        /* A schedule that failed to start cannot be applied. */
        cr_assert(isnan(nb_lr_schedule_apply(&bad[i].s, f.opt, 0, 0)));
        cr_assert_eq(nb_error_code(), NB_ERR_STATE);
    }

    nb_lr_schedule s = {.kind = NB_LR_CONSTANT};
    cr_assert(isnan(nb_lr_schedule_apply(&s, f.opt, 0, 0)));
    cr_assert(strstr(nb_error(), "lr_schedule_apply: the schedule was not started"), "%s",
              nb_error());
    cr_assert_eq(nb_lr_schedule_start(NULL, f.opt), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "lr_schedule_start: the schedule is NULL"));
    cr_assert_eq(nb_lr_schedule_start(&s, NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "lr_schedule_start: the optimizer is NULL"));
    cr_assert_eq(nb_lr_schedule_start(&s, f.opt), NB_OK);
    cr_assert(isnan(nb_lr_schedule_apply(NULL, f.opt, 0, 0)));
    cr_assert_eq(nb_error_code(), NB_ERR_NULL);
    cr_assert(isnan(nb_lr_schedule_apply(&s, NULL, 0, 0)));
    cr_assert(strstr(nb_error(), "lr_schedule_apply: the optimizer is NULL"));
    cr_assert(isnan(nb_lr_schedule_apply(&s, f.opt, -1, 0)));
    cr_assert(strstr(nb_error(), "lr_schedule_apply: t must be >= 0, got -1"), "%s", nb_error());

    /* A rate that overflows is refused and the optimizer keeps its rate. */
    nb_lr_schedule e = {.kind = NB_LR_EXPONENTIAL, .gamma = 1e10f};
    cr_assert_eq(nb_lr_schedule_start(&e, f.opt), NB_OK);
    cr_assert(isnan(nb_lr_schedule_apply(&e, f.opt, 10, 0)));
    cr_assert_eq(nb_error_code(), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "sgd: lr must be finite and >= 0, got inf"), "%s", nb_error());
    cr_assert_float_eq(nb_optim_lr(f.opt), 0.5f, 0);
    done(&f);
}
