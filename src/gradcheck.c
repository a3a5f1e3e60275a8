/*
 * src/gradcheck.c - analytic gradients against central finite differences.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* ---- state inputs, saved the first time an op sees them and restored after every
 * evaluation ---- */

typedef struct saved_state {
    nb_tensor *t;
    float *copy;
} saved_state;

typedef struct state_guard {
    saved_state *items;
    size_t n, cap;
    bool failed;   /* an allocation failed: the state cannot be restored */
} state_guard;

static void guard_state(nb_tensor *t, void *ud)
{
    state_guard *g = ud;
    for (size_t i = 0; i < g->n; i++)
        if (g->items[i].t == t)
            return;
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 8;
        saved_state *items = nb_alloc(cap * sizeof *items, 0);
        if (!items) {
            g->failed = true;
            return;
        }
        if (g->n)
            memcpy(items, g->items, g->n * sizeof *items);
        nb_free(g->items);
        g->items = items;
        g->cap = cap;
    }
    float *copy = nb_alloc((size_t)t->size * sizeof(float) + 1, 0);
    if (!copy) {
        g->failed = true;
        return;
    }
    memcpy(copy, t->data, (size_t)t->size * sizeof(float));
    g->items[g->n++] = (saved_state){t, copy};
}

static void guard_restore(const state_guard *g)
{
    for (size_t i = 0; i < g->n; i++)
        memcpy(g->items[i].t->data, g->items[i].copy,
               (size_t)g->items[i].t->size * sizeof(float));
}

static void guard_free(state_guard *g)
{
    for (size_t i = 0; i < g->n; i++)
        nb_free(g->items[i].copy);
    nb_free(g->items);
    memset(g, 0, sizeof *g);
}

/* ---- the check ---- */

/* sum(r * y) in double, in index order. */
static double weighted_sum(const nb_tensor *y, const nb_tensor *r)
{
    double s = 0.0;
    for (int64_t i = 0; i < y->size; i++)
        s += (double)r->data[i] * y->data[i];
    return s;
}

/* The status of a NULL output of f. */
static nb_status null_output(void)
{
    return nb_error_code() != NB_OK ? nb_error_code()
                                    : nb_set_error(NB_ERR_NULL, "gradcheck: f returned NULL");
}

/* Evaluates L = sum(r * f(inputs)) with grad mode off; step memory and state are given
 * back. */
static nb_status eval_loss(nb_gradcheck_fn f, nb_tensor *const *inputs, void *ud,
                           const nb_tensor *r, const state_guard *g, double *loss)
{
    nb_step_mark mark = nb_step_mark_get();
    nb_tensor *y = f(inputs, ud);
    nb_status s = NB_OK;
    if (!y)
        s = null_output();
    else if (!nb_tensor_same_shape(y, r))
        s = nb_set_error(NB_ERR_STATE, "gradcheck: f's output changed shape between calls");
    else
        *loss = weighted_sum(y, r);
    guard_restore(g);
    nb_step_rewind(mark);
    return s;
}

static nb_status check_opts(const nb_gradcheck_opts *o)
{
    if (!(isfinite(o->eps) && o->eps > 0.0f))
        return nb_set_error(NB_ERR_ARG, "gradcheck: eps must be finite and positive, got %g",
                            (double)o->eps);
    if (!(isfinite(o->atol) && o->atol >= 0.0f && isfinite(o->rtol) && o->rtol >= 0.0f))
        return nb_set_error(NB_ERR_ARG, "gradcheck: atol and rtol must be finite and >= 0, "
                            "got %g and %g", (double)o->atol, (double)o->rtol);
    return NB_OK;
}

