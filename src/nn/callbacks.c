/*
 * src/nn/callbacks.c - the built-in callbacks: EarlyStopping, LearningRateScheduler and
 * ModelCheckpoint, each a struct that starts with its nb_callback, written on the public
 * API only (nb_logs, nb_model_params, nb_model_optimizer, nabla/optim.h schedules).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nabla.h"
#include "nabla/nn.h"

void nb_callback_free(nb_callback *cb)
{
    if (cb && cb->free)
        cb->free(cb);
}

static void plain_free(nb_callback *cb) { nb_free(cb); }

/* The monitored value, or NB_ERR_ARG listing what the logs hold. */
static nb_status monitored(const char *who, const char *monitor, const nb_logs *logs,
                           double *value)
{
    if (nb_logs_get(logs, monitor, value))
        return NB_OK;
    char have[256] = "";
    size_t k = 0;
    for (int i = 0; logs && i < logs->n && k < sizeof have; i++)
        k += (size_t)snprintf(have + k, sizeof have - k, "%s%s", i ? ", " : "", logs->names[i]);
    return nb_set_error(NB_ERR_ARG, "%s: monitor '%s' is not in the logs (they hold: %s)", who,
                        monitor, have);
}

/* Keras's "auto": maximise accuracies, minimise the rest. */
static bool maximizes(nb_monitor_mode mode, const char *monitor)
{
    return mode == NB_MODE_MAX || (mode == NB_MODE_AUTO && strstr(monitor, "acc"));
}

/* ---- EarlyStopping ---- */

typedef struct early_stopping {
    nb_callback cb;
    nb_early_stopping_opts o;
    bool max;
    double best;
    int64_t wait, stopped_epoch, best_epoch;
    float *best_weights;       /* values and buffers at the best epoch */
    int64_t n_weights;
    bool have_best;
    FILE *out;
} early_stopping;

/* value beats reference by more than min_delta (Keras's _is_improvement). */
static bool improves(const early_stopping *e, double value, double reference)
{
    return e->max ? value - e->o.min_delta > reference : value + e->o.min_delta < reference;
}

static nb_status es_train_begin(nb_callback *cb, nb_model *m, const nb_fit_info *info)
{
    early_stopping *e = (early_stopping *)cb;
    e->wait = e->stopped_epoch = e->best_epoch = 0;
    e->have_best = false;
    e->best = e->max ? -INFINITY : INFINITY;
    e->out = info->out;
    if (!e->o.restore_best_weights)
        return NB_OK;
    nb_params *ps = nb_model_params(m);
    int64_t n = nb_params_numel(ps, NB_PARAM) + nb_params_numel(ps, NB_BUFFER);
    if (n != e->n_weights) {
        nb_free(e->best_weights);
        e->best_weights = NULL;
        e->n_weights = 0;
        if (n > 0 && !(e->best_weights = nb_alloc(sizeof(float) * (size_t)n, 0)))
            return NB_ERR_NOMEM;
        e->n_weights = n;
    }
    return NB_OK;
}

static void es_keep(early_stopping *e, nb_model *m)
{
    if (e->o.restore_best_weights && e->n_weights > 0) {
        memcpy(e->best_weights, nb_params_values(nb_model_params(m)),
               sizeof(float) * (size_t)e->n_weights);
        e->have_best = true;
    }
}

static nb_status es_epoch_end(nb_callback *cb, nb_model *m, int64_t epoch, const nb_logs *logs)
{
    early_stopping *e = (early_stopping *)cb;
    double v;
    nb_status s = monitored("early_stopping", e->o.monitor, logs, &v);
    if (s != NB_OK)
        return s;
    if (epoch < e->o.start_from_epoch)
        return NB_OK;
    if (!e->have_best) {  /* the first epoch watched is the best so far */
        es_keep(e, m);
        e->best_epoch = epoch;
    }
    e->wait++;
    if (improves(e, v, e->best)) {
        e->best = v;
        e->best_epoch = epoch;
        es_keep(e, m);
        if (!e->o.has_baseline || improves(e, v, e->o.baseline))
            e->wait = 0;
        return NB_OK;
    }
    if (e->wait >= e->o.patience && epoch > 0) {
        e->stopped_epoch = epoch;
        nb_model_set_stop_training(m, true);
    }
    return NB_OK;
}

