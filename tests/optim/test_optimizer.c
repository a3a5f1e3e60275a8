/*
 * What every optimizer shares: state save/restore, runs and blocks, threads, a user's
 * optimizer through nb_optim_def, the descriptor's errors, NULL handling, allocation
 * failures.
 */
#include <stdlib.h>

#include "quadratic.h"

NB_TEST_SUITE(optimizer);

/* ---- a user's optimizer: Signum (sign of a momentum average) ---- */

typedef struct signum_opts {
    float lr;
    float beta;   /* default 0.9 */
} signum_opts;

static nb_status signum_check(void *opts)
{
    signum_opts *o = opts;
    if (o->beta == 0.0f)
        o->beta = 0.9f;
    if (!(o->beta > 0.0f && o->beta < 1.0f))
        return nb_set_error(NB_ERR_ARG, "signum: beta must be in (0, 1), got %g",
                            (double)o->beta);
    return NB_OK;
}

/* m = beta m + (1 - beta) g,  p -= lr sign(m), m starting at 0.5. */
static void signum_update(const void *opts, float lr, int64_t t, float *p, const float *g,
                          float *const *s, int64_t n)
{
    (void)t;
    const signum_opts *o = opts;
    float *m = s[0];
    for (int64_t i = 0; i < n; i++) {
        m[i] = o->beta * m[i] + (1.0f - o->beta) * g[i];
        p[i] -= lr * (float)((m[i] > 0.0f) - (m[i] < 0.0f));
    }
}

static float signum_init(const void *opts, int k)
{
    (void)opts;
    (void)k;
    return 0.5f;
}

static const nb_optim_def signum_def = {
    .name = "signum",
    .n_state = 1,
    .state_names = {"momentum"},
    .opts_size = sizeof(signum_opts),
    .check = signum_check,
    .update = signum_update,
    .init_state = signum_init,
    .default_lr = 0.02f,
};

static nb_optimizer *make_signum(nb_params *ps, const void *opts)
{
    return nb_optim_new(ps, &signum_def, opts);
}

static void signum_rule(const void *ctx, int64_t t, double *p, double g, double s[4])
{
    (void)t;
    double beta = *(const double *)ctx;
    s[0] = beta * s[0] + (1 - beta) * g;
    *p -= 0.02 * (double)((s[0] > 0) - (s[0] < 0));
}

Test(optimizer, a_user_optimizer_works_like_a_built_in)
{
    signum_opts o = {.lr = 0};   /* default_lr 0.02, default beta 0.9 */
    double beta = 0.9f;
    const double init[4] = {0.5};
    const char *const names[4] = {"momentum"};
    for (int steps = 1; steps <= 10; steps += 9) {
        quad_case(make_signum, &o, signum_rule, &beta, steps, init, names, -1);
        quad_case(make_signum, &o, signum_rule, &beta, steps, init, names, 1);
    }
    quad q;
    quad_init(&q);
    nb_optimizer *opt = nb_optim_new(q.ps, &signum_def, &o);
    cr_assert_not_null(opt, "%s", nb_error());
    cr_assert_str_eq(nb_optim_name(opt), "signum");
    cr_assert_float_eq(nb_optim_lr(opt), 0.02f, 0);
    cr_assert_str_eq(nb_params_name(nb_optim_state(opt), 0), "l1.kernel.momentum");
    nb_optim_free(opt);
    assert_error(nb_optim_new(q.ps, &signum_def, &(signum_opts){.beta = 2}), NB_ERR_ARG,
                 "signum: beta must be in (0, 1), got 2");
    quad_free(&q);
}

/* ---- the built-ins with every state they can keep, and the user's ---- */

enum { N_KINDS = 6 };

static nb_optimizer *make_kind(int k, nb_params *ps)
{
    switch (k) {
    case 0:
        return nb_sgd(ps, (nb_sgd_opts){.lr = 0.05f, .momentum = 0.9f, .nesterov = true,
                                        .weight_decay = 0.01f});
    case 1:
        return nb_adam(ps, (nb_adam_opts){.lr = 0.05f, .beta2 = 0.9f, .amsgrad = true,
                                          .weight_decay = 0.01f});
    case 2:
        return nb_adamw(ps, (nb_adam_opts){.lr = 0.05f, .amsgrad = true});
    case 3:
        return nb_rmsprop(ps, (nb_rmsprop_opts){.lr = 0.01f, .momentum = 0.5f,
                                                .centered = true, .weight_decay = 0.01f});
    case 4:
        return nb_adagrad(ps, (nb_adagrad_opts){.lr = 0.3f, .lr_decay = 0.1f,
                                                .initial_accumulator = 0.1f});
    default:
        return nb_optim_new(ps, &signum_def, &(signum_opts){.lr = 0.01f});
    }
}

