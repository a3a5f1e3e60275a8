/* fit / evaluate / predict: end-to-end training that reaches a stated loss, the history,
 * validation data and Keras's validation_split, seeded shuffling, user callbacks that
 * see every batch and can stop, several inputs, gradient clipping, and errors. */
#include "fit_common.h"

NB_TEST_SUITE(fit);

Test(fit, learns_a_circle_to_a_stated_loss)
{
    nb_tensor *x, *y;
    circle_data(512, 1, &x, &y);
    nb_model *m = circle_model(3, NB_ADAM(.lr = 0.03f));
    nb_history *h = nb_fit(m, x, y, .epochs = 60, .batch_size = 32, .seed = 5);
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_eq(nb_history_epochs(h), 60);
    const double *loss = nb_history_values(h, "loss"), *acc = nb_history_values(h, "accuracy");
    cr_assert(loss && acc);
    /* Stated target: from about 0.69 to below 0.15 and 95% accuracy. */
    cr_assert_gt(loss[0], 0.4);
    cr_assert_lt(loss[59], 0.15, "final loss %g", loss[59]);
    cr_assert_gt(acc[59], 0.95, "final accuracy %g", acc[59]);
    /* evaluate agrees on the training data (after training, in inference mode). */
    nb_logs logs;
    cr_assert_eq(nb_model_evaluate(m, x, y, NULL, &logs), NB_OK, "%s", nb_error());
    double eval_loss, eval_acc;
    cr_assert(nb_logs_get(&logs, "loss", &eval_loss) && nb_logs_get(&logs, "accuracy", &eval_acc));
    cr_assert_lt(eval_loss, 0.2);
    cr_assert_gt(eval_acc, 0.93);
    nb_history_free(h);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

Test(fit, linear_regression_with_sgd)
{
    /* y = 3 a - 2 b + 1: one Dense unit with SGD finds it. */
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(200, 2), -1, 1, 2);
    nb_tensor *y = nb_tensor_zeros(NB_SHAPE(200));
    for (int i = 0; i < 200; i++)
        y->data[i] = 3 * x->data[2 * i] - 2 * x->data[2 * i + 1] + 1;
    nb_model *m = nb_sequential(nb_dense(1));
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_MSE, .optimizer = NB_SGD(.lr = 0.1f),
                            .metrics = {NB_METRIC_MAE}), NB_OK);
    nb_history *h = nb_fit(m, x, y, .epochs = 100, .batch_size = 16);
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_lt(nb_history_values(h, "loss")[99], 1e-6);
    const nb_tensor *W = nb_layer_weight(nb_model_layer_at(m, 0), "kernel");
    const nb_tensor *b = nb_layer_weight(nb_model_layer_at(m, 0), "bias");
    cr_assert_float_eq(W->data[0], 3.0f, 1e-3);
    cr_assert_float_eq(W->data[1], -2.0f, 1e-3);
    cr_assert_float_eq(b->data[0], 1.0f, 1e-3);
    nb_history_free(h);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

/* ---- a recording callback ---- */

typedef struct recorder {
    nb_callback cb;
    nb_fit_info info;
    int64_t begins, ends, batches, epoch_begins, epoch_ends, train_ends;
    int64_t last_batch, stop_at_batch, stop_at_epoch, fail_at_epoch;
    double epoch_loss[64], val_loss[64];
    bool grad_seen_on, training_seen;
} recorder;

static nb_status rec_train_begin(nb_callback *cb, nb_model *m, const nb_fit_info *info)
{
    (void)m;
    recorder *r = (recorder *)cb;
    r->info = *info;
    r->begins++;
    return NB_OK;
}

static nb_status rec_epoch_begin(nb_callback *cb, nb_model *m, int64_t epoch)
{
    (void)m;
    recorder *r = (recorder *)cb;
    cr_assert_eq(epoch, r->epoch_begins);
    r->epoch_begins++;
    return NB_OK;
}

