/*
 * src/nn/compile.c - compile: the loss, the metrics and the optimizer a model trains
 * with, and the loss and metrics of one batch.
 *
 * Losses, over a batch of N samples (mean over N, or the sum, per the reduction):
 *   BCE                 -(y log p + (1 - y) log(1 - p))        nb_bce (log clamped at -100)
 *   BCE, from_logits    max(z, 0) - z y + log(1 + e^-|z|)      nb_bce_logits
 *   MSE                 (p - y)^2                              nb_mse
 *   MAE                 |p - y|                                nb_abs
 *   sparse CE, logits   -log softmax(z)[label]                 nb_cross_entropy
 *   sparse CE           -log(p[label] + 1e-7)
 *   categorical CE      -sum_c y_c log softmax(z)_c  (logits), -sum_c y_c log(p_c + 1e-7)
 * Keras clips probabilities to [1e-7, 1 - 1e-7] before the log; adding 1e-7 bounds a term
 * the same way (at 16.1) and keeps a finite gradient. BCE and MSE, MAE average over every
 * element, as Keras does for one output per sample.
 */
#include <math.h>
#include <string.h>

#include "model_private.h"

/* ---- optimizer specs ---- */

nb_optimizer *nb_optim_spec_sgd(nb_params *ps, const nb_optim_spec *spec)
{
    return nb_sgd(ps, spec->opts.sgd);
}

nb_optimizer *nb_optim_spec_adam(nb_params *ps, const nb_optim_spec *spec)
{
    return nb_adam(ps, spec->opts.adam);
}

nb_optimizer *nb_optim_spec_adamw(nb_params *ps, const nb_optim_spec *spec)
{
    return nb_adamw(ps, spec->opts.adam);
}

nb_optimizer *nb_optim_spec_rmsprop(nb_params *ps, const nb_optim_spec *spec)
{
    return nb_rmsprop(ps, spec->opts.rmsprop);
}

nb_optimizer *nb_optim_spec_adagrad(nb_params *ps, const nb_optim_spec *spec)
{
    return nb_adagrad(ps, spec->opts.adagrad);
}

nb_status nb_model_make_optimizer_(nb_model *m)
{
    nb_optim_free(m->opt);
    m->opt = m->copts.optimizer.make(m->ps, &m->copts.optimizer);
    if (!m->opt) {
        nb_status s = nb_error_code();
        if (s == NB_OK)
            s = nb_set_error(NB_ERR_STATE, "%s: compile: the optimizer's make returned NULL "
                             "without an error", m->name);
        return s;
    }
    return NB_OK;
}

/* ---- compile ---- */

static const char *const loss_names[NB_LOSS_COUNT] = {
    [NB_LOSS_NONE] = "none",
    [NB_LOSS_BCE] = "binary_crossentropy",
    [NB_LOSS_MSE] = "mean_squared_error",
    [NB_LOSS_MAE] = "mean_absolute_error",
    [NB_LOSS_SPARSE_CATEGORICAL_CE] = "sparse_categorical_crossentropy",
    [NB_LOSS_CATEGORICAL_CE] = "categorical_crossentropy",
};

/* Every name a log entry can have, with its validation name. */
static const char *const metric_names[NB_METRIC_COUNT] = {
    [NB_METRIC_NONE] = "loss",
    [NB_METRIC_ACCURACY] = "accuracy",
    [NB_METRIC_BINARY_ACCURACY] = "binary_accuracy",
    [NB_METRIC_CATEGORICAL_ACCURACY] = "categorical_accuracy",
    [NB_METRIC_SPARSE_CATEGORICAL_ACCURACY] = "sparse_categorical_accuracy",
    [NB_METRIC_MSE] = "mse",
    [NB_METRIC_MAE] = "mae",
};
static const char *const val_names[NB_METRIC_COUNT] = {
    [NB_METRIC_NONE] = "val_loss",
    [NB_METRIC_ACCURACY] = "val_accuracy",
    [NB_METRIC_BINARY_ACCURACY] = "val_binary_accuracy",
    [NB_METRIC_CATEGORICAL_ACCURACY] = "val_categorical_accuracy",
    [NB_METRIC_SPARSE_CATEGORICAL_ACCURACY] = "val_sparse_categorical_accuracy",
    [NB_METRIC_MSE] = "val_mse",
    [NB_METRIC_MAE] = "val_mae",
};