static void assert_same_values(const nb_params *a, const nb_params *b, const char *what)
{
    int64_t n = nb_params_numel(a, NB_PARAM) + nb_params_numel(a, NB_BUFFER);
    cr_assert_eq(n, nb_params_numel(b, NB_PARAM) + nb_params_numel(b, NB_BUFFER));
    cr_assert_eq(memcmp(nb_params_values(a), nb_params_values(b), (size_t)n * sizeof(float)),
                 0, "%s differ", what);
}

Test(optimizer, state_save_and_restore_is_exact_for_every_optimizer)
{
    for (int k = 0; k < N_KINDS; k++) {
        /* Uninterrupted: 10 steps. */
        quad whole;
        quad_init(&whole);
        nb_optimizer *ow = make_kind(k, whole.ps);
        cr_assert_not_null(ow, "%s", nb_error());
        quad_train(&whole, ow, 10);

        /* 4 steps, saved ... */
        quad first;
        quad_init(&first);
        nb_optimizer *of = make_kind(k, first.ps);
        cr_assert_not_null(of);
        quad_train(&first, of, 4);
        int64_t np = nb_params_numel(first.ps, NB_PARAM) + nb_params_numel(first.ps, NB_BUFFER);
        int64_t ns = nb_params_numel(nb_optim_state(of), NB_BUFFER);
        float *saved_p = malloc((size_t)np * sizeof(float));
        float *saved_s = malloc((size_t)ns * sizeof(float));
        cr_assert(saved_p && saved_s);
        memcpy(saved_p, nb_params_values(first.ps), (size_t)np * sizeof(float));
        memcpy(saved_s, nb_params_values(nb_optim_state(of)), (size_t)ns * sizeof(float));
        nb_optim_free(of);
        quad_free(&first);

        /* ... restored into a fresh store and optimizer, 6 more steps. */
        quad second;
        quad_init(&second);
        nb_optimizer *os = make_kind(k, second.ps);
        cr_assert_not_null(os);
        cr_assert_eq(nb_optim_steps(os), 0);
        cr_assert_eq(nb_params_numel(nb_optim_state(os), NB_BUFFER), ns);
        memcpy(nb_params_values(second.ps), saved_p, (size_t)np * sizeof(float));
        memcpy(nb_params_values(nb_optim_state(os)), saved_s, (size_t)ns * sizeof(float));
        cr_assert_eq(nb_optim_steps(os), 4, "the restored state counts 4 steps");
        quad_train(&second, os, 6);
        cr_assert_eq(nb_optim_steps(os), 10);

        char what[64];
        snprintf(what, sizeof what, "%s: parameters", nb_optim_name(os));
        assert_same_values(whole.ps, second.ps, what);
        snprintf(what, sizeof what, "%s: states", nb_optim_name(os));
        assert_same_values(nb_optim_state(ow), nb_optim_state(os), what);
        /* The state was really needed: without it the run differs. */
        quad fresh;
        quad_init(&fresh);
        nb_optimizer *ofr = make_kind(k, fresh.ps);
        memcpy(nb_params_values(fresh.ps), saved_p, (size_t)np * sizeof(float));
        quad_train(&fresh, ofr, 6);
        cr_assert_neq(memcmp(nb_params_values(fresh.ps), nb_params_values(whole.ps),
                             (size_t)np * sizeof(float)), 0,
                      "%s: restoring only the parameters should not be enough",
                      nb_optim_name(ofr));
        nb_optim_free(ofr);
        quad_free(&fresh);

        free(saved_p);
        free(saved_s);
        nb_optim_free(ow);
        nb_optim_free(os);
        quad_free(&whole);
        quad_free(&second);
    }
}