static nb_status rec_batch_end(nb_callback *cb, nb_model *m, int64_t batch, const nb_logs *logs)
{
    recorder *r = (recorder *)cb;
    cr_assert_eq(logs->names[0][0], 'l');
    r->last_batch = batch;
    r->batches++;
    r->training_seen = nb_model_training(m);
    r->grad_seen_on = nb_grad_enabled();
    if (r->batches == r->stop_at_batch)
        nb_model_set_stop_training(m, true);
    return NB_OK;
}

static nb_status rec_epoch_end(nb_callback *cb, nb_model *m, int64_t epoch, const nb_logs *logs)
{
    recorder *r = (recorder *)cb;
    cr_assert(nb_logs_get(logs, "loss", &r->epoch_loss[epoch]));
    if (!nb_logs_get(logs, "val_loss", &r->val_loss[epoch]))
        r->val_loss[epoch] = NAN;
    r->epoch_ends++;
    if (epoch + 1 == r->stop_at_epoch)
        nb_model_set_stop_training(m, true);
    if (epoch + 1 == r->fail_at_epoch)
        return nb_set_error(NB_ERR_IO, "recorder: the disk is full");
    return NB_OK;
}

static nb_status rec_train_end(nb_callback *cb, nb_model *m, const nb_logs *logs)
{
    (void)m;
    (void)logs;
    ((recorder *)cb)->train_ends++;
    return NB_OK;
}

static recorder make_recorder(void)
{
    return (recorder){.cb = {.on_train_begin = rec_train_begin,
                             .on_epoch_begin = rec_epoch_begin,
                             .on_batch_end = rec_batch_end, .on_epoch_end = rec_epoch_end,
                             .on_train_end = rec_train_end}};
}

