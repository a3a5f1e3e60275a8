/* compile: every loss against its formula in double and by finite differences, both
 * reductions, target reshaping, the metrics of a batch and their running means, the
 * optimizer compile makes, and every error. */
#include "nn_common.h"

NB_TEST_SUITE(compile);

/* One-hot rows [N, C] of class labels. */
static nb_tensor *one_hot(const nb_tensor *labels, int64_t C)
{
    nb_tensor *t = nb_tensor_zeros(NB_SHAPE(labels->size, C));
    for (int64_t n = 0; n < labels->size; n++)
        t->data[n * C + (int64_t)labels->data[n]] = 1;
    return t;
}

/* A compiled model (never built: the loss needs no layers). */
static nb_model *compiled(nb_compile_opts o)
{
    nb_model *m = nb_sequential(nb_dense(1));
    cr_assert_not_null(m);
    cr_assert_eq(nb_model_compile(m, &o), NB_OK, "%s", nb_error());
    return m;
}

typedef struct loss_case {
    nb_model *m;
    nb_tensor *y;
} loss_case;

static nb_tensor *loss_fn(nb_tensor *const *in, void *ud)
{
    loss_case *c = ud;
    return nb_model_loss(c->m, in[0], c->y);
}

/* loss(p, y) of the compiled model against `want` (the mean of per-sample terms), for
 * both reductions, and its gradient in p. */
static void check_loss(nb_compile_opts o, nb_tensor *p, nb_tensor *y, double want_mean,
                       int64_t n_terms, const char *what)
{
    for (int r = 0; r < 2; r++) {
        o.reduction = r ? NB_REDUCE_SUM : NB_REDUCE_MEAN;
        loss_case c = {compiled(o), y};
        nb_tensor *l = nb_model_loss(c.m, p, y);
        cr_assert_not_null(l, "%s: %s", what, nb_error());
        cr_assert_eq(l->size, 1);
        double want = r ? want_mean * (double)n_terms : want_mean;
        cr_assert_float_eq(l->data[0], want, 1e-5 * (1 + fabs(want)), "%s (%s): %g vs %g", what,
                           r ? "sum" : "mean", l->data[0], want);
        nb_tensor_set_requires_grad(p, true);
        assert_gradcheck(loss_fn, &p, 1, &c, NULL, what);
        nb_model_free(c.m);
    }
}

Test(compile, binary_cross_entropy)
{
    nb_tensor *p = rand_tensor(NB_SHAPE(6, 1), 0.05f, 0.95f, 1, false);
    nb_tensor *y = nb_tensor_from(NB_SHAPE(6), (float[]){0, 1, 1, 0, 1, 0}); /* [N] for [N,1] */
    double s = 0;
    for (int i = 0; i < 6; i++)
        s -= y->data[i] * log(p->data[i]) + (1 - y->data[i]) * log(1 - p->data[i]);
    check_loss((nb_compile_opts){.loss = NB_LOSS_BCE}, p, y, s / 6, 6, "bce");
    /* from logits */
    nb_tensor *z = rand_tensor(NB_SHAPE(6, 1), -3, 3, 2, false);
    s = 0;
    for (int i = 0; i < 6; i++) {
        double q = 1 / (1 + exp(-(double)z->data[i]));
        s -= y->data[i] * log(q) + (1 - y->data[i]) * log(1 - q);
    }
    check_loss((nb_compile_opts){.loss = NB_LOSS_BCE, .from_logits = true}, z, y, s / 6, 6,
               "bce logits");
    nb_tensor_free(p);
    nb_tensor_free(y);
    nb_tensor_free(z);
}

