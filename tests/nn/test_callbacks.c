/* Built-in callbacks: early stopping (stops after `patience` epochs without improvement
 * and restores the best weights), the learning-rate scheduler (optim.h schedules per
 * epoch or step, a user function, plateau on a monitored value), the checkpoint. */
#include "fit_common.h"

NB_TEST_SUITE(callbacks);

/* Records the validation loss and the weights after every epoch. */
typedef struct snap {
    nb_callback cb;
    float *weights[32];
    double val[32];
    float lr[32];
    int64_t n_weights;
} snap;

static nb_status snap_epoch_end(nb_callback *cb, nb_model *m, int64_t epoch, const nb_logs *logs)
{
    snap *s = (snap *)cb;
    s->weights[epoch] = weights_of(m, &s->n_weights);
    nb_logs_get(logs, "val_loss", &s->val[epoch]);
    s->lr[epoch] = nb_optim_lr(nb_model_optimizer(m));
    return NB_OK;
}

static void snap_free(snap *s)
{
    for (int i = 0; i < 32; i++)
        free(s->weights[i]);
}

Test(callbacks, early_stopping_stops_and_restores_the_best_weights)
{
    /* A large learning rate on a small validation set: the validation loss goes up and
     * down, and early stopping catches the best epoch. */
    nb_tensor *x, *y, *xv, *yv;
    circle_data(64, 1, &x, &y);
    circle_data(32, 2, &xv, &yv);
    nb_model *m = circle_model(7, NB_SGD(.lr = 2.0f, .momentum = 0.9f));
    nb_callback *es = nb_early_stopping(.monitor = "val_loss", .patience = 2,
                                        .restore_best_weights = true);
    snap s = {.cb = {.on_epoch_end = snap_epoch_end}};
    nb_history *h = nb_fit(m, x, y, .epochs = 30, .batch_size = 8, .validation_x = xv,
                           .validation_y = yv, .callbacks = {es, &s.cb});
    cr_assert_not_null(h, "%s", nb_error());
    int64_t ran = nb_history_epochs(h), stopped = nb_early_stopping_stopped_epoch(es);
    int64_t best = nb_early_stopping_best_epoch(es);
    cr_assert_lt(ran, 30, "it stopped early");
    cr_assert_eq(stopped, ran - 1);
    /* Keras's rule: the best epoch, then `patience` epochs that are not better. */
    const double *val = nb_history_values(h, "val_loss");
    for (int64_t e = 0; e < ran; e++)
        cr_assert_geq(val[e], val[best], "epoch %lld beats the best", (long long)e);
    cr_assert_eq(stopped - best, 2, "stopped %lld, best %lld", (long long)stopped, (long long)best);
    /* The weights now are those at the end of the best epoch. */
    int64_t n;
    float *now = weights_of(m, &n);
    cr_assert_eq(memcmp(now, s.weights[best], sizeof(float) * (size_t)n), 0);
    cr_assert_neq(memcmp(now, s.weights[ran - 1], sizeof(float) * (size_t)n), 0);
    free(now);
    snap_free(&s);
    nb_history_free(h);
    nb_callback_free(es);
    nb_tensor *all[] = {x, y, xv, yv};
    for (int i = 0; i < 4; i++)
        nb_tensor_free(all[i]);
    nb_model_free(m);
}