const char *nb_metric_name(nb_metric_kind kind)
{
    return kind > NB_METRIC_NONE && kind < NB_METRIC_COUNT ? metric_names[kind] : NULL;
}

nb_status nb_model_compile(nb_model *m, const nb_compile_opts *opts)
{
    if (!m || !opts)
        return nb_set_error(NB_ERR_NULL, "compile: %s is NULL", m ? "opts" : "model");
    nb_compile_opts c = *opts;
    if (!c.loss_fn && (c.loss <= NB_LOSS_NONE || c.loss >= NB_LOSS_COUNT))
        return nb_set_error(NB_ERR_ARG, "%s: compile: %s (set .loss to an NB_LOSS_* kind or "
                            ".loss_fn)", m->name, c.loss == NB_LOSS_NONE ? "no loss" :
                            "unknown loss kind");
    if (c.reduction != NB_REDUCE_MEAN && c.reduction != NB_REDUCE_SUM)
        return nb_set_error(NB_ERR_ARG, "%s: compile: the reduction must be NB_REDUCE_MEAN or "
                            "NB_REDUCE_SUM, got %d", m->name, (int)c.reduction);
    for (int i = 0; i < NB_MAX_METRICS; i++)
        if (c.metrics[i] < NB_METRIC_NONE || c.metrics[i] >= NB_METRIC_COUNT)
            return nb_set_error(NB_ERR_ARG, "%s: compile: metric %d has unknown kind %d",
                                m->name, i, (int)c.metrics[i]);
    if (c.threshold == 0)
        c.threshold = 0.5f;
    if (!(c.threshold > 0 && c.threshold < 1))
        return nb_set_error(NB_ERR_ARG, "%s: compile: the threshold must be in (0, 1), got %g",
                            m->name, (double)c.threshold);
    if (!c.optimizer.make)  /* Keras's default: RMSprop(learning_rate=0.001, rho=0.9) */
        c.optimizer = NB_RMSPROP(.lr = 0.001f, .alpha = 0.9f);
    m->copts = c;
    m->compiled = true;
    nb_status s = nb_model_auto_build_(m);
    if (s == NB_OK && m->built)
        s = nb_model_make_optimizer_(m);
    if (s != NB_OK)
        m->compiled = false;
    return s;
}

bool nb_model_compiled(const nb_model *m) { return m && m->compiled; }

/* ---- the loss of a batch ---- */

/* y seen with pred's shape when it holds as many elements (y [N] for pred [N, 1]). */
static nb_tensor *like(nb_tensor *y, const nb_tensor *pred)
{
    if (nb_tensor_same_shape(y, pred) || y->size != pred->size)
        return y;
    return nb_reshape(y, pred->ndim, pred->shape);
}

/* Checks p [N, C] and sparse labels of N elements; the labels as [N]. */
static nb_tensor *sparse_labels(const nb_model *m, const nb_tensor *p, nb_tensor *y)
{
    char sp[64], sy[64];
    if (p->ndim != 2 || y->size != p->shape[0] || y->ndim < 1 || y->shape[0] != p->shape[0]) {
        nb_set_error(NB_ERR_SHAPE, "%s: loss: sparse categorical cross-entropy needs "
                     "predictions [N, C] and labels [N], got %s and %s", m->name,
                     nb_tensor_shape_str(p, sp, sizeof sp), nb_tensor_shape_str(y, sy, sizeof sy));
        return NULL;
    }
    return y->ndim == 1 ? y : nb_reshape(y, NB_SHAPE(p->shape[0]));
}