Test(compile, mean_squared_and_absolute_error)
{
    nb_tensor *p = rand_tensor(NB_SHAPE(5, 3), -2, 2, 3, false);
    nb_tensor *y = rand_tensor(NB_SHAPE(5, 3), -2, 2, 4, false);
    double se = 0, ae = 0;
    for (int i = 0; i < 15; i++) {
        double d = (double)p->data[i] - y->data[i];
        se += d * d;
        ae += fabs(d);
    }
    check_loss((nb_compile_opts){.loss = NB_LOSS_MSE}, p, y, se / 15, 15, "mse");
    check_loss((nb_compile_opts){.loss = NB_LOSS_MAE}, p, y, ae / 15, 15, "mae");
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(compile, cross_entropies)
{
    enum { N = 4, C = 5 };
    nb_tensor *z = rand_tensor(NB_SHAPE(N, C), -2, 2, 5, false);
    nb_tensor *labels = nb_tensor_from(NB_SHAPE(N, 1), (float[]){0, 4, 2, 2});
    nb_tensor *onehot = one_hot(labels, C);
    nb_tensor *probs = nb_tensor_clone(nb_softmax(z, -1));
    double ce_logits = 0, ce_probs = 0;
    for (int n = 0; n < N; n++) {
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < C; c++)
            mx = fmax(mx, z->data[n * C + c]);
        for (int c = 0; c < C; c++)
            sum += exp(z->data[n * C + c] - mx);
        int k = (int)labels->data[n];
        ce_logits -= z->data[n * C + k] - mx - log(sum);
        ce_probs -= log(probs->data[n * C + k] + 1e-7);
    }
    check_loss((nb_compile_opts){.loss = NB_LOSS_SPARSE_CATEGORICAL_CE, .from_logits = true}, z,
               labels, ce_logits / N, N, "sparse ce logits");
    check_loss((nb_compile_opts){.loss = NB_LOSS_SPARSE_CATEGORICAL_CE}, probs, labels,
               ce_probs / N, N, "sparse ce probs");
    check_loss((nb_compile_opts){.loss = NB_LOSS_CATEGORICAL_CE, .from_logits = true}, z, onehot,
               ce_logits / N, N, "ce logits");
    check_loss((nb_compile_opts){.loss = NB_LOSS_CATEGORICAL_CE}, probs, onehot, ce_probs / N, N,
               "ce probs");
    nb_tensor_free(z);
    nb_tensor_free(labels);
    nb_tensor_free(onehot);
    nb_tensor_free(probs);
}

static nb_tensor *half_sum(nb_tensor *p, nb_tensor *y, void *ud)
{
    return nb_mul_scalar(nb_sum(nb_sub(p, y)), *(float *)ud);
}

Test(compile, a_user_loss)
{
    float half = 0.5f;
    nb_model *m = compiled((nb_compile_opts){.loss_fn = half_sum, .loss_ud = &half});
    nb_tensor *p = nb_tensor_from(NB_SHAPE(2), (float[]){3, 5}), *y = nb_tensor_ones(NB_SHAPE(2));
    cr_assert_float_eq(nb_model_loss(m, p, y)->data[0], 3.0, 1e-6);
    nb_model_free(m);
    m = compiled((nb_compile_opts){.loss_fn = (nb_loss_fn)(void (*)(void))nb_sub});
    assert_error(nb_model_loss(m, p, y), NB_ERR_SHAPE,
                 "sequential: loss: the loss function gave [2]; a loss has one value");
    nb_tensor_free(p);
    nb_tensor_free(y);
    nb_model_free(m);
}

Test(compile, loss_errors)
{
    nb_model *m = nb_sequential(nb_dense(1));
    nb_tensor *p = nb_tensor_zeros(NB_SHAPE(3, 2)), *y = nb_tensor_zeros(NB_SHAPE(3));
    assert_error(nb_model_loss(m, p, y), NB_ERR_STATE,
                 "sequential: loss: the model is not compiled (nb_compile)");
    assert_status(nb_model_compile(m, &(nb_compile_opts){0}), NB_ERR_ARG,
                  "sequential: compile: no loss (set .loss to an NB_LOSS_* kind or .loss_fn)");
    assert_status(nb_model_compile(m, &(nb_compile_opts){.loss = (nb_loss_kind)77}), NB_ERR_ARG,
                  "sequential: compile: unknown loss kind");
    assert_status(nb_compile(m, .loss = NB_LOSS_MSE, .reduction = NB_REDUCE_NONE), NB_ERR_ARG,
                  "sequential: compile: the reduction must be NB_REDUCE_MEAN or NB_REDUCE_SUM, "
                  "got 2");
    assert_status(nb_compile(m, .loss = NB_LOSS_MSE, .metrics = {NB_METRIC_MAE,
                                                                 (nb_metric_kind)40}),
                  NB_ERR_ARG, "sequential: compile: metric 1 has unknown kind 40");
    assert_status(nb_compile(m, .loss = NB_LOSS_BCE, .threshold = 1.5f), NB_ERR_ARG,
                  "sequential: compile: the threshold must be in (0, 1), got 1.5");
    cr_assert(!nb_model_compiled(m));
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_MSE), NB_OK);
    assert_error(nb_model_loss(m, p, y), NB_ERR_SHAPE,
                 "sequential: loss: mean_squared_error: predictions [3,2] and targets [3] differ");
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_SPARSE_CATEGORICAL_CE), NB_OK);
    nb_tensor *bad = nb_tensor_from(NB_SHAPE(3), (float[]){0, 1.5f, 1});
    assert_error(nb_model_loss(m, p, bad), NB_ERR_ARG,
                 "sequential: loss: label 1.5 of sample 1 is not a class index in [0, 2)");
    nb_tensor *wrong = nb_tensor_zeros(NB_SHAPE(4));
    assert_error(nb_model_loss(m, p, wrong), NB_ERR_SHAPE,
                 "sequential: loss: sparse categorical cross-entropy needs predictions [N, C] and "
                 "labels [N], got [3,2] and [4]");
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_CATEGORICAL_CE), NB_OK);
    assert_error(nb_model_loss(m, y, y), NB_ERR_SHAPE,
                 "sequential: loss: categorical cross-entropy needs predictions [N, C], got [3]");
    assert_error(nb_model_loss(m, p, NULL), NB_ERR_NULL, "sequential: loss: the target is NULL");
    nb_tensor_free(p);
    nb_tensor_free(y);
    nb_tensor_free(bad);
    nb_tensor_free(wrong);
    nb_model_free(m);
}