Test(fit, callbacks_see_every_batch_and_epoch_and_the_history_matches)
{
    nb_tensor *x, *y;
    circle_data(100, 2, &x, &y);
    nb_model *m = circle_model(1, NB_SGD(.lr = 0.5f));
    recorder r = make_recorder();
    nb_history *h = nb_fit(m, x, y, .epochs = 4, .batch_size = 16, .callbacks = {&r.cb});
    cr_assert_not_null(h, "%s", nb_error());
    /* 100 samples in batches of 16: 7 batches, the last one of 4. */
    cr_assert_eq(r.info.steps, 7);
    cr_assert_eq(r.info.samples, 100);
    cr_assert_eq(r.info.val_samples, 0);
    cr_assert_eq(r.info.epochs, 4);
    cr_assert_eq(r.begins, 1);
    cr_assert_eq(r.batches, 28);
    cr_assert_eq(r.last_batch, 6);
    cr_assert_eq(r.epoch_begins, 4);
    cr_assert_eq(r.epoch_ends, 4);
    cr_assert_eq(r.train_ends, 1);
    cr_assert(r.training_seen && r.grad_seen_on, "batches train with grad mode on");
    cr_assert(!nb_model_training(m), "fit restores the mode");
    cr_assert_eq(nb_model_steps(m), 28);
    cr_assert_eq(nb_history_columns(h), 2);
    cr_assert_str_eq(nb_history_name(h, 0), "loss");
    cr_assert_str_eq(nb_history_name(h, 1), "accuracy");
    cr_assert_null(nb_history_values(h, "val_loss"));
    for (int e = 0; e < 4; e++)
        cr_assert_eq(nb_history_values(h, "loss")[e], r.epoch_loss[e]);
    nb_history_free(h);

    /* Fitting again goes on from the trained weights. */
    h = nb_fit(m, x, y, .epochs = 1, .batch_size = 100);
    cr_assert_not_null(h);
    cr_assert_lt(nb_history_values(h, "loss")[0], r.epoch_loss[0]);
    nb_history_free(h);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

Test(fit, callbacks_can_stop_or_fail)
{
    nb_tensor *x, *y;
    circle_data(64, 3, &x, &y);
    nb_model *m = circle_model(1, NB_SGD(.lr = 0.1f));
    recorder r = make_recorder();
    r.stop_at_batch = 3;  /* stops after the third batch of the first epoch */
    nb_history *h = nb_fit(m, x, y, .epochs = 5, .batch_size = 8, .callbacks = {&r.cb});
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_eq(r.batches, 3);
    cr_assert_eq(nb_history_epochs(h), 1, "the stopped epoch still ends");
    cr_assert_eq(r.train_ends, 1);
    nb_history_free(h);

    r = make_recorder();
    r.stop_at_epoch = 2;
    h = nb_fit(m, x, y, .epochs = 5, .batch_size = 8, .callbacks = {&r.cb});
    cr_assert_not_null(h);
    cr_assert_eq(nb_history_epochs(h), 2);
    cr_assert(!nb_model_stopping(m) || true);
    nb_history_free(h);

    r = make_recorder();
    r.fail_at_epoch = 2;
    assert_error(nb_fit(m, x, y, .epochs = 5, .batch_size = 8, .callbacks = {&r.cb}), NB_ERR_IO,
                 "recorder: the disk is full");
    cr_assert_eq(r.epoch_ends, 2);
    cr_assert_eq(r.train_ends, 0, "a failed fit does not end training normally");
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

Test(fit, validation_split_takes_the_last_rows_before_shuffling)
{
    nb_tensor *x, *y;
    circle_data(100, 4, &x, &y);
    nb_model *m = circle_model(2, NB_ADAM(.lr = 0.01f));
    recorder r = make_recorder();
    nb_history *h = nb_fit(m, x, y, .epochs = 3, .batch_size = 10, .validation_split = 0.2,
                           .callbacks = {&r.cb});
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_eq(r.info.samples, 80);
    cr_assert_eq(r.info.val_samples, 20);
    cr_assert_eq(r.info.steps, 8);
    cr_assert_eq(nb_history_columns(h), 4);
    cr_assert_str_eq(nb_history_name(h, 2), "val_loss");
    cr_assert_str_eq(nb_history_name(h, 3), "val_accuracy");
    /* The last epoch's val_loss is evaluate() of the last 20 rows with the final weights. */
    nb_tensor *xv = nb_tensor_from(NB_SHAPE(20, 2), x->data + 160);
    nb_tensor *yv = nb_tensor_from(NB_SHAPE(20, 1), y->data + 80);
    nb_logs logs;
    cr_assert_eq(nb_model_evaluate(m, xv, yv, &(nb_eval_opts){.batch_size = 10}, &logs), NB_OK);
    cr_assert_eq(nb_history_values(h, "val_loss")[2], logs.values[0]);
    cr_assert_eq(nb_history_values(h, "val_accuracy")[2], logs.values[1]);
    cr_assert_eq(r.val_loss[2], logs.values[0]);
    nb_history_free(h);

    /* Explicit validation data gives the same. */
    h = nb_fit(m, x, y, .epochs = 1, .batch_size = 10, .validation_x = xv, .validation_y = yv);
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_eq(nb_model_evaluate(m, xv, yv, &(nb_eval_opts){.batch_size = 10}, &logs), NB_OK);
    cr_assert_eq(nb_history_values(h, "val_loss")[0], logs.values[0]);
    nb_history_free(h);
    nb_tensor_free(xv);
    nb_tensor_free(yv);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

static nb_history *fit_with_seed(uint64_t shuffle_seed, bool no_shuffle, float **w, int64_t *n)
{
    nb_tensor *x, *y;
    circle_data(64, 6, &x, &y);
    nb_model *m = circle_model(4, NB_SGD(.lr = 0.3f));
    nb_history *h = nb_fit(m, x, y, .epochs = 2, .batch_size = 8, .seed = shuffle_seed,
                           .no_shuffle = no_shuffle);
    cr_assert_not_null(h, "%s", nb_error());
    *w = weights_of(m, n);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
    return h;
}

Test(fit, shuffling_is_seeded)
{
    float *a, *b, *c, *d;
    int64_t n;
    nb_history_free(fit_with_seed(1, false, &a, &n));
    nb_history_free(fit_with_seed(1, false, &b, &n));
    nb_history_free(fit_with_seed(2, false, &c, &n));
    nb_history_free(fit_with_seed(1, true, &d, &n));
    cr_assert_eq(memcmp(a, b, sizeof(float) * (size_t)n), 0, "the same seed, the same weights");
    cr_assert_neq(memcmp(a, c, sizeof(float) * (size_t)n), 0, "another order, other weights");
    cr_assert_neq(memcmp(a, d, sizeof(float) * (size_t)n), 0, "no shuffle, other weights");
    free(a);
    free(b);
    free(c);
    free(d);
}

Test(fit, clipping_bounds_the_update)
{
    nb_tensor *x, *y;
    circle_data(32, 7, &x, &y);
    nb_model *m = circle_model(5, NB_SGD(.lr = 1.0f));
    cr_assert_eq(nb_model_build(m, NB_SHAPE(2)), NB_OK);
    int64_t n;
    float *before = weights_of(m, &n);
    nb_history *h = nb_fit(m, x, y, .epochs = 1, .batch_size = 32, .clip_norm = 1e-3);
    cr_assert_not_null(h, "%s", nb_error());
    float *after = weights_of(m, &n);
    double d2 = 0;
    for (int64_t i = 0; i < n; i++)
        d2 += ((double)after[i] - before[i]) * ((double)after[i] - before[i]);
    cr_assert_gt(sqrt(d2), 0.5e-3, "it moved");
    cr_assert_leq(sqrt(d2), 1.0001e-3, "one SGD step of a gradient clipped to norm 1e-3");
    free(before);
    free(after);
    nb_history_free(h);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

/* ---- several inputs ---- */

static nb_tensor *two_inputs(nb_model *m, nb_tensor *const *x, int n, void *ud)
{
    (void)n, (void)ud;
    nb_layer *shared = nb_model_layer_at(m, 0), *head = nb_model_layer_at(m, 1);
    return nb_layer_call(head, nb_sub(nb_layer_call(shared, x[0]), nb_layer_call(shared, x[1])));
}

Test(fit, a_model_of_two_inputs)
{
    /* Learns whether the first point is farther from the origin than the second. */
    nb_tensor *a = nb_tensor_rand(NB_SHAPE(256, 2), -1, 1, 8);
    nb_tensor *b = nb_tensor_rand(NB_SHAPE(256, 2), -1, 1, 9);
    nb_tensor *y = nb_tensor_zeros(NB_SHAPE(256, 1));
    for (int i = 0; i < 256; i++) {
        float ra = a->data[2 * i] * a->data[2 * i] + a->data[2 * i + 1] * a->data[2 * i + 1];
        float rb = b->data[2 * i] * b->data[2 * i] + b->data[2 * i + 1] * b->data[2 * i + 1];
        y->data[i] = ra > rb;
    }
    nb_model *m = nb_model_new(two_inputs, &(nb_model_opts){.n_inputs = 2, .seed = 1});
    nb_model_add(m, nb_dense(8, .activation = NB_TANH));
    nb_model_add(m, nb_dense(1));
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_BCE, .from_logits = true,
                            .optimizer = NB_ADAM(.lr = 0.03f), .metrics = {NB_METRIC_ACCURACY}),
                 NB_OK);
    nb_tensor *xs[2] = {a, b};
    nb_history *h = nb_model_fit_n(m, xs, 2, y, &(nb_fit_opts){.epochs = 40, .batch_size = 32,
                                                               .validation_split = 0.25});
    cr_assert_not_null(h, "%s", nb_error());
    const double *acc = nb_history_values(h, "val_accuracy");
    cr_assert_gt(acc[39], 0.9, "validation accuracy %g", acc[39]);
    nb_tensor *p = nb_model_predict_n(m, xs, 2, &(nb_eval_opts){.batch_size = 50});
    assert_shape(p, NB_SHAPE(256, 1));
    nb_tensor_free(p);
    nb_history_free(h);
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(y);
    nb_model_free(m);
}

Test(fit, predict_and_evaluate)
{
    nb_tensor *x, *y;
    circle_data(37, 10, &x, &y);
    nb_model *m = nb_sequential(nb_dense(5, .activation = NB_RELU), nb_batch_normalization(),
                                nb_dropout_layer(0.5f), nb_dense(2, .activation = NB_SOFTMAX));
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_SPARSE_CATEGORICAL_CE,
                            .metrics = {NB_METRIC_ACCURACY}), NB_OK);
    /* predict: batches of 10 over 37 rows, the same as one inference forward. */
    nb_tensor *p = nb_model_predict(m, x, &(nb_eval_opts){.batch_size = 10});
    assert_shape(p, NB_SHAPE(37, 2));
    cr_assert(p->persistent);
    int64_t n;
    float *w = weights_of(m, &n);
    nb_tensor *all = nb_model_forward(m, x);
    for (int i = 0; i < 74; i++)
        cr_assert_float_eq(p->data[i], all->data[i], 1e-6, "[%d]", i);
    /* evaluate: the loss over all rows, grad mode and the model's mode left as they were. */
    nb_logs logs;
    nb_model_set_training(m, true);
    cr_assert_eq(nb_model_evaluate(m, x, y, &(nb_eval_opts){.batch_size = 8}, &logs), NB_OK);
    cr_assert(nb_model_training(m) && nb_grad_enabled());
    double want = 0;
    for (int i = 0; i < 37; i++)
        want -= log(p->data[2 * i + (int)y->data[i]] + 1e-7) / 37;
    cr_assert_float_eq(logs.values[0], want, 1e-5);
    float *w2 = weights_of(m, &n);
    cr_assert_eq(memcmp(w, w2, sizeof(float) * (size_t)n), 0,
                 "inference changes no weight or moving statistic");
    /* Training does move the moving statistics. */
    nb_history *h = nb_fit(m, x, y, .epochs = 1, .batch_size = 37);
    cr_assert_not_null(h, "%s", nb_error());
    float *w3 = weights_of(m, &n);
    nb_tensor *mm = nb_layer_weight(nb_model_layer_at(m, 1), "moving_mean");
    int64_t off = mm->data - nb_params_values(nb_model_params(m));
    cr_assert_neq(memcmp(w2 + off, w3 + off, sizeof(float) * 5), 0);
    free(w);
    free(w2);
    free(w3);
    nb_history_free(h);
    nb_tensor_free(p);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

static nb_tensor *pooled(nb_model *m, nb_tensor *const *x, int n, void *ud)
{
    (void)n, (void)ud;
    return nb_mean(nb_layer_call(nb_model_layer_at(m, 0), x[0]));
}

Test(fit, a_model_without_a_row_per_sample)
{
    nb_model *m = nb_model_new(pooled, NULL);
    nb_model_add(m, nb_dense(2));
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(6, 3));
    assert_error(nb_model_predict(m, x, NULL), NB_ERR_SHAPE,
                 "model: predict: the output [] has no row per sample");
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(fit, evaluate_prints_when_verbose)
{
    nb_tensor *x, *y;
    circle_data(20, 3, &x, &y);
    nb_model *m = circle_model(1, NB_SGD(.lr = 0.1f));
    FILE *out = tmpfile();
    nb_logs logs;
    cr_assert_eq(nb_model_evaluate(m, x, y, &(nb_eval_opts){.verbose = 1, .out = out}, &logs),
                 NB_OK, "%s", nb_error());
    char text[256] = {0};
    rewind(out);
    cr_assert_gt(fread(text, 1, sizeof text - 1, out), 0);
    char want[128];
    snprintf(want, sizeof want, "loss: %.4f - accuracy: %.4f\n", logs.values[0], logs.values[1]);
    cr_assert_str_eq(text, want);
    fclose(out);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

Test(fit, errors)
{
    nb_tensor *x, *y;
    circle_data(10, 11, &x, &y);
    nb_model *m = nb_sequential(nb_dense(1));
    assert_error(nb_fit(m, x, y, .epochs = 1), NB_ERR_STATE,
                 "sequential: fit: the model is not compiled (nb_compile)");
    nb_logs logs;
    assert_status(nb_model_evaluate(m, x, y, NULL, &logs), NB_ERR_STATE,
                  "sequential: evaluate: the model is not compiled");
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_MSE), NB_OK);
    nb_tensor *y9 = nb_tensor_zeros(NB_SHAPE(9, 1));
    assert_error(nb_fit(m, x, y9, .epochs = 1), NB_ERR_SHAPE,
                 "sequential: fit: dataset_new: ");
    assert_error(nb_fit(m, x, NULL, .epochs = 1), NB_ERR_NULL, "sequential: fit: the targets are NULL");
    assert_error(nb_fit(m, x, y, .epochs = -1), NB_ERR_ARG, "sequential: fit: bad options: epochs -1");
    assert_error(nb_fit(m, x, y, .validation_split = 1.0), NB_ERR_ARG,
                 "sequential: fit: bad options");
    assert_error(nb_fit(m, x, y, .verbose = 3), NB_ERR_ARG, "verbose 3");
    assert_error(nb_fit(m, x, y, .validation_x = x), NB_ERR_NULL,
                 "sequential: fit: validation data without validation_y");
    assert_error(nb_model_fit_n(m, (nb_tensor *[]){x, x}, 2, y, NULL), NB_ERR_ARG,
                 "sequential: fit: the model takes 1 inputs, got 2");
    nb_tensor *empty = nb_tensor_zeros(NB_SHAPE(0, 2)), *empty_y = nb_tensor_zeros(NB_SHAPE(0, 1));
    assert_error(nb_fit(m, empty, empty_y, .epochs = 1), NB_ERR_SHAPE,
                 "sequential: fit: there are no training samples");
    assert_error(nb_model_predict(m, empty, NULL), NB_ERR_SHAPE,
                 "sequential: predict: there are no samples");
    /* A step that fails (features the model was not built for) stops fit with its error. */
    cr_assert_eq(nb_model_build(m, NB_SHAPE(3)), NB_OK);
    assert_error(nb_fit(m, x, y, .epochs = 1), NB_ERR_SHAPE,
                 "dense: expected an input [..., 3] (the features it was built for), got [10,2]");
    assert_error(nb_model_fit(NULL, x, y, NULL), NB_ERR_NULL, "fit: model is NULL");
    assert_status(nb_model_evaluate(m, x, y, &(nb_eval_opts){.batch_size = -2}, &logs),
                  NB_ERR_ARG, "sequential: evaluate: batch_size -2 is negative");
    assert_status(nb_model_evaluate(m, x, NULL, NULL, &logs), NB_ERR_NULL,
                  "sequential: evaluate: the targets are NULL");
    assert_status(nb_model_evaluate(m, x, y, NULL, NULL), NB_ERR_NULL, "evaluate: logs is NULL");
    assert_status(nb_model_evaluate_n(m, (nb_tensor *[]){x, x}, 2, y, NULL, &logs), NB_ERR_ARG,
                  "sequential: evaluate: the model takes 1 inputs, got 2");
    assert_error(nb_model_predict(m, x, &(nb_eval_opts){.batch_size = -1}), NB_ERR_ARG,
                 "sequential: predict: batch_size -1, 1 inputs (the model takes 1)");
    assert_error(nb_model_predict(NULL, x, NULL), NB_ERR_NULL, "predict: model is NULL");
    nb_tensor *x3 = nb_tensor_zeros(NB_SHAPE(4, 3)), *x2 = nb_tensor_zeros(NB_SHAPE(5, 3));
    assert_error(nb_model_fit_n(m, (nb_tensor *[]){x3}, 1, y, NULL), NB_ERR_SHAPE,
                 "sequential: fit: dataset_new: ");
    nb_tensor_free(x3);
    nb_tensor_free(x2);
    nb_tensor_free(empty);
    nb_tensor_free(empty_y);
    nb_tensor_free(y9);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}