/* One-hot rows [N, C] of labels (no graph), NB_ERR_ARG naming the first bad label. */
static nb_tensor *one_hot(const nb_model *m, const nb_tensor *labels, int64_t C)
{
    int64_t N = labels->size;
    nb_tensor *t = nb_tensor_step(NB_SHAPE(N, C));
    if (!t)
        return NULL;
    nb_tensor_fill(t, 0.0f);
    for (int64_t n = 0; n < N; n++) {
        float v = labels->data[n];
        if (!(v >= 0 && v < (float)C && v == floorf(v))) {
            nb_set_error(NB_ERR_ARG, "%s: loss: label %g of sample %lld is not a class index "
                         "in [0, %lld)", m->name, (double)v, (long long)n, (long long)C);
            return NULL;
        }
        t->data[n * C + (int64_t)v] = 1.0f;
    }
    return t;
}

/* Reduces per-sample losses [N] as compiled. */
static nb_tensor *reduce(const nb_model *m, nb_tensor *rows)
{
    return m->copts.reduction == NB_REDUCE_SUM ? nb_sum(rows) : nb_mean(rows);
}

/* -sum_c t_c log(p_c) per row, log p from probabilities (+1e-7) or log_softmax(logits). */
static nb_tensor *cross_entropy_rows(const nb_model *m, nb_tensor *p, nb_tensor *t)
{
    nb_tensor *logp = m->copts.from_logits ? nb_log_softmax(p, -1)
                                           : nb_log(nb_add_scalar(p, 1e-7f));
    return nb_neg(nb_sum_axis(nb_mul(t, logp), -1, false));
}

nb_tensor *nb_model_loss(nb_model *m, nb_tensor *pred, nb_tensor *y)
{
    if (!m) {
        nb_set_error(NB_ERR_NULL, "model_loss: model is NULL");
        return NULL;
    }
    if (!m->compiled) {
        nb_set_error(NB_ERR_STATE, "%s: loss: the model is not compiled (nb_compile)", m->name);
        return NULL;
    }
    if (!pred)
        return NULL;  /* the forward pass failed: its message stands */
    if (!y) {
        nb_set_error(NB_ERR_NULL, "%s: loss: the target is NULL", m->name);
        return NULL;
    }
    const nb_compile_opts *c = &m->copts;
    nb_reduction r = c->reduction;
    char sp[64], sy[64];
    if (c->loss_fn) {
        nb_tensor *loss = c->loss_fn(pred, y, c->loss_ud);
        if (loss && loss->size != 1) {
            nb_set_error(NB_ERR_SHAPE, "%s: loss: the loss function gave %s; a loss has one "
                         "value", m->name, nb_tensor_shape_str(loss, sp, sizeof sp));
            return NULL;
        }
        return loss;
    }
    if (c->loss != NB_LOSS_SPARSE_CATEGORICAL_CE) {
        y = like(y, pred);
        if (y && !nb_tensor_same_shape(y, pred)) {
            nb_set_error(NB_ERR_SHAPE, "%s: loss: %s: predictions %s and targets %s differ",
                         m->name, loss_names[c->loss], nb_tensor_shape_str(pred, sp, sizeof sp),
                         nb_tensor_shape_str(y, sy, sizeof sy));
            return NULL;
        }
    }
    switch (c->loss) {
    case NB_LOSS_BCE:
        return c->from_logits ? nb_bce_logits(pred, y, r) : nb_bce(pred, y, r);
    case NB_LOSS_MSE:
        return nb_mse(pred, y, r);
    case NB_LOSS_MAE: {
        nb_tensor *d = nb_abs(nb_sub(pred, y));
        return r == NB_REDUCE_SUM ? nb_sum(d) : nb_mean(d);
    }
    case NB_LOSS_SPARSE_CATEGORICAL_CE: {
        nb_tensor *labels = sparse_labels(m, pred, y);
        if (!labels)
            return NULL;
        if (c->from_logits)
            return nb_cross_entropy(pred, labels, r);
        nb_tensor *t = one_hot(m, labels, pred->shape[1]);
        return t ? reduce(m, cross_entropy_rows(m, pred, t)) : NULL;
    }
    case NB_LOSS_CATEGORICAL_CE:
        if (pred->ndim != 2) {
            nb_set_error(NB_ERR_SHAPE, "%s: loss: categorical cross-entropy needs predictions "
                         "[N, C], got %s", m->name, nb_tensor_shape_str(pred, sp, sizeof sp));
            return NULL;
        }
        return reduce(m, cross_entropy_rows(m, pred, y));
    default:
        nb_set_error(NB_ERR_ARG, "%s: loss: unknown loss kind %d", m->name, (int)c->loss);
        return NULL;
    }
}