Test(compile, the_optimizer_waits_for_the_build)
{
    nb_model *m = nb_sequential(nb_dense(2));
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_MSE, .optimizer = NB_SGD(.lr = 0.5f)), NB_OK);
    cr_assert_null(nb_model_optimizer(m), "no layers yet, no optimizer");
    assert_status(nb_model_apply_gradients(m), NB_ERR_STATE,
                  "sequential: apply_gradients: no optimizer (the model is not built)");
    cr_assert_eq(nb_model_build(m, NB_SHAPE(3)), NB_OK, "%s", nb_error());
    nb_optimizer *opt = nb_model_optimizer(m);
    cr_assert_not_null(opt);
    cr_assert_str_eq(nb_optim_name(opt), "sgd");
    cr_assert_float_eq(nb_optim_lr(opt), 0.5f, 0);
    /* Compiling again replaces it; the default is Keras's RMSprop(0.001). */
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_MSE), NB_OK);
    cr_assert_str_eq(nb_optim_name(nb_model_optimizer(m)), "rmsprop");
    cr_assert_float_eq(nb_optim_lr(nb_model_optimizer(m)), 0.001f, 0);
    nb_model_free(m);

    /* A model that starts with an Input is built by compile. */
    m = nb_sequential(nb_input(3), nb_dense(2));
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_MSE, .optimizer = NB_ADAM(.lr = 1e-2f)), NB_OK);
    cr_assert(nb_model_built(m));
    cr_assert_str_eq(nb_optim_name(nb_model_optimizer(m)), "adam");
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_MSE, .optimizer = NB_ADAM(.beta1 = 2)), NB_ERR_ARG);
    cr_assert(!nb_model_compiled(m), "a failed compile leaves the model uncompiled");
    nb_model_free(m);
    nb_model *none = NULL;
    assert_status(nb_model_apply_gradients(none), NB_ERR_NULL, "model_apply_gradients: model is NULL");
}

Test(compile, metrics_of_batches)
{
    nb_model *m = compiled((nb_compile_opts){
        .loss = NB_LOSS_BCE,
        .metrics = {NB_METRIC_ACCURACY, NB_METRIC_MSE, NB_METRIC_MAE, NB_METRIC_BINARY_ACCURACY},
        .threshold = 0.7f});
    nb_logs logs;
    cr_assert_eq(nb_model_metrics_reset(m, &logs), NB_OK);
    cr_assert_eq(logs.n, 5);
    const char *names[] = {"loss", "accuracy", "mse", "mae", "binary_accuracy"};
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(logs.names[i], names[i]);
    nb_tensor *p = nb_tensor_from(NB_SHAPE(4, 1), (float[]){0.9f, 0.6f, 0.2f, 0.8f});
    nb_tensor *y = nb_tensor_from(NB_SHAPE(4), (float[]){1, 1, 0, 0});
    nb_tensor *loss = nb_tensor_scalar(2.0f);
    cr_assert_eq(nb_model_metrics_update(m, &logs, p, y, loss), NB_OK, "%s", nb_error());
    /* threshold 0.7: predictions 1, 0, 0, 1 against 1, 1, 0, 0 */
    double v;
    cr_assert(nb_logs_get(&logs, "accuracy", &v));
    cr_assert_float_eq(v, 0.5, 1e-12);
    cr_assert(nb_logs_get(&logs, "binary_accuracy", &v) && v == 0.5);
    cr_assert(nb_logs_get(&logs, "mse", &v));
    cr_assert_float_eq(v, (0.01 + 0.16 + 0.04 + 0.64) / 4, 1e-7);
    cr_assert(nb_logs_get(&logs, "mae", &v));
    cr_assert_float_eq(v, (0.1 + 0.4 + 0.2 + 0.8) / 4, 1e-7);
    /* A second batch of 2: running means weighted by samples. */
    nb_tensor *p2 = nb_tensor_from(NB_SHAPE(2, 1), (float[]){0.8f, 0.1f});
    nb_tensor *y2 = nb_tensor_from(NB_SHAPE(2, 1), (float[]){1, 0});
    nb_tensor *loss2 = nb_tensor_scalar(5.0f);
    cr_assert_eq(nb_model_metrics_update(m, &logs, p2, y2, loss2), NB_OK);
    cr_assert(nb_logs_get(&logs, "loss", &v));
    cr_assert_float_eq(v, (2.0 * 4 + 5.0 * 2) / 6, 1e-12);
    cr_assert(nb_logs_get(&logs, "accuracy", &v));
    cr_assert_float_eq(v, 4.0 / 6, 1e-12);
    cr_assert(!nb_logs_get(&logs, "val_loss", NULL));
    nb_logs all = logs;
    nb_logs_add_validation(&all, &logs);
    cr_assert_eq(all.n, 10);
    cr_assert_str_eq(all.names[5], "val_loss");
    cr_assert_str_eq(all.names[6], "val_accuracy");
    cr_assert(nb_logs_get(&all, "val_mae", &v));
    nb_tensor *bad = nb_tensor_zeros(NB_SHAPE(3));
    assert_status(nb_model_metrics_update(m, &logs, p, bad, loss), NB_ERR_SHAPE,
                  "sequential: metrics: binary_accuracy does not fit predictions [4,1] and "
                  "targets [3]");
    assert_status(nb_model_metrics_update(m, &logs, p, y, p), NB_ERR_SHAPE,
                  "sequential: metrics: the loss has 4 values, not 1");
    nb_tensor *all4[] = {p, y, loss, p2, y2, loss2, bad};
    for (int i = 0; i < 7; i++)
        nb_tensor_free(all4[i]);
    nb_model_free(m);
}