static nb_status es_train_end(nb_callback *cb, nb_model *m, const nb_logs *logs)
{
    (void)logs;
    early_stopping *e = (early_stopping *)cb;
    FILE *out = e->out ? e->out : stdout;
    if (e->stopped_epoch > 0 && e->o.verbose)
        fprintf(out, "Epoch %lld: early stopping\n", (long long)e->stopped_epoch + 1);
    if (e->have_best) {
        if (e->o.verbose)
            fprintf(out, "Restoring model weights from the end of the best epoch: %lld.\n",
                    (long long)e->best_epoch + 1);
        memcpy(nb_params_values(nb_model_params(m)), e->best_weights,
               sizeof(float) * (size_t)e->n_weights);
    }
    return NB_OK;
}

static void es_free(nb_callback *cb)
{
    early_stopping *e = (early_stopping *)cb;
    nb_free(e->best_weights);
    nb_free(e);
}

nb_callback *nb_early_stopping_new(nb_early_stopping_opts opts)
{
    if (!opts.monitor)
        opts.monitor = "val_loss";
    opts.min_delta = fabs(opts.min_delta);
    if (opts.patience < 0 || !isfinite(opts.min_delta) || opts.mode < NB_MODE_AUTO ||
        opts.mode > NB_MODE_MAX || opts.start_from_epoch < 0) {
        nb_set_error(NB_ERR_ARG, "early_stopping: need patience >= 0 (got %lld), a finite "
                     "min_delta (got %g), a known mode (got %d), start_from_epoch >= 0",
                     (long long)opts.patience, opts.min_delta, (int)opts.mode);
        return NULL;
    }
    early_stopping *e = nb_alloc(sizeof *e, 0);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->cb = (nb_callback){.on_train_begin = es_train_begin, .on_epoch_end = es_epoch_end,
                          .on_train_end = es_train_end, .free = es_free};
    e->o = opts;
    e->max = maximizes(opts.mode, opts.monitor);
    return &e->cb;
}

int64_t nb_early_stopping_stopped_epoch(const nb_callback *cb)
{
    return cb && cb->free == es_free ? ((const early_stopping *)cb)->stopped_epoch : -1;
}

int64_t nb_early_stopping_best_epoch(const nb_callback *cb)
{
    return cb && cb->free == es_free ? ((const early_stopping *)cb)->best_epoch : -1;
}

/* ---- LearningRateScheduler ---- */

typedef struct lr_scheduler {
    nb_callback cb;
    nb_lr_scheduler_opts o;
    int64_t step;              /* batches seen, for per_step schedules */
    double last;               /* the monitored value of the last epoch (plateau) */
} lr_scheduler;

static nb_optimizer *optimizer_of(nb_model *m)
{
    nb_optimizer *opt = nb_model_optimizer(m);
    if (!opt)
        nb_set_error(NB_ERR_STATE, "lr_scheduler: model '%s' has no optimizer (compile it)",
                     nb_model_name(m));
    return opt;
}

static nb_status lr_train_begin(nb_callback *cb, nb_model *m, const nb_fit_info *info)
{
    (void)info;
    lr_scheduler *l = (lr_scheduler *)cb;
    nb_optimizer *opt = optimizer_of(m);
    if (!opt)
        return NB_ERR_STATE;
    l->step = 0;
    l->last = NAN;
    return l->o.fn ? NB_OK : nb_lr_schedule_start(&l->o.schedule, opt);
}

static nb_status lr_apply(lr_scheduler *l, nb_model *m, int64_t t)
{
    nb_optimizer *opt = optimizer_of(m);
    if (!opt)
        return NB_ERR_STATE;
    if (l->o.fn)
        return nb_optim_set_lr(opt, l->o.fn(t, nb_optim_lr(opt), l->o.ud));
    nb_lr_schedule_apply(&l->o.schedule, opt, t, l->last);
    return NB_OK;
}

static nb_status lr_epoch_begin(nb_callback *cb, nb_model *m, int64_t epoch)
{
    lr_scheduler *l = (lr_scheduler *)cb;
    return l->o.schedule.per_step && !l->o.fn ? NB_OK : lr_apply(l, m, epoch);
}