Test(optimizer, a_bad_step_count_in_the_state_is_an_error)
{
    quad q;
    quad_init(&q);
    nb_optimizer *opt = nb_adam(q.ps, (nb_adam_opts){0});
    cr_assert_not_null(opt);
    float *step = nb_params_find(nb_optim_state(opt), "step")->data;
    const float bad[] = {-1.0f, 2.5f, NAN, INFINITY};
    float before[Q_P];
    memcpy(before, nb_params_values(q.ps), sizeof before);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        step[0] = bad[i];
        cr_assert_eq(nb_optim_step(opt), NB_ERR_STATE);
        cr_assert(strstr(nb_error(), "adam: the state's 'step' holds"), "%s", nb_error());
        cr_assert_eq(nb_optim_steps(opt), -1);
    }
    cr_assert_eq(memcmp(before, nb_params_values(q.ps), sizeof before), 0,
                 "nothing is updated");
    step[0] = 7.0f;
    cr_assert_eq(nb_optim_steps(opt), 7);
    nb_optim_free(opt);
    quad_free(&q);
}

/* ---- runs and blocks ---- */

/* Writes, into every element it is given, the number of elements of its call. */
static void count_update(const void *opts, float lr, int64_t t, float *p, const float *g,
                         float *const *s, int64_t n)
{
    (void)opts, (void)lr, (void)t, (void)g, (void)s;
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)n;
}

static const nb_optim_def count_def = {
    .name = "count",
    .opts_size = sizeof(float),
    .update = count_update,
    .default_lr = 1,
};

Test(optimizer, adjacent_trainable_parameters_form_runs_cut_into_blocks)
{
    /* a, b (with a buffer between them in the entry order) are one run of 6000 floats:
     * blocks of 4096 and 1904; c is frozen; d alone is a run of 10000: 4096, 4096, 1808. */
    nb_params *ps = nb_params_new();
    nb_tensor *a = nb_params_add(ps, "a", NB_PARAM, NB_SHAPE(3000));
    nb_tensor *buf = nb_params_add(ps, "buf", NB_BUFFER, NB_SHAPE(10));
    nb_tensor *b = nb_params_add(ps, "b", NB_PARAM, NB_SHAPE(30, 100));
    nb_tensor *c = nb_params_add(ps, "c", NB_PARAM, NB_SHAPE(50));
    nb_tensor *e = nb_params_add(ps, "empty", NB_PARAM, NB_SHAPE(0));
    nb_tensor *d = nb_params_add(ps, "d", NB_PARAM, NB_SHAPE(10000));
    cr_assert(a && buf && b && c && e && d);
    cr_assert_eq(nb_tensor_set_requires_grad(c, false), NB_OK);
    nb_optimizer *opt = nb_optim_new(ps, &count_def, &(float){0});
    cr_assert_not_null(opt, "%s", nb_error());
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    const float *p = nb_params_values(ps);
    for (int64_t i = 0; i < 6000; i++)
        cr_assert_eq(p[i], i < NB_OPTIM_BLOCK ? (float)NB_OPTIM_BLOCK : 1904.0f, "[%lld]",
                     (long long)i);
    for (int64_t i = 0; i < 50; i++)
        cr_assert_eq(c->data[i], 0.0f, "frozen");
    for (int64_t i = 0; i < 10000; i++)
        cr_assert_eq(d->data[i], i < 2 * NB_OPTIM_BLOCK ? (float)NB_OPTIM_BLOCK : 1808.0f);
    for (int64_t i = 0; i < 10; i++)
        cr_assert_eq(buf->data[i], 0.0f, "buffers are not updated");

    /* Unfrozen later, c joins the runs around it: 6000 + 50 + 10000 = 16050 floats. */
    cr_assert_eq(nb_tensor_set_requires_grad(c, true), NB_OK);
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    for (int64_t i = 0; i < 16050; i++) {
        float want = i < 3 * NB_OPTIM_BLOCK ? (float)NB_OPTIM_BLOCK : 16050.0f - 3 * NB_OPTIM_BLOCK;
        cr_assert_eq(p[i], want, "[%lld]", (long long)i);
    }
    nb_optim_free(opt);
    nb_params_free(ps);
}

