/*
 * tests/ops/loss_common.h - checks shared by the loss suites (bce, bce_logits, mse,
 * cross_entropy): every loss is nb_<loss>(a, b, reduction) and is tested against a
 * reference in double for each reduction, on the same thread-count and argument rules.
 */
#ifndef NABLA_TESTS_LOSS_COMMON_H
#define NABLA_TESTS_LOSS_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "../common.h"

typedef nb_tensor *(*loss_fn)(nb_tensor *a, nb_tensor *b, nb_reduction reduction);

/* A reference: writes the per-term losses to l (a->size elements, or N rows) and
 * returns their mean or sum by r (their sum for NB_REDUCE_NONE). */
typedef double (*loss_ref_fn)(const nb_tensor *a, const nb_tensor *b, nb_reduction r,
                              double *l);

static const nb_reduction loss_reductions[] = {NB_REDUCE_MEAN, NB_REDUCE_SUM,
                                               NB_REDUCE_NONE};

/* The shapes an elementwise loss is checked on: rank 0..4, sizes 1, 3 and 17. */
typedef struct loss_shape {
    int ndim;
    int64_t shape[4];
} loss_shape;

static const loss_shape loss_shapes[] = {
    {0, {0}}, {1, {1}}, {1, {3}}, {1, {17}}, {2, {2, 3}}, {3, {4, 1, 3}}, {4, {2, 1, 3, 2}},
};
#define LOSS_N_SHAPES (sizeof loss_shapes / sizeof loss_shapes[0])

/* For references: the mean (NB_REDUCE_MEAN) or sum of l[0..n), summed in order. */
static inline double loss_ref_reduce(const double *l, int64_t n, nb_reduction r)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += l[i];
    return r == NB_REDUCE_MEAN ? s / (double)n : s;
}

/* An nb_gradcheck_fn: call->f(in[0], in[1], call->r) for ud = a loss_call. */
typedef struct loss_call {
    loss_fn f;
    nb_reduction r;
} loss_call;

static inline nb_tensor *loss_gradcheck_fn(nb_tensor *const *in, void *ud)
{
    const loss_call *call = ud;
    return call->f(in[0], in[1], call->r);
}

/* Asserts f(a, b, r) matches ref for every reduction, within atol + rtol |want|: for
 * NB_REDUCE_NONE an output shaped like `terms` holding the per-term losses, otherwise
 * a scalar holding their mean or sum. */
static inline void assert_loss_forward(loss_fn f, loss_ref_fn ref, nb_tensor *a,
                                       nb_tensor *b, const nb_tensor *terms, double atol,
                                       double rtol, const char *what)
{
    double *l = malloc((size_t)terms->size * sizeof *l);
    cr_assert_not_null(l);
    char msg[96];
    for (int k = 0; k < 3; k++) {
        nb_reduction r = loss_reductions[k];
        nb_tensor *out = f(a, b, r);
        cr_assert_not_null(out, "%s", nb_error());
        double total = ref(a, b, r, l);
        if (r == NB_REDUCE_NONE) {
            cr_assert(nb_tensor_same_shape(out, terms));
            snprintf(msg, sizeof msg, "%s none", what);
            assert_close(out->data, l, terms->size, atol, rtol, msg);
        } else {
            cr_assert_eq(out->ndim, 0);
            snprintf(msg, sizeof msg, "%s reduced", what);
            assert_close(out->data, &total, 1, atol, rtol, msg);
        }
    }
    free(l);
}

/* assert_loss_forward for an elementwise loss on every loss_shapes entry, with a
 * uniform in [a_lo, a_hi) and b in [b_lo, b_hi). */
static inline void assert_loss_forward_shapes(loss_fn f, loss_ref_fn ref, float a_lo,
                                              float a_hi, float b_lo, float b_hi,
                                              double atol, double rtol, const char *what)
{
    for (size_t c = 0; c < LOSS_N_SHAPES; c++) {
        const loss_shape *s = &loss_shapes[c];
        nb_tensor *a = rand_tensor(s->ndim, s->shape, a_lo, a_hi, 1 + c, false);
        nb_tensor *b = rand_tensor(s->ndim, s->shape, b_lo, b_hi, 50 + c, false);
        assert_loss_forward(f, ref, a, b, a, atol, rtol, what);
        nb_tensor_free(a);
        nb_tensor_free(b);
    }
}