static nb_status lr_batch_begin(nb_callback *cb, nb_model *m, int64_t batch)
{
    (void)batch;
    lr_scheduler *l = (lr_scheduler *)cb;
    if (!l->o.schedule.per_step || l->o.fn)
        return NB_OK;
    return lr_apply(l, m, l->step++);
}

static nb_status lr_epoch_end(nb_callback *cb, nb_model *m, int64_t epoch, const nb_logs *logs)
{
    (void)m;
    (void)epoch;
    lr_scheduler *l = (lr_scheduler *)cb;
    if (l->o.fn || l->o.schedule.kind != NB_LR_PLATEAU)
        return NB_OK;
    return monitored("lr_scheduler", l->o.monitor, logs, &l->last);
}

nb_callback *nb_lr_scheduler_new(nb_lr_scheduler_opts opts)
{
    if (!opts.monitor)
        opts.monitor = "val_loss";
    lr_scheduler *l = nb_alloc(sizeof *l, 0);
    if (!l)
        return NULL;
    memset(l, 0, sizeof *l);
    l->cb = (nb_callback){.on_train_begin = lr_train_begin, .on_epoch_begin = lr_epoch_begin,
                          .on_batch_begin = lr_batch_begin, .on_epoch_end = lr_epoch_end,
                          .free = plain_free};
    l->o = opts;
    return &l->cb;
}

/* ---- ModelCheckpoint ---- */

typedef struct checkpoint {
    nb_callback cb;
    nb_checkpoint_opts o;
    bool max;
    double best;
} checkpoint;

/* filepath with every "{epoch}" replaced by the epoch counted from 1. */
static nb_status expand(const char *pattern, int64_t epoch, char *buf, size_t n)
{
    size_t k = 0;
    for (const char *p = pattern; *p; p++) {
        int w;
        if (strncmp(p, "{epoch}", 7) == 0) {
            w = snprintf(buf + k, n - k, "%lld", (long long)epoch + 1);
            p += 6;
        } else {
            w = snprintf(buf + k, n - k, "%c", *p);
        }
        if (w < 0 || (size_t)w >= n - k)
            return nb_set_error(NB_ERR_ARG, "checkpoint: the path for '%.40s...' is longer than "
                                "%zu bytes", pattern, n - 1);
        k += (size_t)w;
    }
    buf[k] = '\0';
    return NB_OK;
}

static nb_status ckpt_train_begin(nb_callback *cb, nb_model *m, const nb_fit_info *info)
{
    (void)m;
    (void)info;
    checkpoint *c = (checkpoint *)cb;
    c->best = c->max ? -INFINITY : INFINITY;
    return NB_OK;
}

static nb_status ckpt_epoch_end(nb_callback *cb, nb_model *m, int64_t epoch, const nb_logs *logs)
{
    checkpoint *c = (checkpoint *)cb;
    if (c->o.save_best_only) {
        double v;
        nb_status s = monitored("checkpoint", c->o.monitor, logs, &v);
        if (s != NB_OK)
            return s;
        if (!(c->max ? v > c->best : v < c->best))
            return NB_OK;
        c->best = v;
    }
    char path[512];
    nb_status s = expand(c->o.filepath, epoch, path, sizeof path);
    if (s != NB_OK)
        return s;
    s = c->o.save(m, path, c->o.ud);
    if (s != NB_OK && nb_error_code() == NB_OK)
        nb_set_error(s, "checkpoint: saving '%s' failed", path);
    return s;
}

nb_callback *nb_checkpoint_new(nb_checkpoint_opts opts)
{
    if (!opts.filepath || !opts.save) {
        nb_set_error(NB_ERR_ARG, "checkpoint: needs a filepath and a save function");
        return NULL;
    }
    if (!opts.monitor)
        opts.monitor = "val_loss";
    checkpoint *c = nb_alloc(sizeof *c, 0);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->cb = (nb_callback){.on_train_begin = ckpt_train_begin, .on_epoch_end = ckpt_epoch_end,
                          .free = plain_free};
    c->o = opts;
    c->max = maximizes(opts.mode, opts.monitor);
    return &c->cb;
}
