/*
 * src/gradcheck.c - analytic gradients against central finite differences.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* sum(r * y) in double, in index order. */
static double weighted_sum(const nb_tensor *y, const nb_tensor *r)
{
    double s = 0.0;
    for (int64_t i = 0; i < y->size; i++)
        s += (double)r->data[i] * y->data[i];
    return s;
}

/* Evaluates L = sum(r * f(inputs)) with grad mode off; step memory is given back. */
static nb_status eval_loss(nb_gradcheck_fn f, nb_tensor *const *inputs, void *ud,
                           const nb_tensor *r, double *loss)
{
    nb_step_mark mark = nb_step_mark_get();
    nb_tensor *y = f(inputs, ud);
    nb_status s = NB_OK;
    if (!y)
        s = nb_error_code() != NB_OK ? nb_error_code()
                                     : nb_set_error(NB_ERR_NULL, "gradcheck: f returned NULL");
    else if (!nb_tensor_same_shape(y, r))
        s = nb_set_error(NB_ERR_STATE, "gradcheck: f's output changed shape between calls");
    else
        *loss = weighted_sum(y, r);
    nb_step_rewind(mark);
    return s;
}

nb_status nb_gradcheck(nb_gradcheck_fn f, nb_tensor *const *inputs, int n_inputs, void *ud,
                       const nb_gradcheck_opts *opts, nb_gradcheck_result *res)
{
    nb_gradcheck_opts o = {.eps = 1e-3f, .atol = 1e-3f, .rtol = 1e-2f, .seed = 1234};
    if (opts)
        o = *opts;
    if (!f || !res || (n_inputs > 0 && !inputs) || n_inputs < 0)
        return nb_set_error(NB_ERR_ARG, "gradcheck: f, inputs and res must be given");
    if (!(o.eps > 0.0f))
        return nb_set_error(NB_ERR_ARG, "gradcheck: eps must be positive, got %g", o.eps);
    memset(res, 0, sizeof *res);
    res->worst_input = -1;
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i])
            return nb_set_error(NB_ERR_NULL, "gradcheck: input %d is NULL", i);
        nb_tensor_zero_grad(inputs[i]);
    }

    nb_step_mark mark = nb_step_mark_get();
    nb_status s = NB_OK;
    nb_tensor *y = f(inputs, ud);
    if (!y) {
        s = nb_error_code() != NB_OK ? nb_error_code()
                                     : nb_set_error(NB_ERR_NULL, "gradcheck: f returned NULL");
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
            double lp = 0, lm = 0;
            x->data[k] = xp;
            s = eval_loss(f, inputs, ud, r, &lp);
            x->data[k] = xm;
            if (s == NB_OK)
                s = eval_loss(f, inputs, ud, r, &lm);
            x->data[k] = orig;
            if (s != NB_OK)
                break;
            double num = (lp - lm) / ((double)xp - (double)xm);
            double ana = x->grad->data[k];
            double err = fabs(ana - num);
            double mag = fmax(fabs(ana), fabs(num));
            double excess = err - (o.atol + o.rtol * mag);
            res->checked++;
            res->max_abs_err = fmax(res->max_abs_err, err);
            res->max_rel_err = fmax(res->max_rel_err, err / fmax(mag, 1e-12));
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
        s = nb_set_error(NB_ERR_STATE, "gradcheck: no input requires grad");
out:
    if (s != NB_OK)
        res->passed = false;
    nb_step_rewind(mark);
    return s;
}