nb_status nb_gradcheck(nb_gradcheck_fn f, nb_tensor *const *inputs, int n_inputs, void *ud,
                       const nb_gradcheck_opts *opts, nb_gradcheck_result *res)
{
    nb_gradcheck_opts o = {.eps = 1e-3f, .atol = 1e-3f, .rtol = 1e-2f, .seed = 1234};
    if (opts)
        o = *opts;
    if (res) {
        memset(res, 0, sizeof *res);
        res->worst_input = -1;
    }
    if (!f || !res || (n_inputs > 0 && !inputs) || n_inputs < 0)
        return nb_set_error(NB_ERR_ARG, "gradcheck: f, inputs and res must be given");
    nb_status s = check_opts(&o);
    if (s != NB_OK)
        return s;
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i])
            return nb_set_error(NB_ERR_NULL, "gradcheck: input %d is NULL", i);
        if (!nb_tensor_live(inputs[i]))
            return nb_set_error(NB_ERR_STATE, "gradcheck: input %d belongs to an earlier step",
                                i);
        nb_tensor_zero_grad(inputs[i]);
    }

    state_guard guard = {0};
    nb_state_hook = guard_state;
    nb_state_hook_ud = &guard;
    nb_step_mark mark = nb_step_mark_get();
    nb_tensor *y = f(inputs, ud);
    guard_restore(&guard);
    if (!y) {
        s = null_output();
        goto out;
    }
    if (guard.failed) {
        s = nb_set_error(NB_ERR_NOMEM, "out of memory: gradcheck could not save state inputs");
        goto out;
    }
    /* Reduction weights r in [-1, 1), from the seed. */
    nb_tensor *r = nb_tensor_step(y->ndim, y->shape);
    if (!r) {
        s = NB_ERR_NOMEM;
        goto out;
    }
    for (int64_t i = 0; i < r->size; i++)
        r->data[i] = 2.0f * nb_rng_uniform(o.seed, (uint64_t)i) - 1.0f;
    if ((s = nb_backward_seed(y, r)) != NB_OK)
        goto out;

    bool prev = nb_set_grad_enabled(false);
    double worst_excess = 0.0;
    res->passed = true;
    for (int i = 0; i < n_inputs && s == NB_OK; i++) {
        nb_tensor *x = inputs[i];
        if (!x->requires_grad)
            continue;
        for (int64_t k = 0; k < x->size; k++) {
            float orig = x->data[k];
            float xp = orig + o.eps, xm = orig - o.eps;
            if (xp == orig || xm == orig) {
                s = nb_set_error(NB_ERR_ARG, "gradcheck: eps %g does not change input %d "
                                 "element %lld (value %g); use a larger eps", (double)o.eps, i,
                                 (long long)k, (double)orig);
                break;
            }
            double lp = 0, lm = 0;
            x->data[k] = xp;
            s = eval_loss(f, inputs, ud, r, &guard, &lp);
            x->data[k] = xm;
            if (s == NB_OK)
                s = eval_loss(f, inputs, ud, r, &guard, &lm);
            x->data[k] = orig;
            if (s != NB_OK)
                break;
            if (guard.failed) {
                s = nb_set_error(NB_ERR_NOMEM, "out of memory: gradcheck could not save state "
                                 "inputs");
                break;
            }
            double num = (lp - lm) / ((double)xp - (double)xm);
            double ana = x->grad->data[k];
            double err = fabs(ana - num);
            double mag = fmax(fabs(ana), fabs(num));
            /* A NaN or infinity on either side fails, whatever the tolerance. */
            bool finite = isfinite(ana) && isfinite(num);
            double excess = finite ? err - (o.atol + o.rtol * mag) : INFINITY;
            res->checked++;
            if (finite) {
                res->max_abs_err = fmax(res->max_abs_err, err);
                res->max_rel_err = fmax(res->max_rel_err, err / fmax(mag, 1e-12));
            } else {
                res->max_abs_err = res->max_rel_err = INFINITY;
            }
            if (isfinite(ana))
                res->max_abs_grad = fmax(res->max_abs_grad, fabs(ana));
            if (excess > 0)
                res->passed = false;
            if (res->worst_input < 0 || excess > worst_excess) {
                worst_excess = excess;
                res->worst_input = i;
                res->worst_index = k;
                res->worst_analytic = ana;
                res->worst_numeric = num;
            }
        }
    }
    nb_set_grad_enabled(prev);
    if (s == NB_OK && res->checked == 0)
        s = nb_set_error(NB_ERR_STATE, "gradcheck: no element to check (no input requires "
                         "grad, or those that do are empty)");
out:
    nb_state_hook = NULL;
    nb_state_hook_ud = NULL;
    guard_restore(&guard);
    guard_free(&guard);
    if (s != NB_OK)
        res->passed = false;
    nb_step_rewind(mark);
    return s;
}