/* Gradchecks an elementwise loss on every loss_shapes entry and reduction, with a, b
 * and both requiring grad; a uniform in [a_lo, a_hi), b in [b_lo, b_hi). */
static inline void assert_loss_gradcheck_shapes(loss_fn f, float a_lo, float a_hi,
                                                float b_lo, float b_hi, const char *what)
{
    for (size_t c = 0; c < LOSS_N_SHAPES; c++)
        for (int k = 0; k < 3; k++)
            for (int which = 0; which < 3; which++) { /* a, b, both */
                const loss_shape *s = &loss_shapes[c];
                loss_call call = {f, loss_reductions[k]};
                nb_tensor *in[2] = {
                    rand_tensor(s->ndim, s->shape, a_lo, a_hi, 100 + c, which != 1),
                    rand_tensor(s->ndim, s->shape, b_lo, b_hi, 200 + c, which != 0),
                };
                char msg[96];
                snprintf(msg, sizeof msg, "%s shape %zu reduction %d grad %d", what, c, k,
                         which);
                assert_gradcheck(loss_gradcheck_fn, in, 2, &call, NULL, msg);
                nb_tensor_free(in[0]);
                nb_tensor_free(in[1]);
            }
}

/* The parallel path: f(a, b) for NB_REDUCE_NONE (within atol + rtol |want|) and
 * NB_REDUCE_MEAN (within 1e-6 |want|) against ref, then backward of the mean, leaving
 * the gradients in a->grad and b->grad for the caller to check. */
static inline void assert_loss_large(loss_fn f, loss_ref_fn ref, nb_tensor *a, nb_tensor *b,
                                     const nb_tensor *terms, double atol, double rtol,
                                     const char *what)
{
    double *l = malloc((size_t)terms->size * sizeof *l);
    cr_assert_not_null(l);
    double total = ref(a, b, NB_REDUCE_MEAN, l);
    char msg[96];

    nb_tensor *out = f(a, b, NB_REDUCE_NONE);
    snprintf(msg, sizeof msg, "%s none large", what);
    assert_close(out->data, l, terms->size, atol, rtol, msg);
    out = f(a, b, NB_REDUCE_MEAN);
    snprintf(msg, sizeof msg, "%s mean large", what);
    assert_close(out->data, &total, 1, 0, 1e-6, msg);
    cr_assert_eq(nb_backward(out), NB_OK, "%s", nb_error());
    free(l);
}

/* Asserts f(a, b, r) is the same bits with 1 and 2 threads. */
static inline void assert_loss_same_bits(loss_fn f, nb_tensor *a, nb_tensor *b,
                                         nb_reduction r)
{
    int prev = nb_num_threads();
    float got[2];
    for (int t = 1; t <= 2; t++) {
        nb_set_num_threads(t);
        got[t - 1] = f(a, b, r)->data[0];
    }
    nb_set_num_threads(prev);
    cr_assert_eq(memcmp(&got[0], &got[1], sizeof(float)), 0, "%.9g vs %.9g", got[0], got[1]);
}

/* The argument errors of every loss, for valid inputs a and b: NB_ERR_ARG for the
 * reductions `bad` and -1 ("<name>: invalid reduction <r>"), NB_ERR_NULL for a NULL
 * input 0 or 1 ("<name>: input <i> is NULL"). */
static inline void assert_loss_arg_errors(loss_fn f, const char *name, nb_tensor *a,
                                          nb_tensor *b, int bad)
{
    char msg[96];
    const int reductions[2] = {bad, -1};
    for (int k = 0; k < 2; k++) {
        nb_error_clear();
        snprintf(msg, sizeof msg, "%s: invalid reduction %d", name, reductions[k]);
        assert_error(f(a, b, (nb_reduction)reductions[k]), NB_ERR_ARG, msg);
    }
    nb_error_clear();
    snprintf(msg, sizeof msg, "%s: input 0 is NULL", name);
    assert_error(f(NULL, b, NB_REDUCE_MEAN), NB_ERR_NULL, msg);
    nb_error_clear();
    snprintf(msg, sizeof msg, "%s: input 1 is NULL", name);
    assert_error(f(a, NULL, NB_REDUCE_MEAN), NB_ERR_NULL, msg);
}

#endif /* NABLA_TESTS_LOSS_COMMON_H */
