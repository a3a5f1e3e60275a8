/*
 * src/nn/fit.c - fit, evaluate and predict: thin loops over the public step API
 * (nabla/nn.h), data sets and batch iterators (nabla/data.h). Nothing here is private:
 * a user can copy train_step below into a loop of their own.
 *
 * fit, per epoch e:
 *     on_epoch_begin(e)
 *     for each batch of this epoch's seeded permutation (nb_batches):
 *         on_batch_begin(b); train_step; on_batch_end(b, running logs)
 *         stop if a callback asked (nb_model_set_stop_training)
 *     validation: the loss and metrics of the validation data, in inference mode
 *     append the epoch's logs to the history; on_epoch_end(e, logs)
 * then on_train_end. The progress bar is one of the callbacks.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nabla.h"
#include "nabla/data.h"
#include "nabla/nn.h"

/* ---- the inputs and targets of a model, as data sets and batch iterators ---- */

typedef struct feed {
    int n;                                     /* model inputs */
    nb_dataset *ds[NB_MODEL_MAX_INPUTS];       /* owned: targets ride with input 0 */
    nb_batches *it[NB_MODEL_MAX_INPUTS];
} feed;

static void feed_close(feed *f)
{
    for (int i = 0; i < f->n; i++) {
        nb_batches_free(f->it[i]);
        nb_dataset_free(f->ds[i]);
        f->it[i] = NULL;
        f->ds[i] = NULL;
    }
}

/* Data sets over xs[0..n) (borrowed) and y, with the same number of samples. */
static nb_status feed_open(feed *f, const char *who, nb_tensor *const *xs, int n, nb_tensor *y)
{
    memset(f, 0, sizeof *f);
    if (!xs || n < 1 || n > NB_MODEL_MAX_INPUTS)
        return nb_set_error(NB_ERR_ARG, "%s: need 1 to %d inputs, got %d", who,
                            NB_MODEL_MAX_INPUTS, xs ? n : 0);
    for (int i = 0; i < n; i++) {
        if (!xs[i])
            return nb_set_error(NB_ERR_NULL, "%s: input %d is NULL", who, i);
        if (xs[i]->ndim < 1 || xs[i]->shape[0] != xs[0]->shape[0]) {
            char s0[64], si[64];
            return nb_set_error(NB_ERR_SHAPE, "%s: inputs hold different numbers of samples: "
                                "%s and %s (input %d)", who,
                                nb_tensor_shape_str(xs[0], s0, sizeof s0),
                                nb_tensor_shape_str(xs[i], si, sizeof si), i);
        }
    }
    f->n = n;
    for (int i = 0; i < n; i++)
        if (!(f->ds[i] = nb_dataset_new(xs[i], i == 0 ? y : NULL, false))) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", nb_error());
            nb_status s = nb_set_error(nb_error_code(), "%s: %s", who, msg);
            feed_close(f);
            return s;
        }
    return NB_OK;
}

/* Keras's validation_split: the last fraction of every data set of `all` (views). */
static nb_status feed_split(feed *all, double fraction, feed *train, feed *val)
{
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    for (int i = 0; i < all->n; i++) {
        nb_status s = nb_dataset_split(all->ds[i], fraction, &train->ds[i], &val->ds[i]);
        train->n = val->n = i + 1;
        if (s != NB_OK) {
            train->n = val->n = i;
            feed_close(train);
            feed_close(val);
            return s;
        }
    }
    return NB_OK;
}

static nb_status feed_batches(feed *f, int64_t batch_size, bool shuffle, uint64_t seed)
{
    for (int i = 0; i < f->n; i++) {
        /* The same options give every input the same permutation. */
        nb_batch_opts o = {.batch_size = batch_size, .shuffle = shuffle, .seed = seed};
        if (!(f->it[i] = nb_batches_new(f->ds[i], o)))
            return nb_error_code();
    }
    return NB_OK;
}

static nb_status feed_start(feed *f, int64_t epoch)
{
    for (int i = 0; i < f->n; i++) {
        nb_status s = nb_batches_start(f->it[i], epoch);
        if (s != NB_OK)
            return s;
    }
    return NB_OK;
}

static bool feed_next(feed *f, nb_tensor **x, nb_tensor **y)
{
    bool more = nb_batches_next(f->it[0], &x[0], y);
    for (int i = 1; i < f->n && more; i++)
        more = nb_batches_next(f->it[i], &x[i], NULL);
    return more;
}

static int64_t feed_samples(const feed *f) { return f->n ? nb_dataset_size(f->ds[0]) : 0; }

/* ---- steps ---- */