Test(callbacks, early_stopping_modes_min_delta_and_errors)
{
    nb_tensor *x, *y;
    circle_data(32, 3, &x, &y);
    nb_model *m = circle_model(8, NB_SGD(.lr = 0.1f));
    /* A min_delta no epoch can beat: stops after patience + 1 epochs. */
    nb_callback *es = nb_early_stopping(.monitor = "loss", .min_delta = 10, .patience = 3);
    nb_history *h = nb_fit(m, x, y, .epochs = 20, .batch_size = 8, .callbacks = {es});
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_eq(nb_history_epochs(h), 4);
    cr_assert_eq(nb_early_stopping_stopped_epoch(es), 3);
    nb_history_free(h);
    nb_callback_free(es);
    /* max mode is picked for accuracy; accuracy that must improve by 2 never does. */
    es = nb_early_stopping(.monitor = "accuracy", .min_delta = 2, .patience = 1);
    h = nb_fit(m, x, y, .epochs = 20, .batch_size = 8, .callbacks = {es});
    cr_assert_eq(nb_history_epochs(h), 2);
    nb_history_free(h);
    nb_callback_free(es);
    /* A monitor that is not in the logs. */
    es = nb_early_stopping(.monitor = "val_loss");
    assert_error(nb_fit(m, x, y, .epochs = 2, .callbacks = {es}), NB_ERR_ARG,
                 "early_stopping: monitor 'val_loss' is not in the logs (they hold: loss, "
                 "accuracy)");
    nb_callback_free(es);
    assert_error(nb_early_stopping(.patience = -1), NB_ERR_ARG, "early_stopping: need patience >= 0");
    assert_error(nb_early_stopping(.mode = (nb_monitor_mode)5), NB_ERR_ARG,
                 "a known mode (got 5)");
    cr_assert_eq(nb_early_stopping_stopped_epoch(NULL), -1);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

Test(callbacks, early_stopping_prints_when_verbose)
{
    nb_tensor *x, *y;
    circle_data(16, 3, &x, &y);
    nb_model *m = circle_model(8, NB_SGD(.lr = 0.1f));
    nb_callback *es = nb_early_stopping(.monitor = "loss", .min_delta = 10, .patience = 1,
                                        .restore_best_weights = true, .verbose = true);
    FILE *out = tmpfile();
    nb_history *h = nb_fit(m, x, y, .epochs = 5, .out = out, .callbacks = {es});
    cr_assert_not_null(h);
    rewind(out);
    char text[512] = {0};
    cr_assert_gt(fread(text, 1, sizeof text - 1, out), 0);
    cr_assert(strstr(text, "Epoch 2: early stopping\n"), "%s", text);
    cr_assert(strstr(text, "Restoring model weights from the end of the best epoch: 1.\n"), "%s",
              text);
    fclose(out);
    nb_history_free(h);
    nb_callback_free(es);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

static float halve(int64_t epoch, float lr, void *ud)
{
    (void)ud;
    return epoch == 0 ? lr : lr / 2;
}

Test(callbacks, learning_rate_schedules)
{
    nb_tensor *x, *y;
    circle_data(32, 4, &x, &y);
    nb_model *m = circle_model(9, NB_SGD(.lr = 0.8f));
    /* Step decay: 0.8 gamma^floor(e / 2). */
    nb_callback *lr = nb_lr_scheduler(.schedule = {.kind = NB_LR_STEP, .step_size = 2, .gamma = 0.5f});
    snap s = {.cb = {.on_epoch_end = snap_epoch_end}};
    nb_history *h = nb_fit(m, x, y, .epochs = 5, .batch_size = 16, .callbacks = {lr, &s.cb});
    cr_assert_not_null(h, "%s", nb_error());
    const float want[] = {0.8f, 0.8f, 0.4f, 0.4f, 0.2f};
    for (int e = 0; e < 5; e++)
        cr_assert_float_eq(s.lr[e], want[e], 1e-7, "epoch %d: %g", e, s.lr[e]);
    snap_free(&s);
    nb_history_free(h);
    nb_callback_free(lr);

    /* A user function, Keras's schedule(epoch, lr). */
    nb_optim_set_lr(nb_model_optimizer(m), 1.0f);
    lr = nb_lr_scheduler(.fn = halve);
    s = (snap){.cb = {.on_epoch_end = snap_epoch_end}};
    h = nb_fit(m, x, y, .epochs = 3, .batch_size = 16, .callbacks = {lr, &s.cb});
    cr_assert_float_eq(s.lr[0], 1.0f, 0);
    cr_assert_float_eq(s.lr[2], 0.25f, 0);
    snap_free(&s);
    nb_history_free(h);
    nb_callback_free(lr);

    /* Per step: exponential decay by batch, 2 batches an epoch. */
    nb_optim_set_lr(nb_model_optimizer(m), 1.0f);
    lr = nb_lr_scheduler(.schedule = {.kind = NB_LR_EXPONENTIAL, .gamma = 0.5f, .per_step = true});
    s = (snap){.cb = {.on_epoch_end = snap_epoch_end}};
    h = nb_fit(m, x, y, .epochs = 2, .batch_size = 16, .callbacks = {lr, &s.cb});
    cr_assert_float_eq(s.lr[0], 0.5f, 0, "steps 0 and 1: 1, then 0.5");
    cr_assert_float_eq(s.lr[1], 0.125f, 0);
    snap_free(&s);
    nb_history_free(h);
    nb_callback_free(lr);

    /* Plateau on a monitored loss that never improves by the threshold. */
    nb_optim_set_lr(nb_model_optimizer(m), 1.0f);
    lr = nb_lr_scheduler(.schedule = {.kind = NB_LR_PLATEAU, .factor = 0.5f, .patience = 1,
                                      .threshold = 100},
                         .monitor = "loss");
    s = (snap){.cb = {.on_epoch_end = snap_epoch_end}};
    h = nb_fit(m, x, y, .epochs = 4, .batch_size = 16, .callbacks = {lr, &s.cb});
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_lt(s.lr[3], 1.0f, "the rate was cut: %g", s.lr[3]);
    snap_free(&s);
    nb_history_free(h);
    nb_callback_free(lr);
    lr = nb_lr_scheduler(.schedule = {.kind = NB_LR_PLATEAU});
    assert_error(nb_fit(m, x, y, .epochs = 2, .callbacks = {lr}), NB_ERR_ARG,
                 "lr_scheduler: monitor 'val_loss' is not in the logs");
    nb_callback_free(lr);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

typedef struct saves {
    char paths[8][64];
    int n;
    int fail_at;
} saves;

static nb_status save_fn(nb_model *m, const char *path, void *ud)
{
    saves *s = ud;
    cr_assert_not_null(nb_model_params(m));
    snprintf(s->paths[s->n++], 64, "%s", path);
    if (s->n == s->fail_at)
        return nb_set_error(NB_ERR_IO, "save: cannot write '%s'", path);
    return NB_OK;
}

Test(callbacks, checkpoint_calls_the_save_function)
{
    nb_tensor *x, *y;
    circle_data(32, 5, &x, &y);
    nb_model *m = circle_model(10, NB_SGD(.lr = 0.5f));
    saves sv = {0};
    nb_callback *ck = nb_checkpoint(.filepath = "ckpt-{epoch}.bin", .save = save_fn, .ud = &sv);
    nb_history *h = nb_fit(m, x, y, .epochs = 3, .batch_size = 8, .callbacks = {ck});
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_eq(sv.n, 3);
    cr_assert_str_eq(sv.paths[0], "ckpt-1.bin");
    cr_assert_str_eq(sv.paths[2], "ckpt-3.bin");
    nb_history_free(h);
    nb_callback_free(ck);

    /* save_best_only on a loss that falls every epoch (SGD on a fixed batch) saves each. */
    sv = (saves){0};
    ck = nb_checkpoint(.filepath = "best.bin", .save = save_fn, .ud = &sv, .monitor = "loss",
                       .save_best_only = true);
    h = nb_fit(m, x, y, .epochs = 3, .batch_size = 32, .no_shuffle = true, .callbacks = {ck});
    const double *loss = nb_history_values(h, "loss");
    int improved = 1 + (loss[1] < loss[0]) + (loss[2] < fmin(loss[0], loss[1]));
    cr_assert_eq(sv.n, improved);
    nb_history_free(h);
    nb_callback_free(ck);

    sv = (saves){.fail_at = 2};
    ck = nb_checkpoint(.filepath = "c{epoch}", .save = save_fn, .ud = &sv);
    assert_error(nb_fit(m, x, y, .epochs = 3, .callbacks = {ck}), NB_ERR_IO,
                 "save: cannot write 'c2'");
    nb_callback_free(ck);
    assert_error(nb_checkpoint(.filepath = "x"), NB_ERR_ARG,
                 "checkpoint: needs a filepath and a save function");
    char longpath[600];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[599] = '\0';
    ck = nb_checkpoint(.filepath = longpath, .save = save_fn, .ud = &sv);
    assert_error(nb_fit(m, x, y, .epochs = 1, .callbacks = {ck}), NB_ERR_ARG,
                 "is longer than 511 bytes");
    nb_callback_free(ck);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}