Test(optimizer, freezing_between_steps_keeps_the_state)
{
    quad q;
    quad_init(&q);
    nb_optimizer *opt = nb_sgd(q.ps, (nb_sgd_opts){.lr = 0.05f, .momentum = 0.9f});
    cr_assert_not_null(opt);
    quad_train(&q, opt, 2);
    nb_tensor *buf = nb_params_find(nb_optim_state(opt), "l1.bias.momentum_buffer");
    float w[5], b[5];
    memcpy(w, q.w[1]->data, sizeof w);
    memcpy(b, buf->data, sizeof b);
    quad_freeze(&q, 1, true);
    quad_train(&q, opt, 3);
    cr_assert_eq(memcmp(w, q.w[1]->data, sizeof w), 0, "frozen values changed");
    cr_assert_eq(memcmp(b, buf->data, sizeof b), 0, "frozen state changed");
    quad_freeze(&q, 1, false);
    quad_train(&q, opt, 1);
    cr_assert_neq(memcmp(w, q.w[1]->data, sizeof w), 0, "unfrozen, it trains again");
    cr_assert_eq(nb_optim_steps(opt), 6);
    nb_optim_free(opt);
    quad_free(&q);
}

Test(optimizer, set_lr_acts_on_the_next_step)
{
    nb_params *ps = nb_params_new();
    nb_tensor *w = nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(1));
    nb_optimizer *opt = nb_sgd(ps, (nb_sgd_opts){.lr = 0.5f});
    cr_assert_not_null(opt);
    w->grad->data[0] = 1.0f;
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    cr_assert_eq(w->data[0], -0.5f);
    cr_assert_eq(nb_optim_set_lr(opt, 0.25f), NB_OK);
    cr_assert_eq(nb_optim_lr(opt), 0.25f);
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    cr_assert_eq(w->data[0], -0.75f);
    cr_assert_eq(nb_optim_set_lr(opt, 0.0f), NB_OK, "lr 0 can be set (it freezes training)");
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    cr_assert_eq(w->data[0], -0.75f);
    cr_assert_eq(nb_optim_set_lr(opt, -1.0f), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "sgd: lr must be finite and >= 0, got -1"), "%s", nb_error());
    cr_assert_eq(nb_optim_set_lr(opt, NAN), NB_ERR_ARG);
    cr_assert_eq(nb_optim_set_lr(opt, INFINITY), NB_ERR_ARG);
    cr_assert_eq(nb_optim_lr(opt), 0.0f, "a rejected rate leaves the rate alone");
    nb_optim_free(opt);
    nb_params_free(ps);
}

Test(optimizer, an_empty_store_and_a_finalized_one)
{
    nb_params *ps = nb_params_new();
    nb_optimizer *opt = nb_adam(ps, (nb_adam_opts){0});
    cr_assert_not_null(opt, "%s", nb_error());
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    cr_assert_eq(nb_optim_steps(opt), 1);
    cr_assert_eq(nb_params_count(nb_optim_state(opt)), 1);
    /* The store's layout is fixed now. */
    assert_error(nb_params_add(ps, "late", NB_PARAM, NB_SHAPE(2)), NB_ERR_STATE, "fixed");
    nb_optim_free(opt);
    nb_params_free(ps);
}

Test(optimizer, null_handling)
{
    nb_optim_free(NULL);
    cr_assert_eq(nb_optim_step(NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "optim_step: optimizer is NULL"));
    cr_assert_null(nb_optim_name(NULL));
    cr_assert_eq(nb_error_code(), NB_ERR_NULL);
    cr_assert(isnan(nb_optim_lr(NULL)));
    cr_assert_eq(nb_optim_set_lr(NULL, 0.1f), NB_ERR_NULL);
    cr_assert_eq(nb_optim_steps(NULL), -1);
    nb_error_clear();
    assert_error(nb_optim_state(NULL), NB_ERR_NULL, "optim_state: optimizer is NULL");
    assert_error(nb_optim_params(NULL), NB_ERR_NULL, "optim_params: optimizer is NULL");
    nb_params *ps = nb_params_new();
    assert_error(nb_optim_new(ps, NULL, &(float){0}), NB_ERR_NULL,
                 "optim_new: the descriptor is NULL");
    assert_error(nb_optim_new(ps, &signum_def, NULL), NB_ERR_NULL, "signum: opts is NULL");
    assert_error(nb_optim_new(NULL, &signum_def, &(signum_opts){0}), NB_ERR_NULL,
                 "signum: the parameter store is NULL");
    nb_params_free(ps);
}