/* One training step, exactly the sequence documented in nabla/nn.h. */
static nb_status train_step(nb_model *m, nb_tensor *const *x, int n, nb_tensor *y,
                            double clip_norm, nb_logs *logs)
{
    nb_tensor *pred = nb_model_forward_n(m, x, n);
    nb_tensor *loss = nb_model_loss(m, pred, y);
    nb_status s = nb_model_backward(m, loss);
    if (s == NB_OK && clip_norm > 0)
        s = nb_params_clip_grad_norm(nb_model_params(m), clip_norm, NULL);
    if (s == NB_OK)
        s = nb_model_apply_gradients(m);
    if (s == NB_OK)
        s = nb_model_metrics_update(m, logs, pred, y, loss);
    nb_model_step_reset(m);
    return s;
}

/* The loss and metrics over every batch of f, in inference mode without recording. */
static nb_status test_loop(nb_model *m, feed *f, nb_logs *logs)
{
    nb_status s = nb_model_metrics_reset(m, logs);
    if (s == NB_OK)
        s = feed_start(f, 0);
    if (s != NB_OK)
        return s;
    bool training = nb_model_set_training(m, false), grad = nb_set_grad_enabled(false);
    nb_tensor *x[NB_MODEL_MAX_INPUTS], *y;
    while (s == NB_OK && feed_next(f, x, &y)) {
        nb_tensor *pred = nb_model_forward_n(m, x, f->n);
        nb_tensor *loss = nb_model_loss(m, pred, y);
        s = loss ? nb_model_metrics_update(m, logs, pred, y, loss) : nb_error_code();
        nb_model_step_reset(m);
    }
    nb_set_grad_enabled(grad);
    nb_model_set_training(m, training);
    return s;
}

/* ---- callbacks ---- */

typedef struct callback_list {
    nb_callback *cb[NB_MAX_CALLBACKS + 1];
    int n;
} callback_list;

#define CALL(list, hook, ...)                                                          \
    do {                                                                               \
        for (int k_ = 0; k_ < (list)->n && s == NB_OK; k_++)                           \
            if ((list)->cb[k_]->hook)                                                  \
                s = (list)->cb[k_]->hook((list)->cb[k_], __VA_ARGS__);                 \
    } while (0)

/* ---- fit ---- */

static void print_logs(FILE *out, const nb_logs *logs)
{
    for (int i = 0; i < logs->n; i++)
        fprintf(out, "%s%s: %.4f", i ? " - " : "", logs->names[i], logs->values[i]);
    fputc('\n', out);
}

