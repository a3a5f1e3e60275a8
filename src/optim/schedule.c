/*
 * src/optim/schedule.c - learning-rate schedules (nabla/optim.h): a rate computed from
 * the epoch (or step) and set on the optimizer.
 */
#include <math.h>

#include "nabla/optim.h"

static const double PI = 3.14159265358979323846;

static const char *kind_name(nb_lr_kind k)
{
    switch (k) {
    case NB_LR_CONSTANT: return "constant";
    case NB_LR_STEP: return "step";
    case NB_LR_EXPONENTIAL: return "exponential";
    case NB_LR_COSINE: return "cosine";
    case NB_LR_PLATEAU: return "plateau";
    }
    return "?";
}

#define BAD(...) nb_set_error(NB_ERR_ARG, "lr_schedule: " __VA_ARGS__)

static nb_status check(nb_lr_schedule *s, float base)
{
    const char *k = kind_name(s->kind);
    switch (s->kind) {
    case NB_LR_CONSTANT:
        return NB_OK;
    case NB_LR_STEP:
        if (s->gamma == 0.0f)
            s->gamma = 0.1f;
        if (s->step_size < 1)
            return BAD("%s: step_size must be >= 1, got %lld", k, (long long)s->step_size);
        /* gamma is checked as for exponential */
        /* fall through */
    case NB_LR_EXPONENTIAL:
        if (!(isfinite(s->gamma) && s->gamma > 0.0f))
            return BAD("%s: gamma must be finite and > 0, got %g", k, (double)s->gamma);
        return NB_OK;
    case NB_LR_COSINE:
        if (s->warmup < 0)
            return BAD("%s: warmup must be >= 0, got %lld", k, (long long)s->warmup);
        if (s->total <= s->warmup)
            return BAD("%s: total must be > warmup, got total %lld and warmup %lld", k,
                       (long long)s->total, (long long)s->warmup);
        if (!(isfinite(s->min_lr) && s->min_lr >= 0.0f && s->min_lr <= base))
            return BAD("%s: min_lr must be in [0, base rate %g], got %g", k, (double)base,
                       (double)s->min_lr);
        return NB_OK;
    case NB_LR_PLATEAU:
        if (s->factor == 0.0f)
            s->factor = 0.1f;
        if (s->patience == 0)
            s->patience = 10;
        if (s->threshold == 0.0f)
            s->threshold = 1e-4f;
        if (s->per_step)
            return BAD("%s: per_step is not allowed (the metric is an epoch's)", k);
        if (!(s->factor > 0.0f && s->factor < 1.0f))
            return BAD("%s: factor must be in (0, 1), got %g", k, (double)s->factor);
        if (s->patience < 1)
            return BAD("%s: patience must be >= 1, got %lld", k, (long long)s->patience);
        if (!(isfinite(s->threshold) && s->threshold >= 0.0f))
            return BAD("%s: threshold must be finite and >= 0, got %g", k,
                       (double)s->threshold);
        if (s->cooldown < 0)
            return BAD("%s: cooldown must be >= 0, got %lld", k, (long long)s->cooldown);
        if (!(isfinite(s->min_lr) && s->min_lr >= 0.0f))
            return BAD("%s: min_lr must be finite and >= 0, got %g", k, (double)s->min_lr);
        return NB_OK;
    }
    return BAD("kind %d is not an nb_lr_kind", (int)s->kind);
}

static void plateau_reset(nb_lr_schedule *s)
{
    s->best_ = s->maximize ? -INFINITY : INFINITY;
    s->bad_ = 0;
    s->cool_ = 0;
}

nb_status nb_lr_schedule_start(nb_lr_schedule *s, const nb_optimizer *opt)
{
    if (!s || !opt)
        return nb_set_error(NB_ERR_NULL, "lr_schedule_start: %s is NULL",
                            !s ? "the schedule" : "the optimizer");
    s->started_ = false;
    float base = nb_optim_lr(opt);
    nb_status st = check(s, base);
    if (st != NB_OK)
        return st;
    s->base_lr_ = base;
    plateau_reset(s);
    s->started_ = true;
    return NB_OK;
}

/* Keras' ReduceLROnPlateau.on_epoch_end: the rate after an epoch whose metric was m. */
static double plateau_step(nb_lr_schedule *s, double lr, double m)
{
    if (s->cool_ > 0) {
        s->cool_--;
        s->bad_ = 0;
    }
    bool better = s->maximize ? m > s->best_ + s->threshold : m < s->best_ - s->threshold;
    if (better) {
        s->best_ = m;
        s->bad_ = 0;
    } else if (s->cool_ == 0 && ++s->bad_ >= s->patience) {
        if (lr > s->min_lr) {
            lr = fmax(lr * s->factor, s->min_lr);
            s->cool_ = s->cooldown;
            s->bad_ = 0;
        }
    }
    return lr;
}

float nb_lr_schedule_apply(nb_lr_schedule *s, nb_optimizer *opt, int64_t t, double metric)
{
    if (!s || !opt) {
        nb_set_error(NB_ERR_NULL, "lr_schedule_apply: %s is NULL",
                     !s ? "the schedule" : "the optimizer");
        return NAN;
    }
    if (!s->started_) {
        nb_set_error(NB_ERR_STATE, "lr_schedule_apply: the schedule was not started "
                     "(nb_lr_schedule_start)");
        return NAN;
    }
    if (t < 0) {
        nb_set_error(NB_ERR_ARG, "lr_schedule_apply: t must be >= 0, got %lld", (long long)t);
        return NAN;
    }
    const double base = s->base_lr_;
    double lr = base;
    switch (s->kind) {
    case NB_LR_CONSTANT:
        break;
    case NB_LR_STEP:
        lr = base * pow((double)s->gamma, (double)(t / s->step_size));
        break;
    case NB_LR_EXPONENTIAL:
        lr = base * pow((double)s->gamma, (double)t);
        break;
    case NB_LR_COSINE:
        if (t < s->warmup) {
            lr = base * (double)t / (double)s->warmup;
        } else if (t >= s->total) {
            lr = s->min_lr;
        } else {
            double x = (double)(t - s->warmup) / (double)(s->total - s->warmup);
            lr = s->min_lr + (base - s->min_lr) * (1.0 + cos(PI * x)) / 2.0;
        }
        break;
    case NB_LR_PLATEAU:
        if (t == 0)
            plateau_reset(s);
        else
            lr = plateau_step(s, nb_optim_lr(opt), metric);
        break;
    }
    float f = (float)lr;
    if (nb_optim_set_lr(opt, f) != NB_OK)
        return NAN;
    return f;
}