Test(optimizer, descriptor_errors)
{
    nb_params *ps = nb_params_new();
    cr_assert_not_null(nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(3)));
    signum_opts o = {0};
    nb_optim_def d;

    d = signum_def, d.name = NULL;
    assert_error(nb_optim_new(ps, &d, &o), NB_ERR_ARG, "optim_new: the descriptor has no name");
    d = signum_def, d.name = "";
    assert_error(nb_optim_new(ps, &d, &o), NB_ERR_ARG, "optim_new: the descriptor has no name");
    d = signum_def, d.name = "a_name_much_longer_than_the_sixty_three_characters_an_optimizer_may_have";
    assert_error(nb_optim_new(ps, &d, &o), NB_ERR_ARG, "is longer than 63 characters");
    d = signum_def, d.update = NULL;
    assert_error(nb_optim_new(ps, &d, &o), NB_ERR_ARG, "signum: the descriptor has no update");
    d = signum_def, d.n_state = 5;
    assert_error(nb_optim_new(ps, &d, &o), NB_ERR_ARG, "signum: n_state must be in [0, 4], got 5");
    d = signum_def, d.n_state = -1;
    assert_error(nb_optim_new(ps, &d, &o), NB_ERR_ARG, "signum: n_state must be in [0, 4], got -1");
    d = signum_def, d.n_state = 2;
    assert_error(nb_optim_new(ps, &d, &o), NB_ERR_ARG, "signum: state_names[1] is NULL");
    d = signum_def, d.opts_size = 2;
    assert_error(nb_optim_new(ps, &d, &o), NB_ERR_ARG,
                 "signum: opts_size 2 cannot hold the leading float lr");
    d = signum_def, d.state_names[0] = "bad name";
    assert_error(nb_optim_new(ps, &d, &o), NB_ERR_ARG,
                 "signum: cannot keep state 'bad name' of 'w': params_add: name 'w.bad name' "
                 "holds character 0x20");
    d = signum_def, d.n_state = 2, d.state_names[1] = "momentum";
    assert_error(nb_optim_new(ps, &d, &o), NB_ERR_ARG, "already in the store");
    /* An entry name at the limit leaves no room for the state's suffix. */
    nb_params *long_ps = nb_params_new();
    char name[NB_PARAM_NAME_MAX + 1];
    memset(name, 'x', NB_PARAM_NAME_MAX);
    name[NB_PARAM_NAME_MAX] = 0;
    cr_assert_not_null(nb_params_add(long_ps, name, NB_PARAM, NB_SHAPE(1)));
    assert_error(nb_sgd(long_ps, (nb_sgd_opts){.momentum = 0.5f}), NB_ERR_ARG,
                 "sgd: cannot keep state 'momentum_buffer' of 'xxxx");
    cr_assert(strstr(nb_error(), "is longer than 200 characters"), "%s", nb_error());
    nb_params_free(long_ps);
    /* Without check, init_state, has_state, a descriptor still works. */
    d = (nb_optim_def){.name = "bare", .opts_size = sizeof(float), .update = count_update};
    nb_optimizer *opt = nb_optim_new(ps, &d, &(float){0.5f});
    cr_assert_not_null(opt, "%s", nb_error());
    cr_assert_eq(nb_optim_lr(opt), 0.5f);
    nb_optim_free(opt);
    d.default_lr = -1;
    assert_error(nb_optim_new(ps, &d, &(float){0}), NB_ERR_ARG,
                 "bare: lr must be finite and >= 0, got -1");
    nb_params_free(ps);
}

/* ---- allocation failures ---- */

static long n_alloc, n_free, n_failed, fail_at = -1;