nb_history *nb_model_fit_n(nb_model *m, nb_tensor *const *xs, int n, nb_tensor *y,
                           const nb_fit_opts *opts)
{
    nb_fit_opts o = opts ? *opts : (nb_fit_opts){.epochs = 1};
    if (!m) {
        nb_set_error(NB_ERR_NULL, "fit: model is NULL");
        return NULL;
    }
    const char *name = nb_model_name(m);
    char who[NB_LAYER_NAME_MAX + 8];
    snprintf(who, sizeof who, "%s: fit", name);
    if (!nb_model_compiled(m)) {
        nb_set_error(NB_ERR_STATE, "%s: the model is not compiled (nb_compile)", who);
        return NULL;
    }
    if (!y) {
        nb_set_error(NB_ERR_NULL, "%s: the targets are NULL", who);
        return NULL;
    }
    if (o.epochs == 0)
        o.epochs = 1;
    if (o.batch_size == 0)
        o.batch_size = 32;
    if (!o.out)
        o.out = stdout;
    if (o.epochs < 0 || o.batch_size < 0 || !(o.validation_split >= 0 && o.validation_split < 1) ||
        o.verbose < 0 || o.verbose > 2 || !(o.clip_norm >= 0 && isfinite(o.clip_norm))) {
        nb_set_error(NB_ERR_ARG, "%s: bad options: epochs %lld, batch_size %lld, "
                     "validation_split %g, verbose %d, clip_norm %g (want epochs, batch_size "
                     ">= 0, a split in [0, 1), verbose 0 to 2, a finite clip_norm >= 0)", who,
                     (long long)o.epochs, (long long)o.batch_size, o.validation_split,
                     o.verbose, o.clip_norm);
        return NULL;
    }
    if (n != nb_model_input_count(m)) {
        nb_set_error(NB_ERR_ARG, "%s: the model takes %d inputs, got %d", who,
                     nb_model_input_count(m), n);
        return NULL;
    }

    feed all = {0}, train = {0}, val = {0};
    bool split = false, has_val = false;
    nb_history *h = NULL;
    nb_callback *progbar = NULL;
    nb_status s = feed_open(&all, who, xs, n, y);
    if (s == NB_OK && (o.validation_x || o.validation_xs)) {
        nb_tensor *const *vx = o.validation_xs ? o.validation_xs : &o.validation_x;
        if (!o.validation_y)
            s = nb_set_error(NB_ERR_NULL, "%s: validation data without validation_y", who);
        else
            s = feed_open(&val, who, vx, n, o.validation_y);
        has_val = s == NB_OK;
    } else if (s == NB_OK && o.validation_split > 0) {
        s = feed_split(&all, o.validation_split, &train, &val);
        split = has_val = s == NB_OK;
    }
    feed *tr = split ? &train : &all;
    if (s == NB_OK && feed_samples(tr) == 0)
        s = nb_set_error(NB_ERR_SHAPE, "%s: there are no training samples", who);
    if (s == NB_OK)
        s = feed_batches(tr, o.batch_size, !o.no_shuffle, o.seed);
    if (s == NB_OK && has_val)
        s = feed_batches(&val, o.batch_size, false, 0);
    if (s == NB_OK && has_val && feed_samples(&val) == 0)
        has_val = false;  /* a split that rounds to no sample: no validation */
    if (s == NB_OK && !nb_model_built(m))
        s = nb_model_build_from(m, xs, n);

    /* The history's columns: the training logs, then the validation ones. */
    nb_logs logs = {0}, val_logs = {0}, epoch_logs = {0};
    if (s == NB_OK)
        s = nb_model_metrics_reset(m, &logs);
    if (s == NB_OK) {
        epoch_logs = logs;
        if (has_val)
            nb_logs_add_validation(&epoch_logs, &logs);
        if (!(h = nb_history_new(&epoch_logs, o.epochs)))
            s = nb_error_code();
    }

    /* The progress bar first, so its epoch line comes before the callbacks' messages. */
    callback_list list = {.n = 0};
    if (s == NB_OK && o.verbose > 0) {
        if ((progbar = nb_progbar_new(o.out, o.verbose)))
            list.cb[list.n++] = progbar;
        else
            s = nb_error_code();
    }
    for (int i = 0; i < NB_MAX_CALLBACKS && o.callbacks[i]; i++)
        list.cb[list.n++] = o.callbacks[i];

    nb_fit_info info = {.epochs = o.epochs, .steps = s == NB_OK ? nb_batches_count(tr->it[0]) : 0,
                        .samples = feed_samples(tr), .val_samples = has_val ? feed_samples(&val) : 0,
                        .batch_size = o.batch_size, .verbose = o.verbose, .out = o.out};
    nb_model_set_stop_training(m, false);
    CALL(&list, on_train_begin, m, &info);
    bool training = nb_model_set_training(m, true);
    for (int64_t epoch = 0; epoch < o.epochs && s == NB_OK && !nb_model_stopping(m); epoch++) {
        s = feed_start(tr, epoch);
        if (s == NB_OK)
            s = nb_model_metrics_reset(m, &logs);
        CALL(&list, on_epoch_begin, m, epoch);
        nb_tensor *bx[NB_MODEL_MAX_INPUTS], *by;
        for (int64_t b = 0; s == NB_OK && !nb_model_stopping(m) && feed_next(tr, bx, &by); b++) {
            CALL(&list, on_batch_begin, m, b);
            if (s == NB_OK)
                s = train_step(m, bx, n, by, o.clip_norm, &logs);
            CALL(&list, on_batch_end, m, b, &logs);
        }
        if (s != NB_OK)
            break;
        epoch_logs = logs;
        if (has_val) {
            s = test_loop(m, &val, &val_logs);
            nb_model_set_training(m, true);
            if (s != NB_OK)
                break;
            nb_logs_add_validation(&epoch_logs, &val_logs);
        }
        s = nb_history_append(h, &epoch_logs);
        CALL(&list, on_epoch_end, m, epoch, &epoch_logs);
    }
    nb_model_set_training(m, training);
    if (s == NB_OK) {
        const nb_logs *last = nb_history_epochs(h) ? &epoch_logs : NULL;
        CALL(&list, on_train_end, m, last);
    }
    nb_callback_free(progbar);
    feed_close(&train);
    feed_close(&val);
    feed_close(&all);
    if (s != NB_OK) {
        nb_history_free(h);
        return NULL;
    }
    return h;
}

nb_history *nb_model_fit(nb_model *m, nb_tensor *x, nb_tensor *y, const nb_fit_opts *opts)
{
    return nb_model_fit_n(m, &x, 1, y, opts);
}

/* ---- evaluate and predict ---- */