Test(compile, categorical_accuracies_and_logits_threshold)
{
    nb_model *m = compiled((nb_compile_opts){
        .loss = NB_LOSS_SPARSE_CATEGORICAL_CE,
        .metrics = {NB_METRIC_ACCURACY, NB_METRIC_CATEGORICAL_ACCURACY}});
    nb_tensor *p = nb_tensor_from(NB_SHAPE(3, 3), (float[]){0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f,
                                                            0.2f, 0.3f, 0.5f});
    nb_tensor *labels = nb_tensor_from(NB_SHAPE(3), (float[]){1, 1, 2});
    nb_tensor *onehot = one_hot(labels, 3);
    nb_tensor *loss = nb_tensor_scalar(1);
    nb_logs logs;
    nb_model_metrics_reset(m, &logs);
    /* "accuracy" is sparse here (from the loss); categorical needs one-hot targets. */
    assert_status(nb_model_metrics_update(m, &logs, p, labels, loss), NB_ERR_SHAPE,
                  "categorical_accuracy does not fit predictions [3,3] and targets [3]");
    nb_model_free(m);
    m = compiled((nb_compile_opts){.loss = NB_LOSS_SPARSE_CATEGORICAL_CE,
                                   .metrics = {NB_METRIC_ACCURACY}});
    nb_model_metrics_reset(m, &logs);
    cr_assert_eq(nb_model_metrics_update(m, &logs, p, labels, loss), NB_OK, "%s", nb_error());
    cr_assert_float_eq(logs.values[1], 2.0 / 3, 1e-12);
    nb_model_free(m);
    m = compiled((nb_compile_opts){.loss = NB_LOSS_CATEGORICAL_CE,
                                   .metrics = {NB_METRIC_CATEGORICAL_ACCURACY, NB_METRIC_ACCURACY}});
    nb_model_metrics_reset(m, &logs);
    cr_assert_eq(nb_model_metrics_update(m, &logs, p, onehot, loss), NB_OK, "%s", nb_error());
    cr_assert_float_eq(logs.values[1], 2.0 / 3, 1e-12);
    cr_assert_float_eq(logs.values[2], 2.0 / 3, 1e-12);
    nb_model_free(m);
    /* BCE from logits: the 0.5 threshold of sigmoid(z) is z > 0. */
    m = compiled((nb_compile_opts){.loss = NB_LOSS_BCE, .from_logits = true,
                                   .metrics = {NB_METRIC_ACCURACY}});
    nb_tensor *z = nb_tensor_from(NB_SHAPE(3), (float[]){-0.2f, 0.3f, 0.1f});
    nb_tensor *t = nb_tensor_from(NB_SHAPE(3), (float[]){0, 1, 0});
    nb_model_metrics_reset(m, &logs);
    cr_assert_eq(nb_model_metrics_update(m, &logs, z, t, loss), NB_OK);
    cr_assert_float_eq(logs.values[1], 2.0 / 3, 1e-12);
    nb_tensor *all[] = {p, labels, onehot, loss, z, t};
    for (int i = 0; i < 6; i++)
        nb_tensor_free(all[i]);
    nb_model_free(m);
    cr_assert_str_eq(nb_metric_name(NB_METRIC_SPARSE_CATEGORICAL_ACCURACY),
                     "sparse_categorical_accuracy");
    cr_assert_null(nb_metric_name(NB_METRIC_NONE));
}