static void *count_alloc(size_t size, size_t align, void *ud)
{
    (void)ud;
    if (n_alloc + n_failed == fail_at) {
        n_failed++;
        return NULL;
    }
    n_alloc++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void count_free(void *p, void *ud)
{
    (void)ud;
    if (p)
        n_free++;
    free(p);
}

Test(optimizer, every_allocation_failure_at_creation_is_an_error_not_a_leak)
{
    for (int k = 0; k < N_KINDS; k++) {
        for (long f = 0;; f++) {
            n_alloc = n_free = n_failed = 0;
            fail_at = f;
            nb_set_allocator(&(nb_allocator){count_alloc, count_free, NULL});
            nb_error_clear();
            nb_params *ps = nb_params_new();
            nb_optimizer *opt = NULL;
            if (ps && nb_params_add(ps, "a", NB_PARAM, NB_SHAPE(3, 4)) &&
                nb_params_add(ps, "b", NB_BUFFER, NB_SHAPE(2)) &&
                nb_params_add(ps, "c", NB_PARAM, NB_SHAPE(5)))
                opt = make_kind(k, ps);
            if (!opt) {
                cr_assert_eq(nb_error_code(), NB_ERR_NOMEM, "kind %d, failure %ld: %s", k, f,
                             nb_error());
            } else {
                cr_assert_eq(nb_optim_step(opt), NB_OK);
            }
            nb_optim_free(opt);
            nb_params_free(ps);
            nb_memory_release();
            nb_set_allocator(NULL);
            cr_assert_eq(n_alloc, n_free, "kind %d, failure %ld leaked %ld blocks", k, f,
                         n_alloc - n_free);
            if (n_failed == 0) {
                cr_assert_not_null(opt);
                cr_assert_gt(f, 5);
                break;
            }
        }
    }
}

/* ---- threads ---- */

/* A store larger than NB_PAR_MIN trainable floats, with a frozen parameter and a
 * buffer, trained 3 steps on hand-set gradients with `threads` threads. */
static void train_big(int k, int threads, float **params, float **state, int64_t *np,
                      int64_t *ns)
{
    cr_assert_eq(nb_set_num_threads(threads), NB_OK);
    nb_params *ps = nb_params_new();
    nb_tensor *t[] = {
        nb_params_add(ps, "big.a", NB_PARAM, NB_SHAPE(200, 201)),
        nb_params_add(ps, "big.frozen", NB_PARAM, NB_SHAPE(1000)),
        nb_params_add(ps, "big.buf", NB_BUFFER, NB_SHAPE(5)),
        nb_params_add(ps, "big.b", NB_PARAM, NB_SHAPE(30001)),
        nb_params_add(ps, "big.c", NB_PARAM, NB_SHAPE(7)),
    };
    for (int i = 0; i < 5; i++)
        cr_assert_not_null(t[i], "%s", nb_error());
    cr_assert_eq(nb_tensor_set_requires_grad(t[1], false), NB_OK);
    float *v = nb_params_values(ps);
    for (int64_t i = 0; i < nb_params_numel(ps, NB_PARAM); i++)
        v[i] = nb_rng_uniform(1, (uint64_t)i) * 2.0f - 1.0f;
    nb_optimizer *opt = make_kind(k, ps);
    cr_assert_not_null(opt, "%s", nb_error());
    v = nb_params_values(ps);   /* finalizing the store may have moved the arenas */
    float *g = nb_params_grads(ps);
    for (int s = 0; s < 3; s++) {
        for (int64_t i = 0; i < nb_params_numel(ps, NB_PARAM); i++)
            g[i] = nb_rng_uniform(2 + (uint64_t)s, (uint64_t)i) - 0.5f;
        cr_assert_eq(nb_optim_step(opt), NB_OK);
    }
    *np = nb_params_numel(ps, NB_PARAM) + nb_params_numel(ps, NB_BUFFER);
    *ns = nb_params_numel(nb_optim_state(opt), NB_BUFFER);
    *params = malloc((size_t)*np * sizeof(float));
    *state = malloc((size_t)*ns * sizeof(float));
    cr_assert(*params && *state);
    memcpy(*params, v, (size_t)*np * sizeof(float));
    memcpy(*state, nb_params_values(nb_optim_state(opt)), (size_t)*ns * sizeof(float));
    nb_optim_free(opt);
    nb_params_free(ps);
}

Test(optimizer, bit_identical_with_1_and_2_threads)
{
    cr_assert_gt(200 * 201 + 30001 + 7, NB_PAR_MIN, "the store takes the parallel path");
    for (int k = 0; k < N_KINDS; k++) {
        float *p1, *s1, *p2, *s2;
        int64_t np, ns;
        train_big(k, 1, &p1, &s1, &np, &ns);
        train_big(k, 2, &p2, &s2, &np, &ns);
        cr_assert_eq(memcmp(p1, p2, (size_t)np * sizeof(float)), 0, "kind %d: parameters", k);
        cr_assert_eq(memcmp(s1, s2, (size_t)ns * sizeof(float)), 0, "kind %d: state", k);
        /* The frozen parameter (floats 40200 .. 41200) kept its values. */
        for (int64_t i = 40200; i < 41200; i++)
            cr_assert_eq(p1[i], nb_rng_uniform(1, (uint64_t)i) * 2.0f - 1.0f);
        cr_assert_neq(p1[0], nb_rng_uniform(1, 0) * 2.0f - 1.0f, "kind %d trained", k);
        free(p1), free(s1), free(p2), free(s2);
    }
    nb_set_num_threads(1);
}