nb_status nb_model_evaluate_n(nb_model *m, nb_tensor *const *xs, int n, nb_tensor *y,
                              const nb_eval_opts *opts, nb_logs *logs)
{
    nb_eval_opts o = opts ? *opts : (nb_eval_opts){0};
    if (!m || !logs)
        return nb_set_error(NB_ERR_NULL, "evaluate: %s is NULL", m ? "logs" : "model");
    char who[NB_LAYER_NAME_MAX + 16];
    snprintf(who, sizeof who, "%s: evaluate", nb_model_name(m));
    if (!nb_model_compiled(m))
        return nb_set_error(NB_ERR_STATE, "%s: the model is not compiled (nb_compile)", who);
    if (!y)
        return nb_set_error(NB_ERR_NULL, "%s: the targets are NULL", who);
    if (o.batch_size == 0)
        o.batch_size = 32;
    if (o.batch_size < 0)
        return nb_set_error(NB_ERR_ARG, "%s: batch_size %lld is negative", who,
                            (long long)o.batch_size);
    if (n != nb_model_input_count(m))
        return nb_set_error(NB_ERR_ARG, "%s: the model takes %d inputs, got %d", who,
                            nb_model_input_count(m), n);
    feed f;
    nb_status s = feed_open(&f, who, xs, n, y);
    if (s == NB_OK)
        s = feed_batches(&f, o.batch_size, false, 0);
    if (s == NB_OK)
        s = test_loop(m, &f, logs);
    feed_close(&f);
    if (s == NB_OK && o.verbose > 0)
        print_logs(o.out ? o.out : stdout, logs);
    return s;
}

nb_status nb_model_evaluate(nb_model *m, nb_tensor *x, nb_tensor *y, const nb_eval_opts *opts,
                            nb_logs *logs)
{
    return nb_model_evaluate_n(m, &x, 1, y, opts, logs);
}

nb_tensor *nb_model_predict_n(nb_model *m, nb_tensor *const *xs, int n, const nb_eval_opts *opts)
{
    nb_eval_opts o = opts ? *opts : (nb_eval_opts){0};
    if (!m) {
        nb_set_error(NB_ERR_NULL, "predict: model is NULL");
        return NULL;
    }
    char who[NB_LAYER_NAME_MAX + 16];
    snprintf(who, sizeof who, "%s: predict", nb_model_name(m));
    if (o.batch_size == 0)
        o.batch_size = 32;
    if (o.batch_size < 0 || n != nb_model_input_count(m)) {
        nb_set_error(NB_ERR_ARG, "%s: batch_size %lld, %d inputs (the model takes %d)", who,
                     (long long)o.batch_size, n, nb_model_input_count(m));
        return NULL;
    }
    feed f;
    nb_status s = feed_open(&f, who, xs, n, NULL);
    if (s == NB_OK)
        s = feed_batches(&f, o.batch_size, false, 0);
    if (s == NB_OK)
        s = feed_start(&f, 0);
    nb_tensor *out = NULL;
    int64_t N = feed_samples(&f), row = 0;
    bool training = nb_model_set_training(m, false), grad = nb_set_grad_enabled(false);
    nb_tensor *x[NB_MODEL_MAX_INPUTS], *y;
    while (s == NB_OK && feed_next(&f, x, &y)) {
        nb_tensor *pred = nb_model_forward_n(m, x, n);
        if (!pred) {
            s = nb_error_code();
        } else if (pred->ndim < 1 || pred->shape[0] != x[0]->shape[0]) {
            char sp[64];
            s = nb_set_error(NB_ERR_SHAPE, "%s: the output %s has no row per sample", who,
                             nb_tensor_shape_str(pred, sp, sizeof sp));
        } else if (!out) {
            int64_t shape[NB_MAX_DIMS];
            memcpy(shape, pred->shape, sizeof shape);
            shape[0] = N;
            if (!(out = nb_tensor_zeros(pred->ndim, shape)))
                s = nb_error_code();
        } else if (pred->ndim != out->ndim ||
                   pred->size / pred->shape[0] != out->size / (N ? N : 1)) {
            char sp[64], so[64];
            s = nb_set_error(NB_ERR_SHAPE, "%s: the outputs of two batches differ: %s and %s",
                             who, nb_tensor_shape_str(pred, sp, sizeof sp),
                             nb_tensor_shape_str(out, so, sizeof so));
        }
        if (s == NB_OK) {
            int64_t per = pred->size / pred->shape[0];
            memcpy(out->data + row * per, pred->data, sizeof(float) * (size_t)pred->size);
            row += pred->shape[0];
        }
        nb_model_step_reset(m);
    }
    nb_set_grad_enabled(grad);
    nb_model_set_training(m, training);
    feed_close(&f);
    if (s == NB_OK && !out)
        s = nb_set_error(NB_ERR_SHAPE, "%s: there are no samples", who);
    if (s != NB_OK) {
        nb_tensor_free(out);
        return NULL;
    }
    return out;
}

nb_tensor *nb_model_predict(nb_model *m, nb_tensor *x, const nb_eval_opts *opts)
{
    return nb_model_predict_n(m, &x, 1, opts);
}