/* ---- metrics ---- */

nb_status nb_model_metrics_reset(const nb_model *m, nb_logs *logs)
{
    if (!m || !logs)
        return nb_set_error(NB_ERR_NULL, "metrics_reset: %s is NULL", m ? "logs" : "model");
    if (!m->compiled)
        return nb_set_error(NB_ERR_STATE, "%s: metrics: the model is not compiled", m->name);
    memset(logs, 0, sizeof *logs);
    logs->names[logs->n++] = metric_names[NB_METRIC_NONE];
    for (int i = 0; i < NB_MAX_METRICS && m->copts.metrics[i] != NB_METRIC_NONE; i++)
        logs->names[logs->n++] = metric_names[m->copts.metrics[i]];
    return NB_OK;
}

/* The kind a metric name stands for (NB_METRIC_NONE for "loss"), or -1. */
static int metric_of(const char *name)
{
    for (int k = 0; k < NB_METRIC_COUNT; k++)
        if (strcmp(metric_names[k], name) == 0)
            return k;
    return -1;
}

/* Index of the largest of x[0..n) (the first on ties; NaN never wins). */
static int64_t argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best] || isnan(x[best]))
            best = i;
    return best;
}

/* Which accuracy "accuracy" is, from the loss (Keras's rule) or else the shapes. */
static nb_metric_kind resolve_accuracy(const nb_model *m, const nb_tensor *p, const nb_tensor *y)
{
    switch (m->copts.loss_fn ? NB_LOSS_NONE : m->copts.loss) {
    case NB_LOSS_BCE: return NB_METRIC_BINARY_ACCURACY;
    case NB_LOSS_SPARSE_CATEGORICAL_CE: return NB_METRIC_SPARSE_CATEGORICAL_ACCURACY;
    case NB_LOSS_CATEGORICAL_CE: return NB_METRIC_CATEGORICAL_ACCURACY;
    default:
        if (p->ndim < 2 || p->shape[p->ndim - 1] == 1)
            return NB_METRIC_BINARY_ACCURACY;
        return y->size == p->shape[0] ? NB_METRIC_SPARSE_CATEGORICAL_ACCURACY
                                      : NB_METRIC_CATEGORICAL_ACCURACY;
    }
}

/* Adds the metric `kind` of one batch to *sum and *count. */
static nb_status metric_batch(const nb_model *m, nb_metric_kind kind, const nb_tensor *p,
                              const nb_tensor *y, double *sum, double *count)
{
    char sp[64], sy[64];
    const float *pd = p->data, *yd = y->data;
    if (kind == NB_METRIC_ACCURACY)
        kind = resolve_accuracy(m, p, y);
    switch (kind) {
    case NB_METRIC_BINARY_ACCURACY:
    case NB_METRIC_MSE:
    case NB_METRIC_MAE: {
        if (p->size != y->size)
            break;
        double s = 0, t = m->copts.threshold;
        /* Logits: the threshold of sigmoid(z) is a threshold of z. */
        bool logits = m->copts.from_logits && m->copts.loss == NB_LOSS_BCE;
        float thr = logits ? (float)log(t / (1 - t)) : (float)t;
        for (int64_t i = 0; i < p->size; i++) {
            double d = (double)pd[i] - yd[i];
            if (kind == NB_METRIC_MSE)
                s += d * d;
            else if (kind == NB_METRIC_MAE)
                s += fabs(d);
            else
                s += (pd[i] > thr) == (yd[i] > 0.5f);
        }
        *sum += s;
        *count += (double)p->size;
        return NB_OK;
    }
    case NB_METRIC_SPARSE_CATEGORICAL_ACCURACY:
    case NB_METRIC_CATEGORICAL_ACCURACY: {
        if (p->ndim < 1)
            break;
        int64_t N = p->shape[0], C = N ? p->size / N : 0;
        bool sparse = kind == NB_METRIC_SPARSE_CATEGORICAL_ACCURACY;
        if (sparse ? y->size != N : y->size != p->size)
            break;
        double s = 0;
        for (int64_t n = 0; n < N; n++) {
            int64_t k = argmax(pd + n * C, C);
            s += sparse ? (double)k == (double)yd[n] : k == argmax(yd + n * C, C);
        }
        *sum += s;
        *count += (double)N;
        return NB_OK;
    }
    default:
        break;
    }
    return nb_set_error(NB_ERR_SHAPE, "%s: metrics: %s does not fit predictions %s and "
                        "targets %s", m->name, metric_names[kind],
                        nb_tensor_shape_str(p, sp, sizeof sp), nb_tensor_shape_str(y, sy, sizeof sy));
}

nb_status nb_model_metrics_update(const nb_model *m, nb_logs *logs, const nb_tensor *pred,
                                  const nb_tensor *y, const nb_tensor *loss)
{
    if (!m || !logs || !pred || !y || !loss)
        return nb_set_error(NB_ERR_NULL, "metrics_update: %s is NULL",
                            !m ? "model" : !logs ? "logs" : !pred ? "pred" : !y ? "y" : "loss");
    if (loss->size != 1)
        return nb_set_error(NB_ERR_SHAPE, "%s: metrics: the loss has %lld values, not 1",
                            m->name, (long long)loss->size);
    double batch = pred->ndim > 0 ? (double)pred->shape[0] : 1.0;
    for (int i = 0; i < logs->n; i++) {
        int kind = metric_of(logs->names[i]);
        if (kind < 0)
            continue;  /* a validation entry */
        if (kind == NB_METRIC_NONE) {
            logs->sums_[i] += (double)loss->data[0] * batch;
            logs->counts_[i] += batch;
        } else {
            nb_status s = metric_batch(m, (nb_metric_kind)kind, pred, y, &logs->sums_[i],
                                       &logs->counts_[i]);
            if (s != NB_OK)
                return s;
        }
        logs->values[i] = logs->counts_[i] > 0 ? logs->sums_[i] / logs->counts_[i] : 0.0;
    }
    return NB_OK;
}

bool nb_logs_get(const nb_logs *logs, const char *name, double *value)
{
    for (int i = 0; logs && name && i < logs->n; i++)
        if (strcmp(logs->names[i], name) == 0) {
            if (value)
                *value = logs->values[i];
            return true;
        }
    return false;
}

void nb_logs_add_validation(nb_logs *logs, const nb_logs *val)
{
    for (int i = 0; logs && val && i < val->n && logs->n < NB_LOGS_MAX; i++) {
        int kind = metric_of(val->names[i]);
        if (kind < 0)
            continue;
        logs->names[logs->n] = val_names[kind];
        logs->values[logs->n] = val->values[i];
        logs->sums_[logs->n] = val->sums_[i];
        logs->counts_[logs->n] = val->counts_[i];
        logs->n++;
    }
}
